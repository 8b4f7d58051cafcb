#!/usr/bin/env bash
# Benchmark history with asv: the last N commits of main (default 6), then `asv publish`, then a
# check that the published dashboard renders (tools/dashboard_screenshot.py, headless Chromium).
#
#   tools/asv_history.sh                 # last 6 commits, quick mode (about 10-15 min, 2 cores)
#   ASV_COMMITS=10 tools/asv_history.sh  # more history
#   ASV_BENCH='Correlate' ASV_QUICK= tools/asv_history.sh   # other benchmarks, full sampling
#
# Needs asv (pip install ".[bench]"), git, and Debian's chromium for the screenshot. Results,
# environments and the html live in .asv/ (not committed); the screenshots are
# .asv/dashboard.png (fastcorr's graph over the commits) and .asv/dashboard-summary.png.
#
# --quick runs each benchmark once per commit: enough to see a trend and to check the
# dashboard, not for a precise comparison (drop it with ASV_QUICK= for that). The default
# selection is fastcorr's main grid and small-image case plus the peers (OpenCV, scipy's FFT and
# direct correlation), which skip cleanly where they are not installed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
commits=${ASV_COMMITS:-6}
# asv matches a parameterized benchmark as "name(param, ...)", hence the "\(" after a full name.
bench=${ASV_BENCH:-'^bench_correlate\.(Correlate\.time_fastcorr\(|SmallImage\.time_fastcorr\(|CV2Filter2D\.|ScipyFFTConvolve\.|ScipySignalCorrelate2dCrop\.)'}
quick=${ASV_QUICK---quick}
asv=${ASV:-asv}
command -v "$asv" >/dev/null || { echo "asv not found: pip install '.[bench]'" >&2; exit 1; }

mkdir -p .asv
git log --format=%H -n "$commits" main >.asv/history-commits.txt
echo "== commits:"
git log --format='   %h %s' -n "$commits" main

"$asv" machine --yes >/dev/null
start=$SECONDS
# asv exits non-zero when a benchmark fails on some commit (an old commit without a feature a
# benchmark uses); that is history, not an error here. What must hold is checked below: the
# dashboard shows results for at least 5 commits.
status=0
"$asv" run $quick --show-stderr --skip-existing-commits --bench "$bench" \
    HASHFILE:.asv/history-commits.txt || status=$?
echo "== asv run finished in $((SECONDS - start)) s (exit status $status)"

"$asv" publish
python3 tools/dashboard_screenshot.py --html .asv/html --out .asv/dashboard.png --min-commits 5
echo "== asv history and dashboard done in ${SECONDS} s; view it with: asv preview"
