#!/bin/sh
# Builds and runs tests/c/test_kernels.c against the kernel layer, natively or for aarch64.
#   tools/test_kernels_c.sh            native (x86-64: scalar, baseline=SSE2, avx2, avx512 compiled)
#   tools/test_kernels_c.sh aarch64    cross-compiled, run under qemu-aarch64 (baseline = NEON)
# aarch64 needs Debian's gcc-aarch64-linux-gnu and qemu-user.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
k="$top/src/fastcorr/_kernels"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-native}" = aarch64 ]; then
    cc=aarch64-linux-gnu-gcc
    paths="SCALAR: BASELINE:"
    defs=""
    run="qemu-aarch64 -L /usr/aarch64-linux-gnu"
else
    cc=${CC:-cc}
    paths="SCALAR: BASELINE: AVX2:-mavx2,-mfma AVX512:-mavx512f,-mavx2,-mfma"
    defs="-DFC_WITH_X86_PATHS"
    run=""
fi
# The paths' objects compile at once: each corr_kernels.c object takes gcc up to a minute at
# -O3 (the unrolled blocks), one after another most of a test run's time.
objs=""
pids=""
for p in $paths; do
    name=${p%%:*}
    flags=$(echo "${p#*:}" | tr , ' ')
    $cc -O3 -std=c99 -Wall -Wextra -Werror $defs -DFC_ISA_$name $flags -c "$k/corr_kernels.c" -o "$out/k_$name.o" &
    pids="$pids $!"
    $cc -O3 -std=c99 -Wall -Wextra -Werror -ffp-contract=off $defs -DFC_ISA_$name $flags -c "$k/exact_kernels.c" -o "$out/x_$name.o"
    objs="$objs $out/k_$name.o $out/x_$name.o"
done
for pid in $pids; do
    wait "$pid" || { echo "FAIL: a kernel object did not compile" >&2; exit 1; }
done
$cc -O2 -std=c99 -Wall -Wextra -Werror $defs -I"$k" "$k/dispatch.c" "$top/tests/c/test_kernels.c" $objs -lm -o "$out/test_kernels"
$run "$out/test_kernels"
