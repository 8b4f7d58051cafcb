"""The C kernel layer tested on its own, through tests/c/test_kernels.c.

Natively this re-checks every compiled path this CPU supports, independent of the Cython layer.
Cross-compiled for aarch64 and run under qemu it is the only way the NEON path is executed on an
x86 machine; it runs when Debian's gcc-aarch64-linux-gnu and qemu-user are installed.
"""
import os
import platform
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tools", "test_kernels_c.sh")
KERNELS = os.path.join(ROOT, "src", "fastcorr", "_kernels", "corr_kernels.c")

pytestmark = pytest.mark.skipif(
    not os.path.exists(KERNELS) or platform.system() == "Windows",
    reason="needs the source tree (kernel sources) and a POSIX shell",
)


def run(*args):
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_kernel_layer_native():
    out = run()
    assert "OK:" in out and "FAIL" not in out
    # every path this CPU supports was run, not skipped
    import fastcorr._dispatch as dispatch

    for name in dispatch.supported_paths():
        assert f"\n{name} (" in "\n" + out, out


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64")
    or shutil.which("aarch64-linux-gnu-gcc") is None
    or shutil.which("qemu-aarch64") is None,
    reason="needs gcc-aarch64-linux-gnu and qemu-user to run the NEON path on x86",
)
def test_kernel_layer_neon_under_qemu():
    out = run("aarch64")
    assert "baseline (NEON, 128-bit)" in out and "OK: 2 paths tested" in out, out
