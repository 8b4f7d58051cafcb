#!/usr/bin/env bash
# Build fastcorr with AddressSanitizer + UndefinedBehaviorSanitizer and run the whole test suite
# under it (issue 5, item 6).  Exit status 0 only if the suite passes and no sanitizer wrote a
# report (in pytest's process or in any subprocess a test starts).
#
#   tools/sanitize.sh                 # whole suite, slow tests included
#   tools/sanitize.sh -m "not slow"   # extra arguments go to pytest
#   SANITIZE_REF=HEAD tools/sanitize.sh  # a commit instead of the working tree
#   SANITIZE_NO_BUILD=1 tools/sanitize.sh # reuse the build already in $SANITIZE_VENV
#   SANITIZE_HALT=0 tools/sanitize.sh     # list every UBSan report instead of stopping at one
#
# What it does, without touching the repository's own build or the development venv:
#   1. gcc's ASan/UBSan runtimes (Debian: libasan8, libubsan1 and the libgcc-12-dev links);
#      installed with apt-get when missing (needs root).
#   2. copies the working tree (tracked and untracked, not ignored files: no in-tree .so or
#      generated _core.c), or the commit $SANITIZE_REF, to $SANITIZE_SRC (default
#      /tmp/fastcorr-asan);
#   3. makes a venv $SANITIZE_VENV (default /tmp/venv-asan) with the test dependencies and
#      installs the copy into it, built with CFLAGS/LDFLAGS -fsanitize=address,undefined (every
#      object: the Cython module and each SIMD kernel object; -O3 from setup.py stays, so the
#      code checked is the code shipped);
#   4. runs pytest from the copy with libasan preloaded (CPython itself is not instrumented,
#      so the ASan runtime must come first in the process).
#
# ASAN_OPTIONS: detect_leaks=0 because CPython deliberately leaves objects alive at exit, which
# LeakSanitizer would report by the thousand (leaks are covered by the RSS tests in
# tests/test_robustness.py instead); allocator_may_return_null=1 because some tests ask for
# impossible sizes (2^80 bytes) on purpose and must see MemoryError, as with glibc's malloc,
# not an ASan abort.  ASan reports go to log files ($SANITIZE_LOGS), one per process, so a
# report in a child process that a test expected to fail is still seen; UBSan reports are
# searched for in the output.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=${SANITIZE_SRC:-/tmp/fastcorr-asan}
venv=${SANITIZE_VENV:-/tmp/venv-asan}
logs=${SANITIZE_LOGS:-/tmp/fastcorr-asan-logs}
python=${PYTHON:-python3}
start=$(date +%s)

cc=${CC:-gcc}
libasan=$("$cc" -print-file-name=libasan.so)
libubsan=$("$cc" -print-file-name=libubsan.so)
if [ ! -e "$libasan" ] || [ ! -e "$libubsan" ]; then
    echo "== installing the sanitizer runtimes (apt-get)"
    gccver=$("$cc" -dumpversion | cut -d. -f1)
    apt-get update -qq && apt-get install -y -qq "libgcc-${gccver}-dev" libasan8 libubsan1
    libasan=$("$cc" -print-file-name=libasan.so)
fi
libasan=$(readlink -f "$libasan")
echo "== ASan runtime: $libasan"

rm -rf "$src"
mkdir -p "$src"
if [ -n "${SANITIZE_REF:-}" ]; then
    echo "== exporting $SANITIZE_REF to $src"
    (cd "$top" && git archive "$SANITIZE_REF") | tar -x -C "$src"
else
    echo "== copying the working tree to $src"
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp --parents -t "$src")
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q numpy scipy pytest hypothesis threadpoolctl "Cython>=3.0" \
    "setuptools>=69" wheel

if [ -z "${SANITIZE_NO_BUILD:-}" ]; then
    echo "== building with -fsanitize=address,undefined"
    # UBSan checks stay recoverable in the build; UBSAN_OPTIONS decides whether the first
    # report stops the process (halt_on_error=1, the default here) or all are listed.
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -g"
    CC="$cc" CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
        "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall "$src"
fi
# Located without importing it: an ASan-linked module may only load with the runtime preloaded.
so=$("$venv/bin/python" -c 'import glob, importlib.util as u, os
pkg = u.find_spec("fastcorr").submodule_search_locations[0]
print(glob.glob(os.path.join(pkg, "_core*.so"))[0])')
case "$so" in "$venv"/*) ;; *) echo "fastcorr._core comes from $so, not $venv"; exit 1 ;; esac
if ! ldd "$so" | grep libasan >/dev/null; then  # not -q: an early exit SIGPIPEs ldd under pipefail
    echo "$so is not linked with ASan"; exit 1; fi
echo "== extension: $so (linked with $(ldd "$so" | grep -o 'lib[a-z]*san[^ ]*' | tr '\n' ' '))"

rm -rf "$logs"
mkdir -p "$logs"
halt=${SANITIZE_HALT:-1}
echo "== pytest under ASan+UBSan (halt_on_error=$halt): $*"
# --capture=sys: pytest captures Python-level output only, so a sanitizer report written to
# file descriptor 2 by pytest's own process reaches this log even when it ends the process
# (UBSan ignores log_path when it runs beside ASan, so its reports are found in the output).
set +e
(cd "$src" &&
    LD_PRELOAD="$libasan" \
    ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:log_path=$logs/asan" \
    UBSAN_OPTIONS="halt_on_error=$halt:print_stacktrace=1" \
    PYTHONFAULTHANDLER=1 \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --capture=sys tests "$@") \
    2>&1 | tee "$logs/pytest.out"
status=${PIPESTATUS[0]}
set -e
# (allocator_may_return_null=1 also writes a WARNING for each refused huge allocation: not a
# report.)
reports=$(grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$logs"/asan* \
          2>/dev/null | sort || true)
ub=$(grep -c -E "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$logs/pytest.out" || true)
elapsed=$(( $(date +%s) - start ))
if [ -n "$reports" ]; then
    echo "== ASan reports:"
    for r in $reports; do echo "---- $r"; cat "$r"; done
fi
if [ "$ub" -gt 0 ]; then
    echo "== sanitizer reports in the output (distinct sites):"
    grep -E "runtime error:|ERROR: AddressSanitizer" "$logs/pytest.out" | sort | uniq -c
fi
if [ "$status" -ne 0 ] || [ -n "$reports" ] || [ "$ub" -gt 0 ]; then
    echo "sanitize: FAIL (pytest exit $status, $(echo "$reports" | grep -c . ) ASan log files," \
         "$ub reports in the output) in ${elapsed} s"
    exit 1
fi
echo "sanitize: PASS, no ASan/UBSan report, in ${elapsed} s"
