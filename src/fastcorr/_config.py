"""show_config(): what this build of fastcorr is and what it runs on."""
import sys
import textwrap

from . import _core, _dispatch
from ._version import __version__


def _loaded_openmp_library():
    """Path of the OpenMP runtime mapped into this process (Linux only; None elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if any(lib in path for lib in ("libgomp", "libomp", "libiomp", "vcomp")):
                    return path
    except OSError:
        pass
    return None


def _kib(n):
    if n and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} bytes"


def _cache(path):
    """The L1 geometry, and from which kernel height `path`'s small-kernel block switches to its
    aliased-rows shape on rows a multiple of the way size apart (None: at none)."""
    cache = _core.l1_geometry()
    info = next(p for p in _core.compiled_paths() if p["name"] == path)
    cache["near_lines"] = _core.ALIAS_NEAR_LINES
    rows = info["small_block_rows"]
    cache["aliased_from_kh"] = next(
        (kh for kh in range(1, len(rows) + 1)
         if _core.small_band_rows(path, kh, cache["way_bytes"]) != rows[kh - 1]), None)
    stream = _core.stream_min_bytes()
    cache["llc_bytes"], cache["stream_min_bytes"] = stream["llc_bytes"], stream["min_bytes"]
    cache["stream_aliased_min_bytes"] = stream["aliased_min_bytes"]
    cache["stream_aliased_max_taps"] = stream["aliased_max_taps"]
    cache["stream_1d_min_bytes"] = stream["one_d_min_bytes"]
    return cache


def _cache_lines(cache, path, info):
    """show_config's report of the L1 and of what the aliasing rule selects on `path`."""
    way = _kib(cache["way_bytes"])
    lines = [f"L1 data cache: {_kib(cache['size_bytes'])}, {cache['ways']}-way, "
             f"{cache['line_bytes']}-byte lines, {way} per way ({cache['source']})"]
    llc = _kib(cache["llc_bytes"]) if cache["llc_bytes"] else "size unknown"
    lines.append(f"Last-level cache: {llc}; outputs of {_kib(cache['stream_min_bytes'])} and "
                 "more are stored non-temporally, direct tiles of kernels of up to "
                 f"{cache['stream_aliased_max_taps']} taps from "
                 f"{_kib(cache['stream_aliased_min_bytes'])} where their input and output rows "
                 f"are a multiple of 4 KiB apart, 1-D correlations from "
                 f"{_kib(cache['stream_1d_min_bytes'])}")
    rows, aliased = info["small_block_rows"], info["small_block_rows_aliased"]
    shapes = f"{' '.join(map(str, rows))} rows for kernels of 1..{len(rows)} rows"
    if rows == aliased:
        return lines + [f"  {path}'s small-kernel blocks ({shapes}) have no aliased-rows shapes"]
    rule = (f"a band reads more than {cache['ways']} input rows that start within "
            f"{cache['near_lines']} lines of each other modulo {way}")
    own = info["small_kernel_rows_aliased"]
    main = (f", and kernels of {own + 1}..{len(rows)} rows to the main block" if own < len(rows)
            else "")
    switch = (f"{path}'s small-kernel blocks ({shapes}) switch to their aliased-rows shapes "
              f"({' '.join(map(str, aliased[:own]))} rows{main}) when {rule}")
    if cache["aliased_from_kh"] is None:
        most = max(r + kh for kh, r in enumerate(rows))
        text = f"{switch}; their bands read at most {most}, so they never do on this CPU"
    else:
        text = (f"{switch}: kh >= {cache['aliased_from_kh']} on rows a multiple of {way} long "
                f"(power-of-two widths)")
    return lines + textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="    ",
                                 break_on_hyphens=False)


def _config():
    vendor, version, max_threads, procs = _core.openmp_info()
    compiled = _core.compiled_paths()
    return {
        "fastcorr": {"version": __version__, "python": sys.version.split()[0]},
        "simd": {
            "compiled": [path["name"] for path in compiled],
            "supported": _dispatch.supported_paths(),
            "selected": _dispatch.active(),
            "forced_by": _dispatch.ENV_VAR if _dispatch.forced() else None,
            "paths": {
                path["name"]: {key: value for key, value in path.items() if key != "name"}
                for path in compiled
            },
        },
        "openmp": {
            "runtime": vendor,
            "version": version,
            "library": _loaded_openmp_library(),
            "max_threads": max_threads,
            "num_procs": procs,
        },
        "cache": _cache(_dispatch.active()),
        "methods": _methods(),
    }


def _methods():
    """What method='auto' works from: the FFT backend, the cost table, and where the table's
    predictions hand over between the methods."""
    from ._engine import fft, methods
    return {"fft_backend": fft.BACKEND,
            "fft_float64_backend": "numpy" if fft.into_buffers("float64") else fft.BACKEND,
            "cost_table": methods.cost_table_source(),
            "calibration": {dt: methods.calibration(dt) for dt in ("float32", "float64")},
            "error_factor": methods.ERROR_FACTOR,
            "crossovers": {dt: methods.crossovers(dt) for dt in ("float32", "float64")}}


def show_config(mode="stdout"):
    """Show the version, the SIMD paths, the OpenMP runtime, the L1 cache and what
    ``method='auto'`` works from, as :func:`numpy.show_config`.

    Parameters
    ----------
    mode : {'stdout', 'dicts'}, optional
        'stdout' (default) prints a readable report; 'dicts' returns it as nested dicts instead.

    Returns
    -------
    dict or None
        With ``mode='dicts'``: ``{'fastcorr': {...}, 'simd': {...}, 'openmp': {...},
        'cache': {...}}`` where ``simd`` holds the paths compiled in, those this CPU supports,
        the one selected and whether ``FASTCORR_SIMD`` forced it; ``openmp`` the runtime, its
        version date (``_OPENMP``) and its current thread count; and ``cache`` the L1 data
        cache geometry read at import (``size_bytes``, ``ways``, ``line_bytes``, ``sets``,
        ``way_bytes``, ``source``: ``'cpuid leaf 4'``, ``'cpuid leaf 0x8000001D'``,
        ``'sysconf'`` or ``'default'``), with ``near_lines`` (input rows whose starts lie
        within that many lines of one another, modulo ``way_bytes``, share sets) and
        ``aliased_from_kh``: the smallest kernel height at which the selected path's
        small-kernel block switches to its aliased-rows shape on rows a multiple of
        ``way_bytes`` apart (None if at none), ``llc_bytes`` (the last-level cache, 0 if
        unknown), ``stream_min_bytes`` (outputs of that size and more are stored
        non-temporally: half the last-level cache, at most 48 MiB) and
        ``stream_aliased_min_bytes`` with ``stream_aliased_max_taps`` (the same for the direct
        tiles of kernels of at most that many taps whose input and output rows are a multiple
        of 4 KiB apart: 16 MiB or an eighth of the last-level cache, whichever is more, where
        that is below the general size) and ``stream_1d_min_bytes`` (the same for 1-D
        correlations: at most 4 MiB); ``methods``: what
        ``method='auto'`` works from (the FFT backend, which measured cost table and whether
        it is calibrated to this machine, ``calibration``: each probe's time here over its
        time in the table's run, by dtype, None where the table is used as measured; the error
        factor, and the kernel sizes from which its predictions pick separable passes for
        rank-1 kernels and FFT for full-rank ones).  Otherwise None.

    Examples
    --------
    >>> import fastcorr
    >>> cfg = fastcorr.show_config(mode="dicts")
    >>> cfg["simd"]["selected"] in cfg["simd"]["supported"]
    True
    >>> l1 = cfg["cache"]
    >>> l1["size_bytes"] == l1["ways"] * l1["sets"] * l1["line_bytes"]
    True
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    cfg = _config()
    if mode == "dicts":
        return cfg
    simd, omp = cfg["simd"], cfg["openmp"]
    forced = f" (forced by {simd['forced_by']})" if simd["forced_by"] else ""
    lines = [
        f"fastcorr {cfg['fastcorr']['version']} (Python {cfg['fastcorr']['python']})",
        "SIMD paths:",
    ]
    for name, info in simd["paths"].items():
        marks = []
        if name in simd["supported"]:
            marks.append("supported")
        if name == simd["selected"]:
            marks.append("SELECTED" + forced)
        lines.append(f"  {name:9s} {info['description']:<34s} {', '.join(marks) or 'not supported by this CPU'}")
    lines += [
        f"OpenMP: {omp['runtime']} (_OPENMP {omp['version']}), "
        f"{omp['max_threads']} threads of {omp['num_procs']} processors",
    ]
    if omp["library"]:
        lines.append(f"  library: {omp['library']}")
    lines += _cache_lines(cfg["cache"], simd["selected"], simd["paths"][simd["selected"]])
    m = cfg["methods"]
    fft_on = f"{m['fft_backend']}.fft"
    if m["fft_float64_backend"] != m["fft_backend"]:
        fft_on += f" (float64 on {m['fft_float64_backend']}.fft)"
    lines.append(f"method='auto': cost table {m['cost_table']}, FFT on {fft_on}; it predicts")
    for dt, c in m["crossovers"].items():
        lines.append(f"  {dt}: rank-1 kernels separable from {c['separable_rank1_from']}x"
                     f"{c['separable_rank1_from']}, FFT from {c['fft_2d_from']}x"
                     f"{c['fft_2d_from']} on 2048x2048 and from {c['fft_1d_from']} taps on "
                     "2,000,000 samples")
        scales = m["calibration"][dt]
        if scales:
            lines.append("    probes here / in the table's run: " + ", ".join(
                f"{name} {ratio:.2f}" for name, ratio in scales.items()))
    print("\n".join(lines))
    return None
