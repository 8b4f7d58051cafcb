"""``python -m fastcorr bench``: fastcorr side by side with the libraries people use instead.

Every library runs in this one process, on the same arrays and with the same thread count, and
every result is checked against a float64 reference before it is timed, so a fast wrong answer
shows up as WRONG rather than as a speed.  fastcorr's only runtime dependency is NumPy: scipy,
OpenCV, torch and matplotlib are imported here, lazily, and a missing one is skipped with a note.

After the valid-mode grid come shorter sections (``--only`` picks sections): 'same' and
'full' against 'valid' per output pixel, 1-D correlation of a long signal against a plain copy,
numpy.correlate and scipy.signal.oaconvolve, a stack of small images against one large one, and
fastcorr.ndimage against scipy.ndimage, OpenCV and torch (same-size results with scipy's border
modes, separable filters, uint8 images, a 3-D volume), and method='auto' against fastcorr's
methods (direct, separable, FFT) and the peers, with sweeps over the kernel size that
re-measure where the methods cross over on this machine, fastcorr.nn's convolution layer
(forward and both gradients) against torch's on the shapes of a small CNN, and fastcorr.dask
against dask-image on a dask.distributed cluster and on arrays larger than memory.

The package, in reading order: cases.py (what is measured, on which arrays), peers.py (against
what), timing.py (how calls are timed), verify.py (how results are checked), machine.py (the
machine and its FMA peak), sections.py (the first five sections, as records), methods.py (the
methods section), nn.py (the nn section), chunked.py (the dask section), render.py (console,
JSON, plot).  This module holds the command line and runs the sections in order.
"""
import os
import time

import numpy as np

from .. import _core
from .._engine.threads import cpu_count
from . import cases, chunked, machine, methods, nn, peers, render, sections
from .timing import Timer
from .verify import N_SAMPLED

SECTIONS = ("2d", "modes", "1d", "batch", "ndimage", "methods", "nn", "dask")

DESCRIPTION = (f"fastcorr against {peers.listing(peers.PEERS)} on the same arrays with the same "
               "thread count; every result verified before it is timed.")


def _parse_sizes(text):
    sizes = []
    for item in text.split(","):
        parts = item.lower().split("x")
        if len(parts) == 1:
            parts *= 2
        h, w = (int(p) for p in parts)
        if h < 1 or w < 1:
            raise ValueError(item)
        sizes.append((h, w))
    return sizes


def _parse_workers(text):
    n = int(text)
    if n < 1:
        raise ValueError(text)
    return n


def _parse_kernels(text):
    ks = [int(k) for k in text.split(",")]
    if any(k < 1 for k in ks):
        raise ValueError(text)
    return ks


def add_arguments(parser):
    """Add the ``bench`` options to an argparse parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``bench`` subcommand's parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--quick", "--sizes", "512,64x32"]).sizes
    [(512, 512), (64, 32)]
    >>> parser.parse_args(["--workers", "2"]).workers
    2
    """
    kernels = ",".join(map(str, cases.DEFAULT_KERNELS))
    quick_kernels = ",".join(map(str, cases.QUICK_KERNELS))
    size = cases.DEFAULT_SIZES[0][0]
    parser.add_argument("--quick", action="store_true",
                        help="fewer kernel sizes, fewer repeats, slow peers on smaller crops "
                             "(about 30 s)")
    parser.add_argument("--json", metavar="PATH",
                        help="save every measurement, the FMA peaks and the machine description")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="plot GFLOP/s against kernel size per library (needs matplotlib); "
                             "the methods section plots time per output against kernel size "
                             "per method and peer, to PATH_methods.png when the 2d section's "
                             "plot takes PATH")
    parser.add_argument("--sizes", type=_parse_sizes, metavar="N[,HxW...]",
                        help=f"image sizes, e.g. {size} or 1024,4096x512 (default {size}); "
                             "the ndimage section takes the first for all its images and a cube "
                             "of side min(160, N) for its volume (default: 2048x2048, "
                             "4096x4096 and 160^3); the methods section takes the first for all "
                             "its images and HxW samples for its 1-D signal; the nn section "
                             "takes the first for every image, with --quick's batches")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable): 2d (valid mode against the "
                             "peers), modes (same/full vs valid), 1d (long signals), batch "
                             "(many small images), ndimage (fastcorr.ndimage against "
                             "scipy.ndimage, OpenCV and torch), methods (method='auto' against "
                             "direct, separable, FFT and the peers, and the crossover sweeps), nn "
                             "(fastcorr.nn's conv2d forward and gradients against torch), dask "
                             "(fastcorr.dask on a LocalCluster, the threaded scheduler and a "
                             "zarr array larger than the workers' memory, against dask-image; "
                             "needs fastcorr[dask] and dask-image); default all")
    parser.add_argument("--kernels", type=_parse_kernels, metavar="K[,K...]",
                        help=f"square kernel sizes (default {kernels}; --quick {quick_kernels}; "
                             "also the ndimage section's correlate grid and the methods "
                             "section's 2-D sweep)")
    parser.add_argument("--workers", type=_parse_workers, metavar="N",
                        help="threads for fastcorr and the threaded peers (default: all usable "
                             "CPUs); the 2d section also measures 1 thread")


def _settings(quick, sizes, kernels, workers, timer, ndimage_cases, methods_cases, nn_cases):
    """The run's choices, as the JSON's ``settings``."""
    (shape, dtype, k), quick_index = cases.SMALL_CASE, 1 if quick else 0
    methods_settings = None
    if methods_cases:
        methods_settings = {
            "image": list(methods_cases["image"]), "kernels": list(methods_cases["kernels"]),
            "samples": methods_cases["samples"], "taps": list(methods_cases["taps"]),
            "sweep_timing": methods.sweep_timer(quick).settings,
            "sweep_max_s": cases.METHOD_SWEEP_MAX_S,
            "ndimage_max_K": cases.METHOD_NDIMAGE_MAX_K,
            "auto_vs_peer": cases.AUTO_VS_PEER, "auto_vs_own": cases.AUTO_VS_OWN,
            "crop_flops": {p.column: p.crop_flops[quick_index]
                           for p in peers.METHOD_PEERS if p.crop_flops}}
    return {"quick": quick, "sizes": [list(s) for s in sizes], "kernels": list(kernels),
            "workers": workers, "small_case": {"size": list(shape), "dtype": dtype, "K": k},
            "seed": cases.SEED, "sampled_positions": N_SAMPLED, **timer.settings,
            "crop_flops": {p.column: p.crop_flops[quick_index]
                           for p in peers.PEERS if p.crop_flops},
            "ndimage_cases": len(ndimage_cases),
            "ndimage_crop_flops": {p.column: p.crop_flops[quick_index]
                                   for p in peers.FILTER_PEERS if p.crop_flops},
            "methods": methods_settings, "nn_cases": nn_cases,
            "nn_sampled_entries": {"forward": N_SAMPLED, "grad_input": N_SAMPLED,
                                   "grad_weight": nn.N_SAMPLED_WEIGHT}}


def _methods_section(setup, method_peers, progress):
    """The methods section's parts, shown as they are measured, as the JSON's ``methods``."""
    n = setup.workers[-1]
    report = {"headlines": render.show_method_headlines(methods.headlines(setup, method_peers),
                                                        n, progress),
              "sweep_2d": render.show_method_sweep(methods.sweep_2d(setup, method_peers),
                                                   progress),
              "sweep_1d": render.show_method_sweep(methods.sweep_1d(setup, method_peers),
                                                   progress),
              "nan_locality": render.show_nan_locality(methods.nan_locality(setup), progress)}
    report["crossovers"] = methods.crossovers(report["sweep_2d"], report["sweep_1d"])
    report["checks"] = methods.checks(report)
    render.show_method_summary(report["crossovers"], report["checks"])
    return report


def _methods_plot_path(path, grid_plotted):
    """Where the methods plot goes: `path`, or beside the 2d section's plot at `path`."""
    if not grid_plotted:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}_methods{ext or '.png'}"


def run(args):
    """Run the benchmark described by parsed ``bench`` arguments.

    Parameters
    ----------
    args : argparse.Namespace
        With ``quick``, ``json``, ``plot``, ``sizes``, ``only``, ``kernels`` and ``workers`` as
        `add_arguments` defines them.

    Returns
    -------
    int
        Exit status: 0, or 1 if fastcorr itself failed verification.
    """
    quick = bool(args.quick)
    chosen = [name for name in SECTIONS if name in (args.only or SECTIONS)]
    sizes = tuple(args.sizes) if args.sizes else cases.DEFAULT_SIZES
    kernels = tuple(args.kernels) if args.kernels else (
        cases.QUICK_KERNELS if quick else cases.DEFAULT_KERNELS)
    n_cpus = cpu_count()
    n = args.workers or n_cpus
    workers = [1] if n == 1 else [1, n]
    versions, notes = peers.load()
    grid_peers = [p for p in peers.PEERS if p.package in versions]
    one_d_peers = [p for p in peers.ONE_D_PEERS if p.package in versions]
    filter_peers = [p for p in peers.FILTER_PEERS if p.package in versions]
    method_peers = [p for p in peers.METHOD_PEERS if p.package in versions]
    nn_peers = [p for p in peers.NN_PEERS if p.package in versions]
    ndimage_cases = cases.ndimage_cases(quick, args.sizes[0] if args.sizes else None,
                                        args.kernels) if "ndimage" in chosen else []
    methods_cases = cases.methods_cases(quick, args.sizes[0] if args.sizes else None,
                                        args.kernels) if "methods" in chosen else None
    nn_cases = cases.nn_cases(quick, args.sizes[0] if args.sizes else None) \
        if "nn" in chosen else []

    dask_note = chunked.available()[1] if "dask" in chosen else None
    render.opening(quick, n_cpus, _core.active_path(), notes)
    peaks_start, probe = machine.measure_peaks(workers)
    timer = Timer(quick)
    render.peaks_and_timing(peaks_start, probe, workers, timer.settings)
    progress = render.Progress(sections.steps(chosen, sizes, kernels, workers, quick,
                                              ndimage_cases)
                               + (methods.steps(methods_cases) if methods_cases else 0)
                               + nn.steps(nn_cases)
                               + (chunked.steps() if "dask" in chosen and not dask_note
                                  else 0))
    setup = sections.Setup(quick=quick, sizes=sizes, kernels=kernels, workers=workers,
                           peaks=peaks_start, timer=timer,
                           rng=np.random.default_rng(cases.SEED), progress=progress,
                           ndimage_cases=ndimage_cases, methods_cases=methods_cases,
                           nn_cases=nn_cases)

    report = {"results": [], "bandwidth": [], "in2_larger": None, "modes": None,
              "one_d": None, "batch": None, "ndimage": None, "methods": None, "nn": None,
              "dask": None}
    t0 = time.perf_counter()
    if "2d" in chosen:
        grid = render.show_grid(sections.valid_grid(setup, grid_peers), progress)
        report["results"] = [row for case in grid for row in case["rows"]]
        report["bandwidth"] = [case["bandwidth"] for case in grid if case["bandwidth"]]
        report["in2_larger"] = render.show_in2_larger(sections.in2_larger(setup), progress)
    if "modes" in chosen:
        report["modes"] = render.show_modes(sections.modes(setup), sizes[0], workers[-1],
                                            progress)
    if "1d" in chosen:
        report["one_d"] = render.show_one_d(sections.one_d(setup, one_d_peers), workers[-1],
                                            one_d_peers, progress)
    if "batch" in chosen:
        report["batch"] = render.show_batch(sections.batch(setup), workers[-1], progress)
    if "ndimage" in chosen:
        report["ndimage"] = render.show_ndimage(sections.ndimage(setup, filter_peers),
                                                workers[-1], progress)
    if "methods" in chosen:
        report["methods"] = _methods_section(setup, method_peers, progress)
    if "nn" in chosen:
        report["nn"] = render.show_nn(nn.conv2d_layers(setup, nn_peers), workers[-1], progress)
    if "dask" in chosen:
        if dask_note:
            print(f"\n{dask_note}")
        else:
            report["dask"] = render.show_dask(
                chunked.run(quick, progress, args.sizes[0][0] if args.sizes else None), progress)
    elapsed = time.perf_counter() - t0

    # On a shared machine another process can hold a core while the peak is measured; a result
    # above 100% of such a peak would be nonsense, so a second measurement at the end guards
    # the summary's "% peak" against one unlucky moment: the higher of the two counts.
    peaks_end, _ = machine.measure_peaks(workers)
    peaks = {key: max(g, peaks_end[key]) for key, g in peaks_start.items()}
    render.peaks_recheck(peaks_start, peaks_end)
    sections.set_pct_peak(report["results"], peaks)
    sections.set_ndimage_pct_peak(report["ndimage"], peaks)
    methods.set_pct_peak(report["methods"], peaks)
    nn.set_pct_peak(report["nn"], peaks)
    if report["results"]:
        render.summary(report["results"],
                       [p.column for p in peers.PEERS if p.package not in versions])
    failed = (sections.fastcorr_failed(report) or methods.fastcorr_failed(report["methods"])
              or nn.fastcorr_failed(report["nn"]) or chunked.fastcorr_failed(report["dask"]))
    render.closing(elapsed, failed)

    if args.json or args.plot:
        info = machine.machine_info(versions)
    if args.json:
        render.write_json(args.json, render.as_json(
            machine=info, settings=_settings(quick, sizes, kernels, workers, timer,
                                             ndimage_cases, methods_cases, nn_cases),
            peaks=peaks, peaks_start=peaks_start, peaks_end=peaks_end, notes=notes,
            report=report, elapsed=elapsed))
    grid_plotted = bool(args.plot) and (bool(report["results"]) or "methods" not in chosen)
    if grid_plotted:
        render.plot(args.plot, report["results"], peaks, sizes[0], workers[-1], kernels, info)
    if args.plot and report["methods"]:
        render.plot_methods(_methods_plot_path(args.plot, grid_plotted), report["methods"],
                            workers[-1], info)
    return 1 if failed else 0
