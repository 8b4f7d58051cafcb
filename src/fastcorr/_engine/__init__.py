"""The engine every face of fastcorr shares (private).

A face (``fastcorr._signal`` for scipy.signal, ``fastcorr._numpy`` for numpy, and the faces to
come) speaks its peer's conventions: names, defaults, which input is the image, how a mode
places the result.  It turns a call into a `plan.Plan` with the checks of `checks`, the
promotion table of `dtypes`, the boundary rules of `boundary` and the thread count of
`threads`; `execute.run` computes a plan on the compiled core.  Nothing here knows which face
called it.
"""
