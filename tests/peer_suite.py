"""Runs a peer's own test module in a child pytest with one of our plugins loaded (see
test_scipy_suite.py, test_ndimage_suite.py and test_dask_image_suite.py): scipy's tests take
their ``xp`` fixture and markers from scipy's conftest, which is active only when pytest
collects scipy's module itself.  Also what the plugins share in the child (`select`,
`write_report`).
"""
import inspect
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def run(targets, plugin, env_extra, tmp_path, timeout, options=("--pyargs",)):
    """(outcomes, output): each test's outcome ('passed', 'failure', 'error', 'skipped',
    'xfailed') by ``classname::name``, and the tail of the child's output.  `options` come
    before the targets (``--pyargs``: they are module names).  The child runs
    with SCIPY_ARRAY_API unset (only the NumPy backend, which is fastcorr's) and must exit 0."""
    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    env["PYTHONPATH"] = TESTS_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra)
    command = [sys.executable, "-m", "pytest", *options, *targets, "-p", plugin,
               "-p", "no:cacheprovider", "-m", "not slow", "-q", "-rfExX",
               f"--junitxml={junit}"]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, output
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kind = next((child.tag for child in case), "passed")
        if kind == "skipped" and "xfail" in (case.find("skipped").get("type") or ""):
            kind = "xfailed"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kind
    return outcomes, output


def check_outcomes(outcomes, output, report, peer, min_passed, face, names):
    """What the ndimage and dask-image suites assert of a child run: at least `min_passed` of
    the `peer`'s tests passed, none failed, exactly the tests the plugin marked (strict xfail,
    listed in `report`) xfailed, and fastcorr's `face` really ran each of `names`."""
    passed = [k for k, v in outcomes.items() if v == "passed"]
    assert len(passed) >= min_passed, f"only {len(passed)} of {peer}'s tests passed\n{output}"
    assert not [k for k, v in outcomes.items() if v in ("failure", "error")], output
    reported = json.loads(report.read_text())
    xfailed = sorted(k.rsplit("::", 1)[-1] for k, v in outcomes.items() if v == "xfailed")
    assert xfailed == sorted(m.rsplit("::", 1)[-1] for m in reported["xfail_marked"]), output
    calls = reported["calls"]
    for name in names:
        assert calls.get(name, 0) > 0, f"{face}.{name} never ran: {calls}"


# --------------------------------------------------------------------------- in the child
# What the plugins (ndimage_suite_plugin, dask_image_suite_plugin) share once loaded into the
# child pytest: which collected tests run, which are expected to fail, and the report.
def _xfail_reason(item, xfail, key):
    entry = xfail.get(key(item))
    if entry is None:
        return None
    params, reason = entry
    ids = item.name[len(item.originalname):]
    if params is None or any(p in ids for p in params):
        return reason
    return None


def source_calls(item, pattern):
    """Whether the source of test `item`'s function matches `pattern` (a call it makes)."""
    try:
        return bool(pattern.search(inspect.getsource(item.function)))
    except (OSError, TypeError):
        return False


def select(config, items, keep, xfail, key, marked, peer):
    """Keeps the collected `items` that ``keep(item)`` accepts (the others deselected) and marks
    those `xfail` lists strict xfail, their node ids appended to `marked`.

    `xfail` maps ``key(item)`` to (the parameter ids that fail, None for all; the reason).  An
    entry no kept test matches is a UsageError: `peer` renamed or dropped the test."""
    kept, dropped = [], []
    for item in items:
        if not keep(item):
            dropped.append(item)
            continue
        kept.append(item)
        reason = _xfail_reason(item, xfail, key)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            marked.append(item.nodeid)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    unknown = set(xfail) - {key(i) for i in kept}
    if unknown:
        raise pytest.UsageError(f"xfail entries for tests {peer} no longer has: {unknown}")


def write_report(variable, calls, marked):
    """The call counts and the tests marked xfail, as JSON to the file the environment
    `variable` names (nothing without it)."""
    path = os.environ.get(variable)
    if path:
        with open(path, "w") as f:
            json.dump({"calls": dict(calls), "xfail_marked": marked}, f)
