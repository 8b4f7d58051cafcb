"""What the numbers were measured on: the CPU, its load, its FMA peak, the software versions."""
import os
import platform
import sys

import numpy as np

from .. import _core
from .._config import show_config
from .._engine.threads import cpu_count
from .._version import __version__
from .cases import DTYPES


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo or the platform module give it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    """The vector instruction sets /proc/cpuinfo lists (those fastcorr's paths need)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return sorted(have & {"avx", "avx2", "fma", "avx512f", "asimd", "sse2"})
    except OSError:
        pass
    return []


def load_average():
    """The 1, 5 and 15 minute load averages as text ("unknown" where there are none)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def measure_peaks(workers, rounds=3):
    """The FMA peak, measured now, that "% peak" refers to.

    Each entry is the highest of `rounds` rounds over all of them: on a shared virtual machine
    another guest can hold a core for a second or more (a float64 peak of 10 GFLOP/s on 2
    threads where 37-40 is the machine's, measured three times in a row, printed 364% of
    peak beside a result), so the rounds spread each entry's samples over a few seconds.

    Parameters
    ----------
    workers : sequence of int
        Thread counts to measure it for.
    rounds : int, optional
        Rounds over every (dtype, thread count), each 2 probe runs.

    Returns
    -------
    peaks : dict
        GFLOP/s by (dtype name, thread count).
    probe : str
        The SIMD path whose FMA probe ran.
    """
    peaks = {}
    for _ in range(rounds):
        for dtype in DTYPES:
            for n in workers:
                gflops, probe = _core.fma_peak(dtype, n, repeats=2)
                peaks[(dtype, n)] = max(gflops, peaks.get((dtype, n), 0.0))
    return peaks, probe


def machine_info(versions):
    """What the numbers were measured on: CPU, thread counts, library versions, fastcorr build.

    Parameters
    ----------
    versions : dict
        Versions of the optional libraries imported so far, by name.

    Returns
    -------
    dict
        JSON-serialisable description of the machine and software.
    """
    versions = dict(versions)
    try:
        import matplotlib
        versions.setdefault("matplotlib", matplotlib.__version__)
    except ImportError:
        pass
    return {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": cpu_count(),
        "load_average": load_average(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {"fastcorr": __version__, "numpy": np.__version__,
                     **{k: versions.get(k) for k in ("scipy", "cv2", "torch", "matplotlib")}},
        "fastcorr_config": show_config(mode="dicts"),
    }
