"""Runs a peer's own test module in a child pytest with one of our plugins loaded (see
test_scipy_suite.py and test_ndimage_suite.py): scipy's tests take their ``xp`` fixture and
markers from scipy's conftest, which is active only when pytest collects scipy's module itself.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

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
