"""scipy's own tests as the peer's judgement: scipy.ndimage's test_filters.py, run against
fastcorr.ndimage (the tests that call correlate, convolve, correlate1d, convolve1d, the
Gaussian, uniform, Sobel, Prewitt and Laplace filters, the Gaussian Laplace and gradient
magnitude and their generic forms; the rest are deselected).

A child pytest collects scipy's module itself (scipy's conftest supplies its ``xp`` fixture
and markers; with SCIPY_ARRAY_API unset only the NumPy backend runs), and
tests/ndimage_suite_plugin.py swaps fastcorr's functions in.  Only the tests listed there with
a documented difference may fail (strict xfail); every other must pass.
"""

import pytest

import peer_suite

MODULE = "scipy.ndimage.tests.test_filters"

try:
    import importlib.util

    HAVE_SCIPY_TESTS = importlib.util.find_spec(MODULE) is not None
except ImportError:
    HAVE_SCIPY_TESTS = False

pytestmark = pytest.mark.skipif(not HAVE_SCIPY_TESTS,
                                reason=f"scipy's tests ({MODULE}) are not installed")


def test_ndimage_suite(tmp_path):
    report = tmp_path / "calls.json"
    outcomes, output = peer_suite.run([MODULE], "ndimage_suite_plugin",
                                      {"FASTCORR_NDIMAGE_SUITE_REPORT": str(report)}, tmp_path,
                                      timeout=900)
    peer_suite.check_outcomes(outcomes, output, report, "scipy", 500, "fastcorr.ndimage",
                              ("correlate", "convolve", "correlate1d", "gaussian_filter",
                               "uniform_filter", "sobel", "prewitt", "laplace",
                               "gaussian_laplace", "gaussian_gradient_magnitude",
                               "generic_laplace", "generic_gradient_magnitude"))
