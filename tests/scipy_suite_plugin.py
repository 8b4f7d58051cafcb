"""pytest plugin for tests/test_scipy_suite.py: scipy.signal's own tests of correlate2d and
convolve2d, run with scipy's functions replaced by fastcorr's.

It is loaded (``-p scipy_suite_plugin``) into a child pytest that collects scipy's test module
itself, so scipy's conftest (its ``xp`` array-API fixture, its markers) works as in scipy's own
runs.  After collection it rebinds, in that module only, the globals ``correlate2d`` and
``convolve2d`` and the ``signal`` the tests call ``signal.correlate2d`` through (a namespace
that is scipy.signal with those two names swapped); the ``func`` parameters that captured
scipy's functions at import are swapped just before each call.  Every call is counted, so the
parent can tell that fastcorr really ran.

FASTCORR_SCIPY_SUITE selects the variant:

- ``plain``: fastcorr's functions as they are.  The documented difference (integer inputs give
  float64, where scipy gives the integer type) fails the tests that compare dtypes; those are
  marked xfail, strict, with that reason, and nothing else may fail.  Only the tests that do
  compare dtypes in the installed scipy are marked (its array-API assertions, ``xp_assert_*``;
  older scipy releases compared values only, and there the same tests pass).
- ``scipy-dtypes``: fastcorr's result cast to scipy's integer dtype where both inputs are
  integers (after checking it holds integers).  Every test must then pass: the dtype is the
  only difference in the xfailed ones.

FASTCORR_SCIPY_SUITE_REPORT names a JSON file the plugin writes the call counts to.
"""
import collections
import json
import os
import sys
import types

import numpy as np
import pytest

import fastcorr

MODULE = "scipy.signal.tests.test_signaltools"
CLASSES = ("TestConvolve2d", "TestCorrelate2d")
NAMES = ("correlate2d", "convolve2d")
VARIANT = os.environ.get("FASTCORR_SCIPY_SUITE", "plain")
INTEGERS = "integer inputs give float64 in fastcorr (scipy: the integer type); documented"
# The tests whose only failure is the documented difference, in the plain variant.
XFAIL = {
    "TestConvolve2d::test_2d_arrays": INTEGERS,
    "TestConvolve2d::test_valid_mode": INTEGERS,
    "TestConvolve2d::test_fillvalue": INTEGERS,
    "TestConvolve2d::test_wrap_boundary": INTEGERS,
    "TestConvolve2d::test_sym_boundary": INTEGERS,
    "TestConvolve2d::test_same_mode": INTEGERS,
    "TestConvolve2d::test_valid_mode2": INTEGERS,
}

CALLS = collections.Counter()
MARKED = []  # the tests marked xfail in this run
_ORIGINALS = {}


def _scipy_dtype(result, in1, in2):
    """`result` in the integer dtype scipy gives for integer inputs, if it holds integers."""
    dtype = np.result_type(np.asarray(in1), np.asarray(in2))
    if dtype.kind not in "iu":
        return result
    assert np.array_equal(result, np.rint(result)), "an integer-input result is not integral"
    return result.astype(dtype)


def _replacement(name):
    ours = getattr(fastcorr, name)

    def call(in1, in2, *args, **kwargs):
        CALLS[name] += 1
        result = ours(in1, in2, *args, **kwargs)
        return _scipy_dtype(result, in1, in2) if VARIANT == "scipy-dtypes" else result

    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = ours
    return call


REPLACEMENTS = {name: _replacement(name) for name in NAMES}


class _Signal(types.ModuleType):
    """scipy.signal with correlate2d and convolve2d replaced."""

    def __getattr__(self, attr):
        import scipy.signal

        return getattr(scipy.signal, attr)


def _compares_dtypes(function):
    """True if scipy's test compares result dtypes: its array-API assertions do, numpy's
    assert_equal/assert_array_almost_equal (scipy before 1.15) do not."""
    import inspect

    return "xp_assert_" in inspect.getsource(function)


def pytest_collection_modifyitems(config, items):
    if VARIANT not in ("plain", "scipy-dtypes"):
        raise pytest.UsageError(f"FASTCORR_SCIPY_SUITE={VARIANT!r}: 'plain' or 'scipy-dtypes'")
    module = sys.modules.get(MODULE)
    if module is None:
        raise pytest.UsageError(f"{MODULE} was not collected")
    missing = [n for n in NAMES + ("signal",) + CLASSES if not hasattr(module, n)]
    if missing:
        raise pytest.UsageError(f"{MODULE} has no {', '.join(missing)}: scipy changed its "
                                "tests; update tests/scipy_suite_plugin.py")
    if not _ORIGINALS:
        for name in NAMES:
            _ORIGINALS[name] = getattr(module, name)
            setattr(module, name, REPLACEMENTS[name])
        signal = _Signal("scipy.signal")
        for name in NAMES:
            setattr(signal, name, REPLACEMENTS[name])
        module.signal = signal
    seen = set()
    for item in items:
        key = f"{item.cls.__name__}::{item.originalname}" if item.cls else item.name
        seen.add(key)
        if VARIANT == "plain" and key in XFAIL and _compares_dtypes(item.function):
            item.add_marker(pytest.mark.xfail(reason=XFAIL[key], strict=True,
                                              raises=AssertionError))
            MARKED.append(key)
    unknown = set(XFAIL) - seen
    if unknown:
        raise pytest.UsageError(f"xfail entries for tests scipy no longer has: {unknown}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    # Parameters that captured scipy's functions when the module was imported.
    for key, value in pyfuncitem.funcargs.items():
        for name, original in _ORIGINALS.items():
            if value is original:
                pyfuncitem.funcargs[key] = REPLACEMENTS[name]


def pytest_sessionfinish(session, exitstatus):
    report = os.environ.get("FASTCORR_SCIPY_SUITE_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({"variant": VARIANT, "calls": dict(CALLS), "xfail_marked": MARKED}, f)
