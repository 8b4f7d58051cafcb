"""How the benchmark times a call: best of N, in rounds that alternate between the libraries.

Speed is only ever compared between callables timed side by side by `best_times`, never against
a number measured at another moment: on the shared machines this runs on, the load changes from
one second to the next.
"""
import math
import time

# Per-run settings.  Best-of-N with a generous N for fast calls: on a shared machine the
# minimum needs a few chances to land in a quiet moment.  The samples come in `rounds` passes
# over the libraries of a case (best_times), so that no ratio rests on one stretch of seconds: a
# burst of load on this class of machine (a KVM guest) lasts longer than one library's samples
# and, timed library after library, once put fastcorr at 45% of peak in one case of a run whose
# neighbouring cases were at 75-85%.  `budget` caps the seconds spent timing one library on one
# case (after the verifying call), so a 0.5 s FFT gets a few samples while a 1 ms call gets
# many.  (The crop given to the slowest peers is theirs: peers.py.)
SETTINGS = {
    False: {"rounds": 3, "repeats": 15, "budget": 2.0, "min_sample": 5e-3},
    True: {"rounds": 1, "repeats": 5, "budget": 0.3, "min_sample": 2e-3},
}


def best_times(fns, firsts=None, rounds=1, repeats=5, budget=1.0, min_sample=2e-3):
    """Best-of-N wall time of one call to each of several callables, sampled in rounds.

    Each round takes a few samples of every callable in turn, so the callables a comparison
    puts side by side are timed interleaved: on a shared machine a burst of load lasting
    longer than one callable's samples then falls on all of them, and another round gives
    each a quiet moment, instead of deciding one ratio alone.

    Parameters
    ----------
    fns : sequence of callable
        Each called with no arguments.
    firsts : sequence of float or None, optional
        Duration of a call already made to each (the warm-up); None (for all, or for one)
        measures one more call.
    rounds : int, optional
        Number of passes over `fns`.
    repeats : int, optional
        Largest number of samples of one callable in one round.
    budget : float, optional
        Seconds the samples of one callable may take over all rounds; fewer samples (at least
        one per round) if they would not fit.
    min_sample : float, optional
        Calls shorter than this are looped within a sample, so that timer resolution and
        one-off noise do not dominate microsecond calls.

    Returns
    -------
    list of (float, int, int)
        Per callable: best seconds per call, number of samples, calls per sample.

    Examples
    --------
    >>> (t, samples, number), = best_times([lambda: sum(range(100))], rounds=2, repeats=3)
    >>> t > 0 and samples <= 6 and number >= 1
    True
    """
    firsts = [None] * len(fns) if firsts is None else list(firsts)
    plan = []
    for fn, first in zip(fns, firsts):
        if first is None:
            first = timed_call(fn)[1]
        first = max(first, 1e-7)
        number = 1 if first >= min_sample else math.ceil(min_sample / first)
        plan.append((number, max(1, min(repeats, int(budget / rounds / (first * number))))))
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for i, (fn, (number, samples)) in enumerate(zip(fns, plan)):
            for _ in range(samples):
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                best[i] = min(best[i], (time.perf_counter() - t0) / number)
    return [(b, rounds * samples, number) for b, (number, samples) in zip(best, plan)]


def _timed_call(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def timed_call(fn):
    """``(fn(), seconds it took)``: one call, its result kept for checking."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


class Timer:
    """`best_times` with one run's settings.

    Parameters
    ----------
    quick : bool
        ``--quick``: fewer rounds and samples, a smaller budget (see SETTINGS).
    """

    def __init__(self, quick):
        self.settings = SETTINGS[bool(quick)]

    def best(self, fns, firsts=None):
        """`best_times` of `fns` (with the durations of calls already made, `firsts`)."""
        s = self.settings
        return best_times(fns, firsts, s["rounds"], s["repeats"], s["budget"], s["min_sample"])

    def times(self, *fns):
        """Best seconds per call of each of `fns`, timed side by side."""
        return [t for t, _, _ in self.best(fns)]
