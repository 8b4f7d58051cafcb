"""The scipy.signal face: correlate2d and convolve2d with scipy.signal's names, defaults,
modes, boundaries and errors, on the engine.

What is scipy's here: which input is the image (in1, except in 'valid' mode where the larger
one is), how 'same' centres the result (differently for correlation and convolution when the
kernel has an even side), the boundary names, and the rotation of a swapped 'valid'
correlation.  Everything else is the engine's (`_engine.plan`, `_engine.execute`).
"""
import functools

import numpy as np

from ._engine.checks import check_choice, check_fillvalue
from ._engine.dtypes import result_dtype
from ._engine.execute import run
from ._engine.methods import check_method
from ._engine.plan import bind, geometry, operands, recall, remember

_MODES = ("full", "valid", "same")
# scipy.signal's boundary names, each mapped to the engine's rule (see _engine.boundary).
_BOUNDARIES = {"fill": "fill", "wrap": "wrap", "circular": "wrap", "symm": "symm",
               "symmetric": "symm"}
_BOUNDARY_NAMES = tuple(_BOUNDARIES)
_NAMES, _SWAPPED_NAMES = ("in1", "in2"), ("in2", "in1")


def _plan(in1, in2, mode, boundary, fillvalue, axes, out, workers, method, convolve):
    """The plan of correlate2d (convolve=False) or convolve2d (True)."""
    if method != "auto":
        check_method(method)
    key = None
    if axes is None and type(in1) is np.ndarray and type(in2) is np.ndarray and \
            in1.ndim == in2.ndim == 2:
        # Everything the geometry depends on; a call that repeats one seen before skips the
        # checks below, which that call passed.
        key = (convolve, mode, boundary, fillvalue, in1.shape, in2.shape, in1.dtype,
               in2.dtype)
        known = recall(key)
        if known is not None:
            swapped, known_geometry = known
            return bind(known_geometry, *_oriented(in1, in2, swapped, convolve), out, workers,
                        method)
    if type(mode) is not str or mode not in _MODES:
        check_choice(mode, _MODES, "mode", ValueError)
    rule = _BOUNDARIES.get(boundary) if type(boundary) is str else None
    if rule is None:
        check_choice(boundary, _BOUNDARY_NAMES, "boundary", ValueError)
    a1, a2, axes = operands(in1, in2, _NAMES, 2, axes)
    dtype = result_dtype(a1, a2, _NAMES)
    fill = check_fillvalue(fillvalue, dtype)
    swapped, starts, shape = _geometry(mode, convolve, a1.shape[-2:], a2.shape[-2:])
    image, kernel = _oriented(a1, a2, swapped, convolve)
    # Convolution is commutative; correlation with the inputs swapped is the correlation
    # rotated by 180 degrees, conjugation staying on the second argument.
    g = geometry(image.shape, kernel.shape, dtype, starts, shape, (rule, rule), fill,
                 swapped and not convolve, axes, _SWAPPED_NAMES if swapped else _NAMES)
    if key is not None:
        remember(key, (swapped, g))
    return bind(g, image, kernel, out, workers, method)


def _oriented(a1, a2, swapped, convolve):
    """(image, kernel): the image is in2 when `swapped`; the kernel is flipped for a
    convolution and conjugated for a complex correlation."""
    image, small = (a2, a1) if swapped else (a1, a2)
    if convolve:
        return image, small[..., ::-1, ::-1]
    return image, np.conj(small) if small.dtype.kind == "c" else small


@functools.lru_cache(maxsize=256)
def _geometry(mode, convolve, shape1, shape2):
    """(swapped, starts, shape): whether in2 is the image (scipy's 'valid' rule: either input
    may be the larger, in every dimension), where the first output's window starts in the
    image, and the result's shape.  Cached: repeated calls share one geometry."""
    (m, n), (p, q) = shape1, shape2
    if mode == "valid":
        if m >= p and n >= q:
            return False, (0, 0), (m - p + 1, n - q + 1)
        if p >= m and q >= n:
            return True, (0, 0), (p - m + 1, q - n + 1)
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every dimension "
            f"(in1 has shape {shape1}, in2 has shape {shape2})")
    if mode == "full":
        return False, (1 - p, 1 - q), (m + p - 1, n + q - 1)
    # 'same' crops the full result to in1's shape, starting at ((P-1)//2, (Q-1)//2) for
    # convolution and (P//2, Q//2) for correlation: scipy's centring, which differs between
    # the two for even kernels.
    if convolve:
        return False, ((p - 1) // 2 + 1 - p, (q - 1) // 2 + 1 - q), (m, n)
    return False, (p // 2 + 1 - p, q // 2 + 1 - q), (m, n)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, axes=None, out=None,
                workers=None, method="auto"):
    """Cross-correlate two 2-D arrays, as :func:`scipy.signal.correlate2d`.

    ``out[i, j] = sum_{a, b} in1[i + a, j + b] * conj(in2[a, b])`` with the modes, boundaries
    and complex semantics of :func:`scipy.signal.correlate2d`.  Computed directly (no FFT) by
    SIMD kernels for this CPU, on several threads.

    Parameters
    ----------
    in1 : array_like
        First input: the image, 2-D (or a stack of images, with `axes`).
    in2 : array_like
        Second input: the kernel, 2-D (or a stack of them, with `axes`), conjugated if complex.
        In 'valid' mode either input may be the larger one, but one must be at least as large
        as the other in every dimension; if `in2` is the larger, the result is scipy's: the
        correlation of `in2` with ``conj(in1)``, rotated by 180 degrees.  In 'full' and 'same'
        modes `in2` may be larger than `in1` in any dimension.
    mode : {'full', 'valid', 'same'}, optional
        'full' (default, as scipy): every overlap, shape ``(M + P - 1, N + Q - 1)``.  'valid':
        only where `in2` lies inside `in1`, shape ``(M - P + 1, N - Q + 1)``.  'same': shape
        ``(M, N)``, the full result cropped starting at ``(P // 2, Q // 2)``, as scipy centres
        it.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How `in1` is extended outside its edges in 'full' and 'same' modes: 'fill' with
        `fillvalue`, 'wrap' periodically ('circular' is accepted too), 'symm' by mirroring with
        the edge sample repeated ('symmetric' too).  Ignored (but checked) in 'valid' mode.
    fillvalue : scalar, optional
        The value outside `in1` for ``boundary='fill'``; default 0.  It may be complex when the
        result is complex.
    axes : pair of ints, optional
        The two axes of `in1` that hold the images (fastcorr's extension; scipy takes 2-D
        arrays only).  Without `axes` both inputs must be 2-D, as in scipy, and anything else
        raises ValueError: an (H, W, 3) colour image is not silently read as H images of
        W x 3 pixels.  With `axes`, every other axis of `in1` is a batch: `in2` is either
        2-D (one kernel for every image) or has as many dimensions as `in1` (as in
        :func:`scipy.signal.fftconvolve`: `axes` name its image axes too, and its other axes
        broadcast against `in1`'s the NumPy way, so each image can have its own kernel).  So
        ``correlate2d(rgb, k, axes=(0, 1))`` filters each channel of an (H, W, 3) image and
        ``correlate2d(stack, k, axes=(-2, -1))`` each image of an (N, H, W) stack.  The result
        keeps the input's axis order.
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into.  It may overlap
        the inputs (the result is then computed into a temporary first).
    workers : int, optional
        Threads to use.  None (default) uses OpenMP's current setting, so ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits`` apply; -1 means all CPUs, -2 all but one, and so on.
        Small problems run on one thread whatever the setting.
    method : {'auto', 'direct', 'separable', 'fft'}, optional
        How the result is computed; every method gives the same correlation (modes,
        boundaries, complex values) within its error bound (see Notes).  'direct' sums the
        ``P * Q`` products of each window.  'separable' factors the kernel by its SVD into r
        rank-1 terms (r its numerical rank) and runs each as a pass down the columns and a
        pass along the rows, fused per cache block: ``r * (P + Q)`` multiply-adds per output
        instead of ``P * Q``.  'fft' correlates tiles of the image by FFT (overlap-save;
        scipy.fft when scipy is installed, numpy.fft otherwise), a cost per output that
        grows only with the logarithm of the tile.  'auto' (default) picks the fastest by a
        cost model measured per SIMD path and dtype, among the methods whose error bound is
        at most 16 times direct's, and never 'fft' when an input holds NaN or Inf (an FFT
        spreads them over the whole result; direct keeps them in the windows that read
        them); problems under about 4 million multiply-adds run directly without looking
        further.  :func:`fastcorr.choose_method` says what 'auto' picks.

    Returns
    -------
    ndarray
        The correlation.  float32 inputs give float32 (computed in float32), float64 or mixed
        float32/float64 give float64, bool and integers float64, float16 float32; complex64
        with float32 (or float16) gives complex64, complex with anything wider complex128.

    Raises
    ------
    TypeError
        `out` is not an ndarray or has the wrong dtype; `workers` is not an int.
    ValueError
        As scipy.signal raises it: an input is not a numeric array, has an object, string or
        extended-precision dtype, is not 2-D (without `axes`) or is empty; the batch
        dimensions do not broadcast; in 'valid' mode neither input is at least as large as
        the other in both image dimensions; `mode` or `boundary` is not one of the names
        above; `fillvalue` is not a number, has more than one element, or is complex for a
        real result; `axes` are malformed, out of range or repeated; `out` has the wrong
        shape or is read-only; `workers` is 0; `method` is not one of the names above, or
        is 'separable' for a kernel holding NaN or Inf (it has no SVD).

    See Also
    --------
    convolve2d : the same with `in2` rotated by 180 degrees and not conjugated.
    correlate : 1-D correlation.
    scipy.signal.correlate2d : the reference semantics.

    Notes
    -----
    'direct': each output is a sum of ``P * Q`` products accumulated in the result's
    precision, so its rounding error is bounded by about ``P * Q * eps * sum |in1 * in2|``
    over the window.  NaN and Inf propagate as in the plain sum: no zero tap is skipped.

    'separable': with the singular values s of the kernel, the terms kept are those above
    ``s[0] * max(P, Q) * eps`` (the rule of numpy.linalg.matrix_rank: below it they are at
    the level of the kernel's own rounding).  The error is at most ``sqrt(P * Q) * t * X +
    (P + Q + r + 2) * eps * sum_k |c_k|_1 |r_k|_1 * X``, with t the 2-norm of the dropped
    singular values, c_k and r_k the factors and X the largest magnitude in the window: for
    a kernel with non-negative factors (Gaussian, box) no more than direct's.

    'fft': the error is relative to the norms of the kernel and of the image tile, not to
    each output: about ``eps * log2(L) * |in2|_2 * |tile|_2`` for tiles of L samples, so an
    output much smaller than its neighbours (a dark region next to a bright one) has a
    larger relative error than the direct sum gives it.

    The border of a 'full' or 'same' result (a frame at most ``P - 1`` rows and ``Q - 1``
    columns wide) is computed from blocks of extended rows of `in1` that each thread builds in
    a small buffer, never from a padded copy of a large image, in the same parallel loop as the
    interior, so these modes run at about the speed of 'valid'; small images (stacks of them)
    are extended whole, one at a time, the same way.  Complex inputs are computed
    as four real correlations of the real and imaginary parts (two if one input is real).

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> kernel = np.array([[1, 0], [0, -1]], dtype=np.float32)
    >>> fastcorr.correlate2d(image, kernel, mode="valid")
    array([[-5., -5., -5.],
           [-5., -5., -5.],
           [-5., -5., -5.]], dtype=float32)
    >>> fastcorr.correlate2d(image, kernel, mode="same", boundary="wrap")
    array([[-5., -5., -5., -1.],
           [-5., -5., -5., -1.],
           [-5., -5., -5., -1.],
           [11., 11., 11., 15.]], dtype=float32)
    >>> fastcorr.correlate2d([[1, 2, 3]], [[1j, 1]], mode="full")
    array([[1.+0.j, 2.-1.j, 3.-2.j, 0.-3.j]])
    >>> stack = np.ones((10, 4, 4), dtype=np.float32)   # ten 4x4 images
    >>> fastcorr.correlate2d(stack, kernel, mode="same", axes=(-2, -1)).shape
    (10, 4, 4)
    """
    return run(_plan(in1, in2, mode, boundary, fillvalue, axes, out, workers, method,
                     convolve=False))


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, axes=None, out=None,
               workers=None, method="auto"):
    """Convolve two 2-D arrays, as :func:`scipy.signal.convolve2d`.

    ``out[i, j] = sum_{a, b} in1[i - a, j - b] * in2[a, b]`` (indices relative to the mode's
    origin) with the modes, boundaries and complex semantics of
    :func:`scipy.signal.convolve2d`: correlation with `in2` rotated by 180 degrees (and not
    conjugated).  Convolution is commutative, so in 'valid' mode the smaller input is the
    kernel whichever argument it is; the larger one is never copied to be flipped.

    Parameters
    ----------
    in1 : array_like
        First input, 2-D (or a stack, with `axes`).
    in2 : array_like
        Second input, 2-D (or a stack, with `axes`).  Either input may be the larger in 'valid'
        mode, but one must be at least as large as the other in every dimension; 'full' and
        'same' accept any shapes.
    mode : {'full', 'valid', 'same'}, optional
        As in `correlate2d` (default 'full', as scipy), except that 'same' crops the
        full result starting at ``((P - 1) // 2, (Q - 1) // 2)``, scipy's centring for
        convolution.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How `in1` is extended in 'full' and 'same' modes (see `correlate2d`).
    fillvalue : scalar, optional
        The value outside `in1` for ``boundary='fill'``; default 0.
    axes : pair of ints, optional
        The two axes of `in1` that hold the images; without them both inputs must be 2-D
        (see `correlate2d`).
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into; may overlap the
        inputs.
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs (see `correlate2d`).
    method : {'auto', 'direct', 'separable', 'fft'}, optional
        How the result is computed (see `correlate2d`); the kernel factored or transformed
        is `in2` rotated by 180 degrees.

    Returns
    -------
    ndarray
        The convolution, dtype as in `correlate2d`.

    Raises
    ------
    TypeError, ValueError
        As `correlate2d`.

    See Also
    --------
    correlate2d : the same without rotating the kernel.
    convolve : 1-D convolution.
    scipy.signal.convolve2d : the reference semantics.

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float64).reshape(4, 4)
    >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> fastcorr.convolve2d(image, kernel, mode="valid")
    array([[5., 5., 5.],
           [5., 5., 5.],
           [5., 5., 5.]])
    >>> fastcorr.convolve2d(image, kernel, mode="full")[:2]
    array([[ 0.,  1.,  2.,  3.,  0.],
           [ 4.,  5.,  5.,  5., -3.]])
    """
    return run(_plan(in1, in2, mode, boundary, fillvalue, axes, out, workers, method,
                     convolve=True))
