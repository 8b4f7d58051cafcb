"""Serve a directory on 127.0.0.1, load it in headless Chromium, and check screenshots.

The pieces ``dashboard_screenshot.py`` (the asv dashboard) and ``docs_check.py`` (the
documentation site) both need, in one place.  Standard library only; ``tools/`` is not a
package, so a tool imports this with ``sys.path.insert(0, os.path.dirname(__file__))``.

serve
    An ``http.server`` on a free port of 127.0.0.1, answering from a thread.  Optionally it
    records every request (path, status, bytes sent), asks the browser not to cache (so each
    page load requests all of its resources again and the record is complete), and inserts a
    snippet before ``</body>`` of every HTML page it sends (the files on disk are untouched).
find_chromium, chromium
    Debian's ``chromium`` run headless with the flags that work as root in a container
    (``--no-sandbox``, ``--disable-gpu``, a throw-away ``--user-data-dir``) and
    ``--virtual-time-budget`` so the page's scripts and loads finish before ``--dump-dom`` or
    ``--screenshot`` happen; both may be given to one run.
read_png, pixel_statistics
    Decode the 8-bit RGB/RGBA PNG Chromium writes (zlib and the five PNG filters; no imaging
    library) and measure how much of it is not white, so a blank screenshot is caught.

Errors (no browser, a browser that fails, a file that is not such a PNG) raise
``HeadlessError``; each tool reports it in its own words.
"""
import functools
import http.server
import io
import os
import shutil
import struct
import subprocess
import threading
import zlib

WINDOW = (1400, 1000)


class HeadlessError(Exception):
    """Something the checks cannot work without failed (the browser, a PNG)."""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Quiet file handler; with `log` a list, appends one dict per request to it."""

    def __init__(self, *args, log=None, inject=None, no_store=False, **kwargs):
        self._log, self._inject, self._no_store = log, inject, no_store
        self._entry = None
        super().__init__(*args, **kwargs)

    def log_message(self, *args):
        pass

    def log_request(self, code="-", size="-"):
        if self._log is not None:
            self._entry = {"path": self.path, "status": int(code), "bytes": 0}
            self._log.append(self._entry)

    def send_header(self, keyword, value):
        if keyword.lower() == "content-length" and self._entry is not None:
            self._entry["bytes"] = int(value)
        super().send_header(keyword, value)

    def end_headers(self):
        if self._no_store:
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self):
        if self._inject is None:
            return super().send_head()
        path = self.translate_path(self.path)
        if not (path.endswith(".html") and os.path.isfile(path)):
            return super().send_head()
        with open(path, "rb") as f:
            page = f.read()
        end = page.rfind(b"</body>")
        page = page[:end] + self._inject + page[end:] if end >= 0 else page + self._inject
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        return io.BytesIO(page)


def serve(directory, log=None, inject=None, no_store=False):
    """Serve `directory` on 127.0.0.1 (a free port) from a daemon thread; returns the server.

    `log`: a list to which each request's ``{"path", "status", "bytes"}`` is appended.
    `inject`: bytes inserted before ``</body>`` of every ``.html`` file sent.
    `no_store`: send ``Cache-Control: no-store`` so the browser requests every resource anew.
    The URL is ``http://127.0.0.1:{server.server_address[1]}/``; stop it with ``shutdown()``.
    """
    handler = functools.partial(_Handler, directory=directory, log=log,
                                inject=None if inject is None else bytes(inject),
                                no_store=no_store)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise HeadlessError("no Chromium found: install Debian's package (apt-get install -y chromium)")


def chromium(browser, profile, url, *mode, window=WINDOW, budget=10000, timeout=120):
    """Run headless `browser` on `url` with `mode` flags (``--dump-dom``, ``--screenshot=F``).

    `profile` is the ``--user-data-dir`` (a temporary directory); `budget` the virtual time,
    in ms, the page gets to run its scripts and finish loading.  Returns stdout (the DOM, with
    ``--dump-dom``).
    """
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={profile}",
           f"--window-size={window[0]},{window[1]}", f"--virtual-time-budget={budget}",
           *mode, url]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HeadlessError(f"chromium did not finish {url} within {timeout} s") from None
    if proc.returncode != 0:
        raise HeadlessError(f"chromium exited with {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def read_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit non-interlaced RGB/RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise HeadlessError(f"{path} is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise HeadlessError(f"{path}: unexpected PNG format (depth {depth}, colour type "
                            f"{colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upleft = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        previous = line
    return width, height, rows


def pixel_statistics(path):
    """Share of non-white pixels, share of saturated (plot-colour) pixels, distinct colours.

    Returns ``(width, height, non_white, coloured, colours)``; colours are counted at 5 bits
    per channel.
    """
    width, height, rows = read_png(path)
    total = width * height
    ink = coloured = 0
    colours = set()
    for row in rows:
        for r, g, b in row:
            if r < 240 or g < 240 or b < 240:
                ink += 1
            if max(r, g, b) - min(r, g, b) > 80:
                coloured += 1
            colours.add((r >> 3, g >> 3, b >> 3))
    return width, height, ink / total, coloured / total, len(colours)
