"""pytest plugin for tests/test_dask_image_suite.py: dask-image's own tests of its linear filters
(tests/test_dask_image/test_ndfilters/ of its source distribution), run with dask-image's
functions replaced by fastcorr.dask's.

dask-image's tests take the functions into their parametrisations when their modules are
imported, so the plugin puts fastcorr.dask's in ``dask_image.ndfilters`` as it is loaded, before
collection.  After collection it keeps the tests that call one of them (a parameter, or a
direct call in the test's source) and deselects the others (median, rank, generic, threshold
filters: dask-image's own code).  Every call is counted, so the parent can tell that fastcorr
really ran.

fastcorr.dask raises fastcorr.ndimage's (scipy.ndimage's) exception classes where dask-image
raises its own: the tests that check those fail, each marked xfail (strict) in XFAIL with its
reason, and nothing else may fail.  FASTCORR_DASK_IMAGE_SUITE_REPORT names a JSON file the
plugin writes the call counts and the marked tests to.
"""
import collections
import re

import dask_image.ndfilters
import peer_suite
from fastcorr import dask as ours

# dask-image's names for fastcorr.dask's functions (``gaussian`` is its alias of
# gaussian_filter).
NAMES = {"convolve": "convolve", "correlate": "correlate", "gaussian_filter": "gaussian_filter",
         "gaussian": "gaussian_filter", "uniform_filter": "uniform_filter", "sobel": "sobel",
         "prewitt": "prewitt", "laplace": "laplace", "gaussian_laplace": "gaussian_laplace",
         "gaussian_gradient_magnitude": "gaussian_gradient_magnitude"}
CLASSES = ("fastcorr.dask raises what fastcorr.ndimage and scipy.ndimage raise (RuntimeError "
           "for weights of the wrong rank or an empty axis, TypeError for a float axis) where "
           "dask-image raises ValueError; documented in the README")
# (module, test) -> (parameter ids that fail, None for all; reason).  Only these may fail.
XFAIL = {
    ("test__conv", "test_convolutions_params"): (("ValueError-weights0", "ValueError-weights1"),
                                                 CLASSES),
    ("test__edge", "test_edge_func_params"): (("ValueError-0.0",), CLASSES),
}

CALLS = collections.Counter()
MARKED = []
_CALLED = re.compile(r"ndfilters\.(%s)\(" % "|".join(NAMES))


def _replacement(name):
    function = getattr(ours, NAMES[name])

    def call(*args, **kwargs):
        CALLS[NAMES[name]] += 1
        return function(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = function
    return call


REPLACEMENTS = {name: _replacement(name) for name in NAMES}
for _name, _function in REPLACEMENTS.items():
    setattr(dask_image.ndfilters, _name, _function)


def _calls_ours(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    return (any(any(v is f for f in REPLACEMENTS.values()) for v in params.values())
            or peer_suite.source_calls(item, _CALLED))


def _key(item):
    return item.module.__name__.rsplit(".", 1)[-1], item.originalname


def pytest_collection_modifyitems(config, items):
    peer_suite.select(config, items, _calls_ours, XFAIL, _key, MARKED, "dask-image")


def pytest_sessionfinish(session, exitstatus):
    peer_suite.write_report("FASTCORR_DASK_IMAGE_SUITE_REPORT", CALLS, MARKED)
