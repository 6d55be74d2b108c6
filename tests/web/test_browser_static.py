"""The page's files as the browser gets them: everything they load is one of them (no CDN, no
other site), nothing inline that the server's Content-Security-Policy (``default-src 'self'``)
would refuse, and mask.png is the noise its generator says it is. No browser needed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

STATIC = Path(__file__).resolve().parents[2] / "study_app" / "web" / "static"
PAGES = ("start.html", "trial.html", "end.html")


def test_pages_load_only_their_own_files():
    for name in PAGES:
        html = (STATIC / name).read_text(encoding="utf-8")
        references = re.findall(r"""(?:src|href)=["']([^"']*)["']""", html)
        assert references, name
        for reference in references:
            if reference == "#":  # the end page's completion link, set by end.js
                continue
            assert reference.startswith("/static/"), (name, reference)
            assert (STATIC / reference.removeprefix("/static/")).is_file(), (name, reference)
        # the CSP allows no inline script, style or event handler
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), name
    for script in STATIC.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        for module in re.findall(r"""from\s+["']([^"']+)["']""", source):
            assert module.startswith("./") and (STATIC / module[2:]).is_file(), (script.name, module)
        assert not re.search(r"https?://|\beval\(|new Function|innerHTML", source), script.name
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css


def test_start_page_has_the_servers_placeholders():
    html = (STATIC / "start.html").read_text(encoding="utf-8")
    assert html.count("{{title}}") == 2 and html.count("{{instructions_html}}") == 1


def test_mask_is_the_desktops_noise():
    """tools/make_web_mask.py's draw: 256 x 256 grey levels from numpy's default_rng(0)."""
    with Image.open(STATIC / "mask.png") as mask:
        assert mask.mode == "L"
        pixels = np.asarray(mask)
    expected = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    assert np.array_equal(pixels, expected)
