"""The one place that turns ``workers=`` into a thread count."""
import numbers
import os

from .. import _core

# The core takes a C int, and splits no call into more work units than this anyway.
_MAX_THREADS = 1 << 15


def cpu_count():
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_workers(workers):
    """Thread count for one call, with scipy.fft's conventions for `workers`.

    None asks OpenMP at call time, so OMP_NUM_THREADS and threadpoolctl limits hold; -1 means
    every CPU, -2 all but one, and so on.
    """
    if workers is None:
        return _core.omp_max_threads()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers must be an int or None, got {type(workers).__name__}")
    n = int(workers)
    if n == 0:
        raise ValueError("workers must not be 0 (use None for the default, -1 for all CPUs)")
    if n < 0:
        cpus = cpu_count()
        n += cpus + 1
        if n < 1:
            raise ValueError(
                f"workers={workers} asks for {n} threads on a machine with {cpus} CPUs "
                f"(negative values count back from the CPU count: -1 means all {cpus})")
    return min(n, _MAX_THREADS)
