"""pytest plugin for tests/test_ndimage_suite.py: scipy.ndimage's own tests of the linear
filters (scipy/ndimage/tests/test_filters.py), run with scipy's functions replaced by
fastcorr.ndimage's.

Loaded (``-p ndimage_suite_plugin``) into a child pytest that collects scipy's module itself, so
scipy's conftest (its ``xp`` fixture, markers) works as in scipy's runs.  After collection it
rebinds the module's ``ndimage`` (the tests call ``ndimage.correlate`` and so on through it) to
a namespace that is scipy.ndimage with fastcorr's filters in place of scipy's, and deselects
the tests that call none of them (median, rank, generic filters...).  Every call is counted, so
the parent can tell that fastcorr really ran.

The differences fastcorr documents fail a few tests; each is marked xfail (strict) in XFAIL
with its reason, and nothing else may fail.  FASTCORR_NDIMAGE_SUITE_REPORT names a JSON file
the plugin writes the call counts and the marked tests to.
"""
import collections
import re
import sys
import types

import pytest

import peer_suite
from fastcorr import ndimage as ours

MODULE = "scipy.ndimage.tests.test_filters"
NAMES = tuple(ours.__all__)
FLOAT32 = ("float32 data is computed in float32 (scipy: float64, rounded once); documented, "
           "with its error bound, in fastcorr.ndimage")
# (class, test) -> (the parameter ids that fail, None for all; reason).  Only these may fail.
# Matched by name and parameter rather than by full test id, which scipy's releases spell
# differently (1.17 adds an array-backend id, 1.15 has none).
XFAIL = {
    # The sum of 10^4 outputs near 5000 against the input's, to +-1.5: the float32 weights'
    # rounding scales every output by about 1e-7, 5 in the sum.
    ("TestNdimageFilters", "test_gauss03"): (None, FLOAT32),
    # uniform_filter(size=5) against its two uniform_filter1d passes, bit for bit: 3- and
    # 5-tap separable filters of 2-D float images run as one correlation with the outer
    # product where that is faster (equal to the passes within rounding, not bit for bit).
    (None, "test_multiple_modes_sequentially"): (
        None, "3- and 5-tap separable filters run as one 2-D correlation where faster; "
              "documented, with its error bound, in fastcorr.ndimage"),
}


def _key(item):
    return item.cls.__name__ if item.cls else None, item.originalname


CALLS = collections.Counter()
MARKED = []
_CALLED = re.compile(r"ndimage\.(%s)\(" % "|".join(NAMES))


def _replacement(name):
    function = getattr(ours, name)

    def call(*args, **kwargs):
        CALLS[name] += 1
        return function(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = function
    return call


class _Ndimage(types.ModuleType):
    """scipy.ndimage with fastcorr's filters swapped in."""

    def __getattr__(self, attr):
        import scipy.ndimage

        return getattr(scipy.ndimage, attr)


def pytest_collection_modifyitems(config, items):
    module = sys.modules.get(MODULE)
    if module is None:
        raise pytest.UsageError(f"{MODULE} was not collected")
    if not isinstance(module.ndimage, _Ndimage):
        namespace = _Ndimage("scipy.ndimage")
        for name in NAMES:
            setattr(namespace, name, _replacement(name))
        module.ndimage = namespace
    peer_suite.select(config, items, lambda item: peer_suite.source_calls(item, _CALLED), XFAIL,
                      _key, MARKED, "scipy")


def pytest_sessionfinish(session, exitstatus):
    peer_suite.write_report("FASTCORR_NDIMAGE_SUITE_REPORT", CALLS, MARKED)
