#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks of strand's SVG flame graphs, for the tests to call.

    well_formed(path)        -> the parsed root; raises ValueError when it is not XML, or
                                not a self-contained SVG (an external reference)
    frames(path)             -> [(name, tasks, depth)] of the drawn frames
    screenshot(path, png)    -> png, taken by Debian's headless Chromium; raises when the
                                picture is missing, empty or of a single colour
    firefox_screenshot(path, png) -> the same by Firefox (firefox-esr), None without it
    png_colours(png)         -> how many distinct colours the PNG has (zlib and struct only)
    run(path, query)         -> (DOM after the script ran, the console's errors), Chromium
    exercise(path)           -> what a hover, a click and a search did, through the
                                script's own event handlers (a dict; raises on script errors)

Run as a script, it renders the unit test's fixtures (build/unit/report/fmt/test_flamegraph DIR) and
checks and screenshots each: python3 tests/report/svgcheck.py [OUTDIR]
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
# what would make a browser fetch something: the file must stand alone
EXTERNAL = ("href", "{http://www.w3.org/1999/xlink}href", "src")


def well_formed(path):
    root = ET.parse(path).getroot()
    if root.tag != SVG + "svg":
        raise ValueError(f"{path}: root is {root.tag}, not an SVG")
    for el in root.iter():
        for attr in EXTERNAL:
            if attr in el.attrib:
                raise ValueError(f"{path}: {el.tag} refers to {el.attrib[attr]}")
        for attr, value in el.attrib.items():
            if "url(" in value and not value.startswith("url(#"):
                raise ValueError(f"{path}: {el.tag} {attr}={value} is not in the file")
    return root


def frames(path):
    out = []
    for g in well_formed(path).iter(SVG + "g"):
        if g.get("class") != "f":
            continue
        title = g.find(SVG + "title").text
        out.append((title.split("\n")[0], int(g.get("data-w")), int(g.get("data-d"))))
    return out


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    raise FileNotFoundError("no chromium: apt-get install chromium (scripts/deps.sh)")


def _chromium(args, url):
    with tempfile.TemporaryDirectory(prefix="strand-chromium-") as profile:
        return subprocess.run(
            [browser(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}"] + args + [url],
            capture_output=True, text=True, timeout=120, check=False)


def _url(path, query):
    return "file://" + os.path.abspath(path) + (("?" + query) if query else "")


def run(path, query=""):
    r = _chromium(["--enable-logging=stderr", "--v=0", "--dump-dom"], _url(path, query))
    errors = [line for line in r.stderr.splitlines()
              if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    return r.stdout, errors


# Dispatched at load, after the file's own script set up: a hover on the widest frame above
# the root, a click on it, then the results written into the document for run() to read.
_EXERCISE = """<script type="text/ecmascript"><![CDATA[
window.addEventListener('load', function () {
  var fs = document.querySelectorAll('#frames .f'), g = null, out = {};
  for (var i = 0; i < fs.length; i++)
    if (+fs[i].getAttribute('data-d') === 1 &&
        (!g || +fs[i].getAttribute('data-w') > +g.getAttribute('data-w'))) g = fs[i];
  var at = g.querySelector('rect');
  at.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  out.details = document.getElementById('details').textContent;
  out.title = g.querySelector('title').textContent;
  at.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  out.hidden = document.querySelectorAll('#frames .f.hide').length;
  out.ancestors = document.querySelectorAll('#frames .f.anc').length;
  out.width = +at.getAttribute('width');
  out.full = +document.getElementById('frames').getAttribute('data-width');
  out.unzoom = document.getElementById('unzoom').getAttribute('class');
  document.getElementById('unzoom').dispatchEvent(new MouseEvent('click', {bubbles: true}));
  out.hidden_after = document.querySelectorAll('#frames .f.hide').length;
  var t = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  t.setAttribute('id', 'strand-exercise');
  t.textContent = JSON.stringify(out);
  document.documentElement.appendChild(t);
});
]]></script>
</svg>"""


def exercise(path):
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    with tempfile.TemporaryDirectory(prefix="strand-svg-") as tmp:
        copy = os.path.join(tmp, "exercise.svg")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(svg[:svg.rindex("</svg>")] + _EXERCISE)
        dom, errors = run(copy, "s=.")
    if errors:
        raise RuntimeError(f"{path}: script errors: {errors}")
    found = ET.fromstring(dom).find(f".//{SVG}text[@id='strand-exercise']")
    if found is None:
        raise RuntimeError(f"{path}: the exercise did not run")
    result = json.loads(found.text)
    root = ET.fromstring(dom)
    matched = root.find(f".//{SVG}text[@id='matched']")
    result["matched"] = matched.text if matched is not None else None
    return result


def screenshot(path, png, width=1200, height=900, query=""):
    """Renders path (with ?query, which the script reads: s=REGEX searches, x=X&d=D zooms)
    in headless Chromium, a profile of its own and nothing fetched, into png."""
    url = _url(path, query)
    if os.path.exists(png):
        os.unlink(png)
    _chromium([f"--screenshot={os.path.abspath(png)}", f"--window-size={width},{height}"], url)
    if not os.path.exists(png) or os.path.getsize(png) == 0:
        raise RuntimeError(f"chromium made no screenshot of {url}")
    colours = png_colours(png)
    if colours < 2:
        raise RuntimeError(f"{png}: a single colour, nothing was drawn")
    return png


def firefox_screenshot(path, png, width=1200, height=900, query=""):
    firefox = shutil.which("firefox-esr") or shutil.which("firefox")
    if not firefox:
        return None
    if os.path.exists(png):
        os.unlink(png)
    with tempfile.TemporaryDirectory(prefix="strand-firefox-") as profile:
        subprocess.run([firefox, "--headless", "--no-remote", "--profile", profile,
                        f"--window-size={width},{height}", "--screenshot",
                        os.path.abspath(png), _url(path, query)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       check=False)
    if not os.path.exists(png) or png_colours(png) < 2:
        raise RuntimeError(f"firefox made no picture of {path}")
    return png


def _unfilter(rows, bpp, stride):
    """PNG's per-row filters undone (RFC 2083, 6): rows of raw pixel bytes."""
    prev = bytearray(stride)
    out = []
    pos = 0
    while pos < len(rows):
        kind, line = rows[pos], bytearray(rows[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xff
            elif kind == 2:
                line[i] = (line[i] + b) & 0xff
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
            elif kind != 0:
                raise ValueError(f"PNG filter {kind}")
        out.append(bytes(line))
        prev = line
    return out


def png_colours(png, limit=4096):
    """Distinct colours of an 8-bit RGB or RGBA PNG (what Chromium writes), up to limit."""
    with open(png, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png}: not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"{png}: depth {depth} colour type {colour} not handled")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    rows = _unfilter(zlib.decompress(idat), bpp, width * bpp)
    seen = set()
    for row in rows[::3]:  # every third row and pixel: enough to tell a picture from a fill
        for i in range(0, len(row), bpp * 3):
            seen.add(row[i:i + bpp])
        if len(seen) >= limit:
            break
    return len(seen)


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strand-svg-")
    os.makedirs(out, exist_ok=True)
    subprocess.run([os.path.join(top, "build/unit/report/fmt/test_flamegraph"), out], check=True)
    shots = [(name, "") for name in ("spawn", "wait", "combined", "empty")]
    shots += [("wait", "s=deliver|fetch"), ("combined", "x=0&d=1")]
    for name, query in shots:
        svg = os.path.join(out, name + ".svg")
        well_formed(svg)
        _, errors = run(svg, query)
        if errors:
            raise RuntimeError(f"{svg}?{query}: {errors}")
        suffix = "-" + query.split("=")[0] if query else ""
        png = screenshot(svg, os.path.join(out, name + suffix + ".png"), query=query)
        print(f"{svg}: {len(frames(svg))} frames, {png}: {png_colours(png)} colours")
        ff = firefox_screenshot(svg, os.path.join(out, "ff-" + name + suffix + ".png"),
                                query=query)
        if ff:
            print(f"  firefox: {ff}: {png_colours(ff)} colours")
    print("exercise:", exercise(os.path.join(out, "wait.svg")))


if __name__ == "__main__":
    main()
