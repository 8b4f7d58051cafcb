"""scipy's own tests as a peer's judgement: scipy.signal's test classes for correlate2d and
convolve2d (TestConvolve2d, TestCorrelate2d in scipy/signal/tests/test_signaltools.py), run
against fastcorr.

Why a child pytest: scipy's tests take an ``xp`` fixture (the array-API backend) and markers
from scipy's own conftest.py, which is only active when pytest collects scipy's module itself;
importing the classes here would lose it.  So the module is run with
``pytest --pyargs scipy.signal.tests.test_signaltools::<class>`` in a subprocess (with
SCIPY_ARRAY_API unset, only the NumPy backend applies, which is fastcorr's), and
tests/scipy_suite_plugin.py swaps scipy's functions for fastcorr's inside that module.

Twice: as fastcorr is, where only the documented difference may fail (integer inputs give
float64), each such test xfail with that reason, strict; and with the results cast to scipy's
integer dtype, where every test must pass.  scipy's slow test_large_array (4 GB of int64, an
index-overflow check fastcorr's own test_robustness.py makes at 2**31 elements) is left out.
"""
import json

import pytest

import peer_suite

MODULE = "scipy.signal.tests.test_signaltools"
CLASSES = ("TestConvolve2d", "TestCorrelate2d")

try:
    import importlib.util

    HAVE_SCIPY_TESTS = importlib.util.find_spec(MODULE) is not None
except ImportError:  # scipy itself is missing
    HAVE_SCIPY_TESTS = False

pytestmark = pytest.mark.skipif(not HAVE_SCIPY_TESTS,
                                reason=f"scipy's tests ({MODULE}) are not installed")


@pytest.mark.parametrize("variant", ["plain", "scipy-dtypes"])
def test_scipy_suite(variant, tmp_path):
    report = tmp_path / "calls.json"
    outcomes, output = peer_suite.run(
        [f"{MODULE}::{cls}" for cls in CLASSES], "scipy_suite_plugin",
        {"FASTCORR_SCIPY_SUITE": variant, "FASTCORR_SCIPY_SUITE_REPORT": str(report)},
        tmp_path, timeout=600)
    for cls in CLASSES:
        ran = [k for k in outcomes if f".{cls}::" in k]
        # scipy 1.15 has 3 tests in TestCorrelate2d, 1.17 more.
        assert len(ran) >= 3, f"{cls}: only {len(ran)} tests ran\n{output}"
    assert not [k for k, v in outcomes.items() if v in ("failure", "error")], output
    reported = json.loads(report.read_text())
    # Exactly the tests marked (those comparing dtypes, in the plain variant) failed, each for
    # the documented difference (strict xfail); the scipy-dtypes variant marks none.
    xfailed = sorted(k.rsplit(".", 1)[-1].split("[")[0] for k, v in outcomes.items()
                     if v == "xfailed")
    assert xfailed == sorted(reported["xfail_marked"]), f"xfailed: {xfailed}\n{output}"
    assert variant == "plain" or not xfailed
    # fastcorr really ran in place of scipy.
    calls = reported["calls"]
    assert calls.get("correlate2d", 0) > 0 and calls.get("convolve2d", 0) > 0, calls
