#!/usr/bin/env python3
"""Check that the published asv dashboard renders, and save screenshots of it.

Serves the html directory written by ``asv publish`` on 127.0.0.1 (a thread running
``http.server``), opens it in headless Chromium (Debian's ``chromium`` package) and:

* checks the published data first: ``index.json`` lists the benchmark and its summary graph
  (``graphs/summary/<benchmark>.json``) holds results for at least ``--min-commits`` commits;
* dumps the DOM of the benchmark's graph page after its scripts ran and checks that flot drew
  the plot (its canvases and axis labels) and that no error is shown;
* saves screenshots of that page and of the summary grid, and checks the graph-page PNG is not
  blank: a share of its pixels are plot colours (decoded by headless.py with zlib; no imaging
  library).

Exits non-zero, saying what is missing, if any check fails.  Usage::

    python tools/dashboard_screenshot.py [--html .asv/html] [--out .asv/dashboard.png]
        [--benchmark bench_correlate.Correlate.time_fastcorr] [--min-commits 5]
"""
import argparse
import json
import os
import re
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from headless import HeadlessError, chromium, find_chromium, pixel_statistics, serve  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    sys.exit(f"dashboard_screenshot: FAILED: {message}")


def check_published_data(html, benchmark, min_commits):
    """The benchmark is published with results for at least `min_commits` commits."""
    index_path = os.path.join(html, "index.json")
    if not os.path.exists(index_path):
        fail(f"{index_path} is missing: run `asv publish` first")
    with open(index_path) as f:
        index = json.load(f)
    if benchmark not in index.get("benchmarks", {}):
        fail(f"{benchmark} is not among the published benchmarks: {sorted(index['benchmarks'])}")
    summary = os.path.join(html, "graphs", "summary", benchmark + ".json")
    if not os.path.exists(summary) or os.path.getsize(summary) == 0:
        fail(f"{summary} is missing or empty")
    with open(summary) as f:
        points = [p for p in json.load(f) if p[1] is not None]
    if len(points) < min_commits:
        fail(f"{benchmark} has results for {len(points)} commits, fewer than {min_commits}")
    graphs = sum(name == benchmark + ".json"
                 for _, _, names in os.walk(os.path.join(html, "graphs")) for name in names)
    print(f"published: {len(index['benchmarks'])} benchmarks, {len(index.get('revision_to_hash', {}))}"
          f" commits; {benchmark}: {len(points)} commits with results, {graphs} graph files")
    return len(points)


# asv's page loads jQuery, flot, bootstrap and a few small libraries from public CDNs. Where the
# CDNs cannot be reached (an offline CI machine), a copy of the html is served instead with those
# tags pointing at Debian's packaged copies (libjs-jquery, libjs-jquery-flot, libjs-bootstrap,
# libjs-jquery-stupidtable, node-blueimp-md5); flot-orderbars (bar charts only) is left out.
DEBIAN_JS = "/usr/share/javascript"
LOCAL_COPIES = {
    "jquery-3.3.1.min.js": "jquery/jquery.min.js",
    "jquery.flot.min.js": "jquery-flot/jquery.flot.pack.js",
    "jquery.flot.time.min.js": None,        # in the pack
    "jquery.flot.selection.min.js": None,
    "jquery.flot.categories.min.js": None,
    "jquery.flot.orderBars.js": None,
    "stupidtable.min.js": "jquery-stupidtable/stupidtable.min.js",
    "md5.min.js": "blueimp-md5/md5.min.js",
    "bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
}
DEBIAN_PACKAGES = ("libjs-jquery libjs-jquery-flot libjs-bootstrap libjs-jquery-stupidtable "
                   "node-blueimp-md5")


def cdn_reachable(host="code.jquery.com"):
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def offline_copy(html, workdir):
    """A copy of `html` whose CDN tags point at Debian's packaged libraries."""
    copy = os.path.join(workdir, "html")
    shutil.copytree(html, copy)
    vendor = os.path.join(copy, "_vendor")
    os.makedirs(vendor)
    with open(os.path.join(copy, "index.html")) as f:
        page = f.read()

    def local(match):
        tag, url = match.group(0), match.group(2)
        name = url.rsplit("/", 1)[-1]
        if name not in LOCAL_COPIES:
            fail(f"no local copy known for {url}")
        if LOCAL_COPIES[name] is None:
            return ""
        source = os.path.join(DEBIAN_JS, LOCAL_COPIES[name])
        if not os.path.exists(source):
            fail(f"{source} is missing: apt-get install -y {DEBIAN_PACKAGES}")
        shutil.copy(source, os.path.join(vendor, name))
        tag = tag.replace(url, "_vendor/" + name)
        return re.sub(r'\s(integrity|crossorigin|referrerpolicy)="[^"]*"', "", tag)

    page = re.sub(r'<(script|link)\b[^>]*?(?:src|href)="(https://[^"]+)"[^>]*>(?:</script>)?',
                  local, page)
    with open(os.path.join(copy, "index.html"), "w") as f:
        f.write(page)
    return copy


def main():
    try:
        run()
    except HeadlessError as error:
        fail(str(error))


def run():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default=os.path.join(ROOT, ".asv", "html"))
    parser.add_argument("--out", default=os.path.join(ROOT, ".asv", "dashboard.png"))
    parser.add_argument("--benchmark", default="bench_correlate.Correlate.time_fastcorr")
    parser.add_argument("--min-commits", type=int, default=5)
    args = parser.parse_args()

    check_published_data(args.html, args.benchmark, args.min_commits)
    browser = find_chromium()
    scratch = tempfile.mkdtemp()
    html = args.html
    if not cdn_reachable():
        print("the CDNs asv's page uses are unreachable: serving it with Debian's copies")
        html = offline_copy(args.html, scratch)
    server = serve(html)
    base = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    graph_url = f"{base}#{args.benchmark}"
    try:
        with tempfile.TemporaryDirectory() as profile:
            dom = chromium(browser, profile, graph_url, "--dump-dom")
            chromium(browser, profile, graph_url, f"--screenshot={args.out}")
            summary_png = os.path.splitext(args.out)[0] + "-summary.png"
            summary_dom = chromium(browser, profile, base, "--dump-dom")
            chromium(browser, profile, base, f"--screenshot={summary_png}")
    finally:
        server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    # flot draws into a 'flot-base' canvas and writes tick labels as DOM text.
    canvases = dom.count('class="flot-base"')
    ticks = dom.count("flot-tick-label")
    if canvases == 0 or ticks < 4:
        fail(f"the graph page of {args.benchmark} drew no plot "
             f"({canvases} flot canvases, {ticks} tick labels)")
    if "Can't load" in dom or "Failed to load" in dom:
        fail("the dashboard shows a load error")
    tiles = summary_dom.count("benchmark-container")
    if tiles == 0:
        fail("the summary grid lists no benchmarks")
    width, height, ink, coloured, colours = pixel_statistics(args.out)
    print(f"graph page: {canvases} flot canvases, {ticks} tick labels; summary grid: {tiles} "
          f"benchmarks, {summary_dom.count('flot-base')} thumbnails drawn")
    print(f"{args.out}: {width}x{height}, {ink:.1%} non-white, {coloured:.2%} plot colours, "
          f"{colours} distinct colours")
    if ink < 0.03 or coloured < 0.002 or colours < 16:
        fail(f"{args.out} looks blank (non-white {ink:.1%}, plot colours {coloured:.2%}, "
             f"{colours} colours)")
    print(f"dashboard OK: {args.out}, {summary_png}")


if __name__ == "__main__":
    main()
