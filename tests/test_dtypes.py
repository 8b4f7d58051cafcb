"""dtypes: the one promotion table, complex data, and what an input may be made of.

fastcorr's table (README; oracle.result_dtype states it independently): float32 stays
float32, float64 float64, complex64 and complex128 stay themselves, float16 is computed in
float32, bool and integers in float64 (the one documented difference from scipy.signal, which
gives integers for integer inputs); two inputs then combine as np.promote_types.  Results are
checked against the oracle and the peer on the inputs cast to the result dtype.
"""
import numpy as np
import pytest

import fastcorr
from faces import CONVOLVE2D, CORRELATE, CORRELATE2D, FACES, FACES_2D, check, dtype_id, \
    random_array
from oracle import result_dtype

# (in1 dtype, in2 dtype, result dtype); the result column is written out, not computed, so a
# change of oracle.result_dtype cannot silently change what is tested.
PROMOTION = [
    (np.float32, np.float32, np.float32),
    (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64),
    (np.float16, np.float16, np.float32),
    (np.float16, np.float32, np.float32),
    (np.float32, np.float16, np.float32),
    (np.float16, np.float64, np.float64),
    (np.int8, np.int8, np.float64),
    (np.uint16, np.uint16, np.float64),
    (np.int64, np.int64, np.float64),
    (np.uint8, np.float32, np.float64),
    (np.float32, np.int32, np.float64),
    (np.int16, np.float16, np.float64),
    (np.int16, np.float32, np.float64),
    (np.uint64, np.float64, np.float64),
    (np.bool_, np.bool_, np.float64),
    (np.bool_, np.float32, np.float64),
    (np.int8, np.bool_, np.float64),
    (np.complex64, np.complex64, np.complex64),
    (np.complex128, np.complex128, np.complex128),
    (np.complex64, np.float32, np.complex64),
    (np.float32, np.complex64, np.complex64),
    (np.float16, np.complex64, np.complex64),
    (np.complex64, np.float64, np.complex128),
    (np.float64, np.complex64, np.complex128),
    (np.complex64, np.complex128, np.complex128),
    (np.complex128, np.float32, np.complex128),
    (np.complex64, np.int8, np.complex128),
    (np.uint16, np.complex64, np.complex128),
    (np.int32, np.complex64, np.complex128),
    (np.bool_, np.complex64, np.complex128),
    (np.int64, np.complex128, np.complex128),
]


def test_table_is_the_documented_rule():
    for dt1, dt2, expected in PROMOTION:
        assert result_dtype(dt1, dt2) == expected, (dt1, dt2)


@pytest.mark.parametrize("face", FACES, ids=repr)
@pytest.mark.parametrize("dt1, dt2, expected", PROMOTION,
                         ids=[f"{dtype_id(a)}+{dtype_id(b)}->{dtype_id(c)}"
                              for a, b, c in PROMOTION])
def test_promotion(face, dt1, dt2, expected):
    """Each pair gives the table's dtype, computed in it (an int64 input of 2**40 in float32
    would miss the float64 bound), in 'valid' and 'full' and whichever input is the larger."""
    rng = np.random.default_rng(21)
    shapes = ((11, 23), (3, 4)) if face.core_ndim == 2 else ((40,), (6,))
    in1 = random_array(rng, shapes[0], dt1)
    in2 = random_array(rng, shapes[1], dt2)
    for mode in ("valid", "full"):
        check(face, in1, in2, expected, mode)
    # The promotion does not depend on which argument is the larger.
    check(face, in2, in1, expected, "valid")


def test_float_inputs_keep_their_precision():
    """No silent up- or down-cast: float32 in, float32 out, float64 in, float64 out (scipy
    computes float32 in float32 too)."""
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        for face in FACES:
            ones = np.ones((4, 4) if face.core_ndim == 2 else (4,), dtype)
            assert face(ones, ones, "full").dtype == dtype


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_array_like_inputs(face):
    """Nested lists and tuples of ints and floats are read as arrays (ints -> float64)."""
    if face.core_ndim == 2:
        image, kernel = [[1, 2, 3, 4], [5, 6, 7, 8]], ((1, -1),)
    else:
        image, kernel = [1, 2, 3, 4, 5], (1, -1)
    result = check(face, image, kernel, np.float64, "valid")
    assert result.dtype == np.float64
    expected = np.full((2, 3), -1.0) if face.core_ndim == 2 else np.full(4, -1.0)
    np.testing.assert_array_equal(result, -expected if face.convolve else expected)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_integers_give_float64_not_the_peers_integers(face):
    """The documented difference from scipy.signal: integer inputs give float64 (computed
    exactly here, as the values are small), where scipy gives the integer type."""
    image = np.arange(12, dtype=np.int32).reshape(3, 4)
    kernel = np.array([[1, 2]], np.int32)
    if face.core_ndim == 1:
        image, kernel = image.ravel(), kernel.ravel()
    result = face(image, kernel, "full")
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, face.peer(image, kernel, "full"))


# ----------------------------------------------------------------------------- complex
def test_conjugation_by_hand():
    """correlate2d and correlate conjugate in2, the convolutions do not; independent of the
    oracle and the peers."""
    image = np.array([[1j, 2.0]])
    kernel = np.array([[1j]])
    np.testing.assert_array_equal(CORRELATE2D(image, kernel, "valid"), [[1, -2j]])
    np.testing.assert_array_equal(CONVOLVE2D(image, kernel, "valid"), [[-1, 2j]])
    # in2 larger: scipy computes correlate(in2, conj(in1)) = [[1j * -1j, 2 * -1j]], rotated by
    # 180 degrees.
    np.testing.assert_array_equal(CORRELATE2D(kernel, image, "valid"), [[-2j, 1]])
    np.testing.assert_array_equal(fastcorr.correlate([1j, 1.0], [1j]), [1, -1j])
    np.testing.assert_array_equal(fastcorr.convolve([1j, 1.0], [1j]), [-1, 1j])
    # numpy's definition, to pin what "conjugates in2" means.
    assert np.correlate([1j, 2.0], [1j])[0] == 1


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_complex_swap_and_mixed_real(face, dtype):
    """The longer input second (conjugation stays on in2 / v, scipy's rotation applies), and
    each side real in turn: the two-product paths."""
    rng = np.random.default_rng(201)
    real = np.float32 if dtype == np.complex64 else np.float64
    shapes = ((3, 5), (9, 12)) if face.core_ndim == 2 else ((7,), (30,))
    for small_dt, big_dt in ((dtype, dtype), (real, dtype), (dtype, real)):
        small = random_array(rng, shapes[0], small_dt)
        big = random_array(rng, shapes[1], big_dt)
        for mode in ("valid", "same", "full"):
            check(face, small, big, dtype, mode)
            check(face, big, small, dtype, mode)


def test_bool_and_int_signals():
    check(CORRELATE, [True, False, True], [1, 2], np.float64, "valid")
    check(CORRELATE2D, np.eye(4, dtype=bool), np.array([[1, 2], [3, 4]], np.uint8),
          np.float64, "same", "wrap")


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_float16_is_computed_in_float32(face):
    """float16 inputs give float32 results within the float32 bound of the inputs' values."""
    rng = np.random.default_rng(22)
    image = random_array(rng, (15, 20), np.float16)
    kernel = random_array(rng, (3, 3), np.float16)
    check(face, image, kernel, np.float32, "same", "symm")
