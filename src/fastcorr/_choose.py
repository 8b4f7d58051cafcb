"""choose_method(): what method='auto' computes a call with."""
import math

import numpy as np

from . import _numpy, _signal
from ._engine import methods
from ._engine.dtypes import real_dtype
from ._engine.execute import _real_parts
from ._engine.layout import kernel_stack, stack


def choose_method(in1, in2, mode=None, boundary="fill", fillvalue=0, *, convolve=False,
                  axes=None, workers=None):
    """The method ``method='auto'`` uses for a call with these arguments, as
    :func:`scipy.signal.choose_conv_method`.

    Two-dimensional inputs (or `axes` of two) are read as :func:`correlate2d` (or
    :func:`convolve2d`) reads them, one-dimensional ones as :func:`correlate` (or
    :func:`convolve`).  Nothing is computed beyond the decision: the kernel's rank when a
    separable form could win, and a pass over the image for NaN and Inf when FFT would be the
    fastest (a call meets those in its FFT's results and then computes directly; this function
    answers 'direct' for it).  The first decision of a process that needs the cost model, here
    or in a call, times five small probes of the methods on this machine (4-20 ms) to scale the
    model's measured times to it; ``FASTCORR_AUTO_CALIBRATE=0`` uses them as measured, so that
    the answer does not depend on a timing (see the methods guide).

    Parameters
    ----------
    in1, in2 : array_like
        The image (signal) and the kernel, as the correlation function takes them.
    mode : str, optional
        The correlation's mode; default that of the function (``'full'`` for the 2-D ones
        and convolve, ``'valid'`` for correlate).
    boundary : {'fill', 'wrap', 'symm'}, optional
        The 2-D boundary (ignored in 1-D).
    fillvalue : scalar, optional
        The 2-D fill value.
    convolve : bool, optional
        Ask for the convolution (the kernel turned by 180 degrees) instead of the correlation.
    axes : int or pair of ints, optional
        As the correlation function takes it.
    workers : int, optional
        As the correlation function takes it.

    Returns
    -------
    str
        'direct', 'separable' or 'fft'.  For complex inputs: the method of the real parts'
        correlation (each part's kernel is decided on its own; they almost always agree).

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    >>> g = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    >>> fastcorr.choose_method(image, np.outer(g, g), "same", "symm")
    'separable'
    >>> fastcorr.choose_method(image, np.ones((3, 3)), "same")
    'direct'
    """
    one_d = (np.ndim(in1) == 1) if axes is None else np.ndim(axes) == 0
    if one_d:
        mode = ("full" if convolve else "valid") if mode is None else mode
        plan = _numpy._plan(in1, in2, mode, axes, workers, "auto", convolve)
    else:
        mode = "full" if mode is None else mode
        plan = _signal._plan(in1, in2, mode, boundary, fillvalue, axes, None, workers, "auto",
                             convolve)
    g = plan.geometry
    x, w, fill = plan.x, plan.w, g.fill
    if x is None:  # complex: the real parts
        real = real_dtype(g.dtype)
        core = len(g.core_shape)
        x = stack(_real_parts(plan.image, real)[0], g.batch, core)
        w = kernel_stack(_real_parts(plan.kernel, real)[0], g.batch, core, real)
        fill = fill.real
    shape = (math.prod(g.batch),) + g.core_shape
    method = methods.choose(x, w, shape, plan, fill)[0]
    if method == "fft" and not methods._finite(x):
        # What the call ends up computing with: its FFT meets the NaN or Inf in its results
        # and the call runs directly (see fastcorr._engine.fft, check_finite).
        return "direct"
    return method
