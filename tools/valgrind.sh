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
# reports).  Exit status 0 only if memcheck found no error at all ("ERROR SUMMARY: 0 errors").
# Leak checking is off: CPython keeps objects alive at exit on purpose; leaks are covered by the
# RSS tests.  OpenMP runs with 2 threads: valgrind serialises them, which is slow but checks the
# threaded code paths too.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
log=${VALGRIND_LOG:-/tmp/fastcorr-valgrind.log}
if [ "$#" -eq 0 ]; then
    set -- \
        "tests/test_correlate2d.py::test_shape_cases_every_path" \
        "tests/test_accuracy.py::test_inf_combinations" \
        "tests/test_accuracy.py::test_nan_does_not_leak_into_neighbouring_outputs" \
        "tests/test_bad_input.py::test_out_layouts_are_written_correctly"
    for t in tests/test_modes.py::test_every_path tests/test_modes.py::test_nan_inf_in_the_frame \
             tests/test_complex.py::test_every_path tests/test_1d.py::test_every_path \
             tests/test_1d.py::test_inf_next_to_the_window_with_leftover_taps; do
        [ -e "$top/${t%%::*}" ] && set -- "$@" "$t"
    done
fi
start=$(date +%s)
cd "$top"
set +e
PYTHONMALLOC=malloc OMP_NUM_THREADS=2 valgrind --tool=memcheck --leak-check=no \
    --track-origins=yes --num-callers=30 --error-exitcode=99 --log-file="$log" \
    "$python" -m pytest -q -p no:cacheprovider -x "$@"
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
grep -E "ERROR SUMMARY" "$log" | tail -1
if [ "$status" -ne 0 ]; then
    grep -B2 -A25 -E "^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and)" \
        "$log" | head -200 || true
    echo "valgrind: FAIL (exit $status) in ${elapsed} s; full log: $log"
    exit 1
fi
echo "valgrind: PASS, no memcheck error, in ${elapsed} s; log: $log"
