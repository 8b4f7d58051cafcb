#!/usr/bin/env bash
# One valgrind memcheck run of a representative subset of the tests (issue 5, item 6), on the
# extension as built for development (no rebuild: memcheck instruments the machine code).
#
#   tools/valgrind.sh                  # the default subset (a few minutes)
#   tools/valgrind.sh tests/test_x.py  # other pytest arguments instead of the default subset
#
# The subset covers every SIMD path the CPU supports (valgrind emulates up to AVX2), both
# dtypes, odd widths that end in partial vectors, every layout, modes and boundaries, complex
# data, 1-D, out=, errors and NaN/Inf.  PYTHONMALLOC=malloc routes CPython's small objects to
# malloc so memcheck sees them (pymalloc's arenas would otherwise produce false "uninitialised"
# reports).  Exit status 0 only if memcheck found no error with a stack frame in fastcorr
# (errors inside CPython or glibc alone are listed, not counted).
# Leak checking is off: CPython keeps objects alive at exit on purpose; leaks are covered by the
# RSS tests.  OpenMP runs with 2 threads: valgrind serialises them, which is slow but checks the
# threaded code paths too.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
log=${VALGRIND_LOG:-/tmp/fastcorr-valgrind.log}
if [ "$#" -eq 0 ]; then
    set -- \
        "tests/test_dispatch.py::test_shape_cases_every_path" \
        "tests/test_dispatch.py::test_complex_every_path" \
        "tests/test_dispatch.py::test_1d_every_block_kind" \
        "tests/test_accuracy.py::test_inf_combinations" \
        "tests/test_accuracy.py::test_nan_does_not_leak_into_neighbouring_outputs" \
        "tests/test_accuracy.py::test_nan_inf_in_the_frame" \
        "tests/test_accuracy.py::test_inf_next_to_the_window_with_leftover_taps" \
        "tests/test_modes.py::test_every_path" \
        "tests/test_out.py::test_out_layouts_numpy_makes_are_accepted"
fi
start=$(date +%s)
cd "$top"
set +e
PYTHONMALLOC=malloc OMP_NUM_THREADS=2 valgrind --tool=memcheck --leak-check=no \
    --track-origins=yes --num-callers=40 --log-file="$log" \
    "$python" -m pytest -q -p no:cacheprovider "$@" > "$log.pytest" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
tail -3 "$log.pytest"
grep -E "ERROR SUMMARY" "$log" | tail -1
# Errors whose stack has a frame in fastcorr (the compiled core or the kernels) are ours; the
# rest are CPython's and glibc's own (e.g. the AVX2 memcmp that reads a whole vector past a
# string's end, within the page) and are listed but do not fail the run.
set +e
"$python" - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ours, theirs = {}, {}
for block in re.split(r"\n==\d+== \n", text):
    head = re.search(r"==\d+== ((?:Invalid|Conditional|Use of|Syscall|Mismatched|Source and)[^\n]*)", block)
    if not head:
        continue
    frames = re.findall(r"(?:at|by) 0x[0-9A-F]+: (\S+) \(([^)]*)\)", block)
    key = head.group(1) + " at " + " <- ".join(f"{f} ({l})" for f, l in frames[:3])
    mine = any("fastcorr" in l or "_core" in l or "corr_" in l or f.startswith("fc_")
               for f, l in frames)
    (ours if mine else theirs)[key] = (ours if mine else theirs).get(key, 0) + 1
for name, found in (("in fastcorr", ours), ("outside fastcorr (CPython, glibc)", theirs)):
    print(f"memcheck errors {name}: {sum(found.values())}")
    for key, n in sorted(found.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {n} x {key[:220]}")
sys.exit(1 if ours else 0)
PY
ours=$?
set -e
if [ "$status" -ne 0 ]; then
    # Under valgrind x87 long double is computed in double precision, so comparisons with the
    # long double oracle (float64 results) can fail there and only there: not a memcheck error.
    echo "note: pytest exit $status under valgrind (see $log.pytest)"
fi
if [ "$ours" -ne 0 ]; then
    echo "valgrind: FAIL, memcheck errors in fastcorr, in ${elapsed} s; full log: $log"
    exit 1
fi
echo "valgrind: PASS, no memcheck error in fastcorr, in ${elapsed} s; log: $log"
