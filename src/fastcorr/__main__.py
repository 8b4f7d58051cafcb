"""``python -m fastcorr``: what this build is, and whether it is fast and right on this machine.

With no arguments: the ``show_config()`` report, then one speed check against
scipy.signal.correlate2d on the same arrays, with the result verified.  ``bench`` runs the full
side-by-side benchmark (see ``python -m fastcorr bench --help``); ``--version`` prints the
version.
"""
import argparse
import sys

import numpy as np

from . import _bench, correlate2d
from ._bench import peers
from ._bench.render import fmt_ratio, fmt_time
from ._bench.timing import best_times, timed_call
from ._bench.verify import compare
from ._config import show_config
from ._engine.threads import resolve_workers
from ._version import __version__

CHECK_SIZE = 1024
CHECK_K = 5
CHECK_DTYPE = np.float32


def speed_check(size=CHECK_SIZE, k=CHECK_K, seed=0):
    """Time fastcorr against scipy.signal.correlate2d once and verify its result.

    Parameters
    ----------
    size : int, optional
        Side of the random square image.
    k : int, optional
        Side of the random square kernel.
    seed : int, optional
        Seed of the random data.

    Returns
    -------
    int
        0 if fastcorr's result agrees with the peer's within the rounding bound, else 1 (a
        message on stderr says where it disagrees).

    Notes
    -----
    Without scipy the peer is a NumPy sliding-window einsum, and the output says so.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (size, size)).astype(CHECK_DTYPE)
    w = rng.uniform(-1, 1, (k, k)).astype(CHECK_DTYPE)
    signal_peer = peers.by_column("signal.correlate2d")
    try:
        signal_peer.require()
    except ImportError:
        from numpy.lib.stride_tricks import sliding_window_view
        peer_name = "NumPy sliding-window einsum"
        print("note: scipy is not installed, so the comparison is against a NumPy "
              "sliding-window einsum instead of scipy.signal.correlate2d")

        def peer():
            return np.einsum("ijab,ab->ij", sliding_window_view(x, w.shape), w)
    else:
        peer_name = signal_peer.label
        peer = signal_peer.call(x, w, 1)

    n_threads = resolve_workers(None)
    ours = correlate2d(x, w, mode="valid")
    theirs, t_first = timed_call(peer)
    if ours.dtype != x.dtype:
        ok, message = False, f"dtype {ours.dtype} for {x.dtype} input"
    else:
        ok, message = compare(ours, theirs, x, w, ("fastcorr", peer_name))
    if not ok:
        print(f"fastcorr: VERIFICATION FAILED: {message}", file=sys.stderr)
        return 1

    # The peer is slow (about 0.05-0.3 s here): its verified call counts as a sample, and at
    # most two more follow.
    (t_ours, _, _), = best_times([lambda: correlate2d(x, w, mode="valid")], repeats=20,
                                 budget=0.5)
    (t_peer, _, _), = best_times([peer], [t_first], repeats=2, budget=1.0)
    t_peer = min(t_peer, t_first)
    oh, ow = size - k + 1, size - k + 1
    flops = 2.0 * oh * ow * k * k
    ratio = t_peer / t_ours
    verdict = f"{fmt_ratio(ratio)} faster" if ratio >= 1 else \
        f"{fmt_ratio(ratio)} (fastcorr is SLOWER here)"
    print(f"{size}x{size} {np.dtype(CHECK_DTYPE).name}, {k}x{k}: "
          f"fastcorr {fmt_time(t_ours)} ({flops / t_ours / 1e9:.1f} GFLOP/s), "
          f"{peer_name} {fmt_time(t_peer)} -> {verdict}; result verified")
    print(f"  (fastcorr on {n_threads} thread{'s' if n_threads != 1 else ''}, the default; "
          f"{peer_name} runs on 1. Full comparison: python -m fastcorr bench)")
    return 0


def main(argv=None):
    """Entry point of ``python -m fastcorr``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m fastcorr",
        description="Without a command: show fastcorr's configuration and check its speed and "
                    "correctness against scipy.signal.correlate2d on this machine.")
    parser.add_argument("--version", action="version", version=f"fastcorr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser(
        "bench", help="side-by-side benchmark against scipy, OpenCV and torch",
        description=_bench.DESCRIPTION)
    _bench.add_arguments(bench)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench.run(args)
    show_config()
    print()
    return speed_check()


if __name__ == "__main__":
    sys.exit(main())
