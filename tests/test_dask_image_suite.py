"""dask-image's own tests as the peer's judgement: its tests of the linear filters
(tests/test_dask_image/test_ndfilters/ in dask-image's source distribution: convolve,
correlate, gaussian_filter, uniform_filter, sobel, prewitt, laplace, gaussian_laplace and
gaussian_gradient_magnitude against scipy.ndimage on dask arrays), run against fastcorr.dask.

dask-image's wheel does not ship its tests: FASTCORR_DASK_IMAGE_TESTS names the directory of
its sdist's test_ndfilters (.ci/run downloads the sdist of the installed version); without it
this module skips.  tests/dask_image_suite_plugin.py swaps fastcorr's functions in; only the
tests listed there with a documented difference may fail (strict xfail), every other must
pass.
"""
import os

import pytest

import peer_suite

SUITE = os.environ.get("FASTCORR_DASK_IMAGE_TESTS")

pytestmark = pytest.mark.skipif(
    not SUITE or not os.path.isdir(SUITE),
    reason="dask-image's tests are not here (FASTCORR_DASK_IMAGE_TESTS names their directory "
           "of its sdist; .ci/run sets it)")


def test_dask_image_suite(tmp_path):
    pytest.importorskip("dask_image.ndfilters")
    report = tmp_path / "calls.json"
    # -c: not dask-image's pytest settings (they need flake8); its tests need no conftest.
    outcomes, output = peer_suite.run(
        [SUITE], "dask_image_suite_plugin", {"FASTCORR_DASK_IMAGE_SUITE_REPORT": str(report)},
        tmp_path, timeout=900, options=("-c", os.devnull, "--rootdir", SUITE))
    peer_suite.check_outcomes(outcomes, output, report, "dask-image", 200, "fastcorr.dask",
                              ("convolve", "correlate", "gaussian_filter", "uniform_filter",
                               "sobel", "prewitt", "laplace", "gaussian_laplace",
                               "gaussian_gradient_magnitude"))
