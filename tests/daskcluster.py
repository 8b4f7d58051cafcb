"""A dask.distributed LocalCluster for the tests (tests/test_dask.py): worker processes on the
loopback interface, started and closed by the test; the workers' pids and peak resident memory;
and polling with a timeout instead of fixed sleeps.

Imports distributed only when a cluster is asked for, so importing this module costs nothing
where distributed is missing (the tests that need it skip).
"""
import contextlib
import os
import resource
import time
import warnings


@contextlib.contextmanager
def local_cluster(n_workers=2, **kwargs):
    """A LocalCluster of `n_workers` worker processes with one thread each (each behind a
    nanny, which restarts a worker process that dies) and a Client of it, closed on exit.

    The client is not made dask's default scheduler (``set_as_default=False``): the other tests
    of the module, run while a module-scoped cluster is alive, keep the scheduler they name.
    Extra keyword arguments go to LocalCluster (``memory_limit=...``).
    """
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        # The scheduler's HTTP routes (no dashboard) move to another port when 8787 is taken
        # by some other cluster on the machine, and say so.
        warnings.filterwarnings("ignore", "Port 8787 is already in use", UserWarning)
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, **kwargs)
    try:
        client = Client(cluster, set_as_default=False)
        try:
            client.wait_for_workers(n_workers, timeout=120)
            yield cluster, client
        finally:
            client.close()
    finally:
        cluster.close()


def worker_pids(client):
    """{worker address: pid of its process}."""
    return client.run(os.getpid)


def _peak_rss():
    """This process's peak resident set size in bytes.

    /proc/self/status's VmHWM where there is one: the high-water mark of this process image.
    ``getrusage(RUSAGE_SELF).ru_maxrss`` would be the obvious call, but on Linux a process
    started by fork + exec (how the nanny spawns a worker) inherits in it the peak of its parent
    up to the exec: a worker spawned by a test process that once held 2 GiB reports 2 GiB from
    its first instruction (checked on this machine), so it says nothing about the worker.
    ru_maxrss is used only where /proc is missing.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    value, unit = line.split()[1:3]
                    assert unit == "kB", line
                    return int(value) * 1024
    except OSError:
        pass
    scale = 1 if os.uname().sysname == "Darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_rss(client):
    """{worker address: the worker process's peak resident set size in bytes}."""
    return client.run(_peak_rss)


def wait_for(predicate, timeout, what, interval=0.005):
    """Polls `predicate` until it returns something true (returned), or fails after `timeout`
    seconds saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
