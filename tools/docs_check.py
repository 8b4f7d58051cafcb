#!/usr/bin/env python3
"""Check the built documentation site in headless Chromium, as a reader meets it.

Serves the html directory Sphinx wrote on 127.0.0.1 (a free port, from a thread) and loads,
each in headless Chromium (Debian's ``chromium``; ``tools/headless.py``):

========================================================  =====================================
page                                                      expected
========================================================  =====================================
``index.html``                                            heading "fastcorr", the install line;
                                                          links to the API, guides and gallery
``api/index.html``                                        heading "API reference"; a link to
                                                          every face page
``api/ndimage.html``                                      the table: a row per function of the
                                                          face (its generated page), linked,
                                                          with its peer ``scipy.ndimage.<name>``
``api/generated/fastcorr.ndimage.gaussian_filter.html``   its name, "Peer:
                                                          scipy.ndimage.gaussian_filter",
                                                          "Parameters", "Examples" with ``>>>``
``guides/index.html``                                     a link to every guide
``guides/*.html`` (all of them)                           a heading and at least 100 words
``auto_examples/index.html``                              a rendered thumbnail and a link for
                                                          every example
``auto_examples/plot_*.html`` (all of them; none fails)   a figure the script drew
                                                          (``sphx_glr_plot_*``), no traceback
========================================================  =====================================

and, on every page: it was reached by a link from a page checked before it (the landing page
first); every ``<img>`` finished loading with a ``naturalWidth`` above 0; the server answered
no request made while loading it with an error (``favicon.ico`` aside); no Sphinx/docutils
error box (``system-message``) is shown.

Whether images rendered is read from the page itself: the server inserts, into each HTML page
it sends (not into the files), a script that after ``load`` (and after any image still loading
settled) writes every ``<img>``'s ``src``, ``complete`` and ``naturalWidth`` to
``<html data-fastcorr-check=...>``, which ``--dump-dom`` shows.  ``--virtual-time-budget`` lets
the loads finish first.

Screenshots of the gallery examples and the API face page go to ``--screenshots`` (a new
temporary directory by default; never inside the repository) and each must not be blank: a
share of non-white pixels and of distinct colours (decoded with zlib, no imaging library).

Prints one line per page (status, images rendered, bytes served) and exits non-zero naming each
failed check.  Standard library only.  Usage::

    python -m sphinx -b html docs docs/_build/html
    python tools/docs_check.py docs/_build/html [--screenshots DIR]
"""
import argparse
import html.parser
import json
import os
import posixpath
import re
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from headless import HeadlessError, chromium, find_chromium, pixel_statistics, serve  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FACE, FUNCTION, PEER_MODULE = "ndimage", "gaussian_filter", "scipy.ndimage"
WINDOW = (1400, 1000)
GALLERY_WINDOW = (1400, 1600)     # tall enough that an example's first figure is in the shot
# A screenshot is blank below these: the share of non-white pixels, distinct colours.
MIN_INK, MIN_COLOURS = 0.02, 16
MIN_GUIDE_WORDS = 100             # fewer in the guide's article: a placeholder, not a guide

# Inserted before </body> of every HTML page served; lazy images are made eager so they load.
PROBE = b"""<script>(function () {
  function record(when) {
    var images = Array.prototype.map.call(document.images, function (img) {
      return {src: img.getAttribute("src"), url: img.currentSrc || img.src,
              complete: img.complete, naturalWidth: img.naturalWidth};
    });
    document.documentElement.dataset.fastcorrCheck =
        JSON.stringify({when: when, images: images});
  }
  window.addEventListener("load", function () {
    record("load");
    var pending = Array.prototype.filter.call(document.images, function (img) {
      if (img.loading === "lazy") { img.loading = "eager"; }
      return !img.complete;
    });
    Promise.all(pending.map(function (img) {
      return new Promise(function (settled) {
        img.addEventListener("load", settled);
        img.addEventListener("error", settled);
      });
    })).then(function () { record("settled"); });
  });
})();</script>
"""
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(html.parser.HTMLParser):
    """What a check needs from a dumped DOM: title, h1, text, links, tables, error blocks."""

    def __init__(self, dom):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = []
        self.text = []
        self.article = ""        # the text of the page's <article> (its content, no navigation)
        self.links = []          # hrefs, as written
        self.tables = []         # [[(cell text, [hrefs]), ...] per row] per table
        self.record = None       # the probe's JSON, if it ran
        self.errors = []         # text of blocks that show a failure
        self.outputs = []        # text of sphinx-gallery's script outputs
        self.imgs = []           # src of every <img> in the DOM
        self._stack = []         # (tag, flags) of open elements
        self._cell = None
        self.feed(dom)
        self.close()
        self.text = " ".join("".join(self.text).split())
        self.article = " ".join(self.article.split())

    def _inside(self, flag):
        return any(flag in flags for _, flags in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "html" and attrs.get("data-fastcorr-check"):
            self.record = json.loads(attrs["data-fastcorr-check"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
            if self._cell is not None:
                self._cell[1].append(attrs["href"])
        if tag == "img":
            self.imgs.append(attrs.get("src") or "")
        if tag in VOID:
            return
        flags = set()
        if tag in ("script", "style", "template", "noscript") or "headerlink" in classes:
            flags.add("hidden")
        if tag == "title":
            flags.add("title")
        if tag == "article":
            flags.add("article")
        if tag == "h1":
            flags.add("h1")
            self.h1.append("")
        if "highlight-pytb" in classes or "system-message" in classes:
            flags.add("error")
            self.errors.append("")
        if "sphx-glr-script-out" in classes:
            flags.add("output")
            self.outputs.append("")
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ["", []]
        self._stack.append((tag, flags))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self._stack:                  # the DOM Chromium serializes closes every element
            open_tag, _ = self._stack.pop()
            if open_tag == tag:
                break
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append((" ".join(self._cell[0].split()), self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._inside("hidden"):
            return
        if self._inside("title"):
            self.title += data
            return
        self.text.append(data)
        if self._inside("article"):
            self.article += data
        if self._inside("h1"):
            self.h1[-1] += data
        if self._inside("error"):
            self.errors[-1] += data
        if self._inside("output"):
            self.outputs[-1] += data
        if self._cell is not None:
            self._cell[0] += data

    @property
    def heading(self):
        return " ".join(self.h1[0].split()) if self.h1 else ""


class Checker:
    """Loads pages one by one and collects what failed, per page."""

    def __init__(self, site, browser, profile, screenshots):
        self.site, self.browser, self.profile = site, browser, profile
        self.screenshots = screenshots
        self.log = []
        self.server = serve(site, log=self.log, inject=PROBE, no_store=True)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.failures = []
        self.reachable = {"index.html"}      # pages a reader has a link to so far

    def fail(self, page, message):
        self.failures.append(f"{page}: {message}")

    def local(self, page, href):
        """The site path `href` on `page` points at (None if it leaves the site)."""
        url = urllib.parse.urljoin(self.base + page, href)
        url = urllib.parse.urldefrag(url)[0].split("?")[0]
        if not url.startswith(self.base):
            return None
        path = url[len(self.base):]
        return posixpath.join(path, "index.html") if path.endswith("/") or not path else path

    def load(self, page, screenshot=False, window=WINDOW):
        """Load `page` in Chromium; run the checks every page gets; return its Page or None."""
        if page not in self.reachable:
            self.fail(page, "no link to it from the pages checked before it")
        first = len(self.log)
        mode = ["--dump-dom"]
        png = None
        if screenshot:
            png = os.path.join(self.screenshots, page.replace("/", "_")[:-len(".html")] + ".png")
            mode.append(f"--screenshot={png}")
        dom = chromium(self.browser, self.profile, self.base + page, *mode, window=window)
        requests = self.log[first:]
        served = sum(entry["bytes"] for entry in requests)
        own = [entry for entry in requests if entry["path"].split("?")[0] == "/" + page]
        status = own[0]["status"] if own else None
        if status != 200:
            self.fail(page, f"the server answered {status} for the page itself")
            print(f"FAILED  {page}: answered {status}")
            return None
        parsed = Page(dom)
        for entry in requests:
            if entry["status"] >= 400 and entry["path"].split("?")[0] != "/favicon.ico":
                self.fail(page, f"request for {entry['path']} answered {entry['status']}")
        images = (parsed.record or {}).get("images")
        if images is None:
            self.fail(page, "the injected probe recorded nothing: the page's load event never "
                            "fired within the virtual time budget")
            images = []
        broken = [img for img in images if not img["complete"] or img["naturalWidth"] <= 0]
        for img in broken:
            self.fail(page, f"image {img['src']} did not render (complete={img['complete']}, "
                            f"naturalWidth={img['naturalWidth']})")
        for error in parsed.errors:
            lines = [line.strip() for line in error.splitlines() if line.strip()] or [""]
            shown = lines[0][:80] + (f" ... {lines[-1][:200]}" if len(lines) > 1 else "")
            self.fail(page, f"shows an error: {shown}")
        for href in parsed.links:
            target = self.local(page, href)
            if target:
                self.reachable.add(target)
        line = (f"{page}: {status}, {len(images) - len(broken)}/{len(images)} images ok, "
                f"{len(requests)} requests, {served:,} bytes served (page "
                f"{os.path.getsize(os.path.join(self.site, page)):,} bytes)")
        if png:
            line += self.check_screenshot(page, png)
        print(line)
        return parsed

    def check_screenshot(self, page, png):
        if not os.path.exists(png):
            self.fail(page, f"chromium wrote no screenshot {png}")
            return ""
        width, height, ink, _, colours = pixel_statistics(png)
        if ink < MIN_INK or colours < MIN_COLOURS:
            self.fail(page, f"screenshot {png} looks blank ({ink:.1%} non-white, "
                            f"{colours} colours)")
        return (f"; screenshot {os.path.basename(png)} {width}x{height}, {ink:.1%} non-white, "
                f"{colours} colours, {os.path.getsize(png):,} bytes")

    def expect(self, page, parsed, heading=None, texts=(), links=()):
        """`parsed` has the heading `heading`, contains `texts` and links to `links`."""
        if heading is not None and parsed.heading != heading:
            self.fail(page, f"heading is {parsed.heading!r}, expected {heading!r}")
        if parsed.heading and not parsed.title.strip().startswith(parsed.heading):
            self.fail(page, f"title {parsed.title.strip()!r} does not start with its heading")
        for text in texts:
            if text not in parsed.text:
                self.fail(page, f"does not contain {text!r}")
        targets = {self.local(page, href) for href in parsed.links}
        for link in links:
            if link not in targets:
                self.fail(page, f"has no link to {link}")


def face_table(checker, page, parsed, face, functions):
    """The face page's table: one row per function, linked to its page, beside its peer."""
    tables = [t for t in parsed.tables if t and [c for c, _ in t[0]][:2] == ["function", "peer"]]
    if not tables:
        checker.fail(page, "has no table with the columns 'function' and 'peer'")
        return
    rows = {cells[0][0]: cells for cells in tables[0][1:] if cells}
    for name in functions:
        cells = rows.get(name)
        if cells is None:
            checker.fail(page, f"the table has no row for {name}")
            continue
        target = f"api/generated/fastcorr.{face}.{name}.html"
        if target not in {checker.local(page, href) for href in cells[0][1]}:
            checker.fail(page, f"the row of {name} does not link to {target}")
        peer = cells[1][0] if len(cells) > 1 else ""
        if peer != f"{PEER_MODULE}.{name}":
            checker.fail(page, f"the peer of {name} is {peer!r}, expected "
                               f"'{PEER_MODULE}.{name}'")
    extra = sorted(set(rows) - set(functions))
    if extra:
        checker.fail(page, f"the table lists functions without a page: {extra}")


ERROR_LINE = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)): ", re.M)


def gallery_output_errors(checker, page, parsed):
    """The text of a failed example: a traceback, or an 'XxxError: ...' line in its output."""
    if parsed.errors:           # sphinx-gallery's traceback block: reported with its text
        return
    if "Traceback (most recent call last)" in parsed.text:
        checker.fail(page, "shows a Python traceback")
    for output in parsed.outputs:
        match = ERROR_LINE.search(output)
        if match:
            checker.fail(page, f"its output shows {match.group(0).strip()} ...: the script "
                               "raised")


def check_site(checker):
    site = checker.site
    guides = sorted(f"guides/{name}" for name in os.listdir(os.path.join(site, "guides"))
                    if name.endswith(".html") and name != "index.html") \
        if os.path.isdir(os.path.join(site, "guides")) else []
    face_page = f"api/{FACE}.html"
    function_page = f"api/generated/fastcorr.{FACE}.{FUNCTION}.html"
    examples = sorted(name for name in os.listdir(os.path.join(site, "auto_examples"))
                      if name.startswith("plot_") and name.endswith(".html")) \
        if os.path.isdir(os.path.join(site, "auto_examples")) else []
    examples = [f"auto_examples/{name}" for name in examples]
    faces = sorted(f"api/{name}" for name in os.listdir(os.path.join(site, "api"))
                   if name.endswith(".html") and name != "index.html") \
        if os.path.isdir(os.path.join(site, "api")) else []
    prefix = f"fastcorr.{FACE}."
    functions = sorted(name[len(prefix):-len(".html")]
                       for name in os.listdir(os.path.join(site, "api", "generated"))
                       if name.startswith(prefix) and name.count(".") == 3) \
        if os.path.isdir(os.path.join(site, "api", "generated")) else []

    parsed = checker.load("index.html")
    if parsed:
        checker.expect("index.html", parsed, heading="fastcorr", texts=["pip install fastcorr"],
                       links=["api/index.html", "auto_examples/index.html",
                              "guides/index.html"])
    parsed = checker.load("api/index.html")
    if parsed:
        checker.expect("api/index.html", parsed, heading="API reference", links=faces)
        if face_page not in faces:
            checker.fail("api/index.html", f"{face_page} was not built")
    parsed = checker.load(face_page, screenshot=True)
    if parsed:
        checker.expect(face_page, parsed, texts=[f"fastcorr.{FACE}"])
        if not parsed.heading.startswith(f"fastcorr.{FACE}"):
            checker.fail(face_page, f"heading is {parsed.heading!r}")
        if not functions:
            checker.fail(face_page, f"no function pages api/generated/{prefix}*.html were built")
        face_table(checker, face_page, parsed, FACE, functions)
    parsed = checker.load(function_page)
    if parsed:
        qualname = f"fastcorr.{FACE}.{FUNCTION}"
        checker.expect(function_page, parsed, heading=qualname,
                       texts=[f"Peer: {PEER_MODULE}.{FUNCTION}", f"{qualname}(", "Parameters",
                              "Returns", "Examples", ">>> "])
    parsed = checker.load("guides/index.html")
    if parsed:
        checker.expect("guides/index.html", parsed, links=guides)
    if not guides:
        checker.fail("guides/", "no guide pages (guides/*.html)")
    for guide in guides:
        parsed = checker.load(guide)
        if parsed:
            checker.expect(guide, parsed)
            words = len(parsed.article.split())
            if not parsed.heading:
                checker.fail(guide, "has no heading")
            if words < MIN_GUIDE_WORDS:
                checker.fail(guide, f"has {words} words of text, fewer than {MIN_GUIDE_WORDS}: "
                                    "a placeholder?")
    parsed = checker.load("auto_examples/index.html")
    if parsed:
        checker.expect("auto_examples/index.html", parsed, links=examples)
        for example in examples:
            name = posixpath.basename(example)[:-len(".html")]
            if not any(posixpath.basename(src) == f"sphx_glr_{name}_thumb.png"
                       for src in parsed.imgs):
                checker.fail("auto_examples/index.html", f"no thumbnail of {name}")
        if any("broken_example" in src for src in parsed.imgs):
            checker.fail("auto_examples/index.html", "shows a broken-example thumbnail")
    if not examples:
        checker.fail("auto_examples/", "no gallery example pages (auto_examples/plot_*.html)")
    for example in examples:
        parsed = checker.load(example, screenshot=True, window=GALLERY_WINDOW)
        if parsed:
            checker.expect(example, parsed)
            name = posixpath.basename(example)[:-len(".html")]
            figures = [src for src in parsed.imgs
                       if posixpath.basename(src).startswith(f"sphx_glr_{name}_")
                       and not src.endswith("_thumb.png")]
            if not figures:
                checker.fail(example, f"shows no figure of the script (sphx_glr_{name}_*)")
            gallery_output_errors(checker, example, parsed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", help="the html directory Sphinx built (docs/_build/html)")
    parser.add_argument("--screenshots", help="where the PNGs go (default: a new temp dir; "
                                              "not inside the repository)")
    args = parser.parse_args()
    start = time.perf_counter()

    site = os.path.abspath(args.site)
    if not os.path.isfile(os.path.join(site, "index.html")):
        sys.exit(f"docs_check: FAILED: {site}/index.html is missing: build the site first")
    if args.screenshots:
        shots = os.path.abspath(args.screenshots)
        if os.path.commonpath([shots, ROOT]) == ROOT:
            sys.exit(f"docs_check: --screenshots {shots} is inside the repository {ROOT}; "
                     "give a directory outside it")
        os.makedirs(shots, exist_ok=True)
    else:
        shots = tempfile.mkdtemp(prefix="docs_check_")
    print(f"screenshots: {shots}")

    try:
        browser = find_chromium()
        with tempfile.TemporaryDirectory() as profile:
            checker = Checker(site, browser, profile, shots)
            try:
                check_site(checker)
            finally:
                checker.server.shutdown()
    except HeadlessError as error:
        sys.exit(f"docs_check: FAILED: {error}")

    elapsed = time.perf_counter() - start
    if checker.failures:
        sys.exit("docs_check: FAILED:\n  " + "\n  ".join(checker.failures)
                 + f"\n({len(checker.failures)} failures, {elapsed:.1f} s)")
    print(f"docs_check: OK ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
