# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation site (make docs) as a reader's browser shows it: headless Chromium, Debian's package.

Chromium loads each page from build/docs and dumps the DOM it built; the test checks that the collection's index
links to a page for every plugin and for the role, that each of those pages has the plugin's title and its
sections, and that every guide of docs/ has its page, with its first heading as title.
Run by ``make site-test`` (which builds the site and installs Chromium when missing).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("IZUMA_DOCS", ROOT / "build" / "docs"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No network, no first-run dialogs, no background fetches: the browser only reads the files it is given.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _plugins() -> t.List[t.Tuple[str, str]]:
    """(page, kind) for every plugin and role of the collection, from the source tree."""
    pages = [(p.stem + "_module", "module") for p in sorted((ROOT / "plugins" / "modules").glob("[!_]*.py"))]
    pages += [(p.stem + "_lookup", "lookup") for p in sorted((ROOT / "plugins" / "lookup").glob("[!_]*.py"))]
    # A filter's documentation is its .yml (one per filter); the .py files hold the functions.
    pages += [(p.stem + "_filter", "filter") for p in sorted((ROOT / "plugins" / "filter").glob("*.yml"))]
    pages += [(p.name + "_role", "role") for p in sorted((ROOT / "roles").iterdir()) if (p / "meta").is_dir()]
    return pages


def _guides() -> t.List[Path]:
    return sorted((ROOT / "docs").glob("*.md"))


def dom(page: str) -> str:
    """The DOM that Chromium built for one page of the site."""
    assert CHROMIUM, "chromium is not installed (make site-test installs it: apt-get install chromium)"
    path = SITE / page
    assert path.is_file(), "make docs wrote no %s" % path
    with tempfile.TemporaryDirectory(prefix="izuma-chromium-") as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=%s" % profile, "--dump-dom", path.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


def title(document: str) -> str:
    found = re.search(r"<title>(.*?)</title>", document, re.S)
    assert found, document[:500]
    return html.unescape(found.group(1)).strip()


def links(document: str) -> t.Set[str]:
    return {html.unescape(href).split("#")[0] for href in re.findall(r'<a [^>]*href="([^"]*)"', document)}


@pytest.fixture(scope="module")
def index() -> str:
    return dom("index.html")


def test_the_index_links_every_plugin_page_and_the_guides(index: str) -> None:
    assert "izuma.device_management" in title(index)
    found = links(index)
    missing = [page + ".html" for page, dummy_kind in _plugins() if page + ".html" not in found]
    assert not missing, "the index does not link: %s" % missing
    assert "guides/index.html" in found
    assert len(_plugins()) >= 9  # 5 modules, 1 lookup, 2 filters, 1 role today: the list comes from the tree


@pytest.mark.parametrize("page,kind", _plugins())
def test_every_plugin_page_is_there(page: str, kind: str) -> None:
    document = dom(page + ".html")
    name = page[: -len(kind) - 1]
    assert title(document).startswith("izuma.device_management.%s %s" % (name, kind)), title(document)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())
    for section in (["Entry point main"] if kind == "role" else ["Synopsis", "Examples"]):
        assert section in text, "%s has no %s section" % (page, section)
    assert "could not be parsed" not in text and "Error" not in title(document)


def test_every_guide_is_there() -> None:
    guides_index = dom("guides/index.html")
    found = links(guides_index)
    for guide in _guides():
        assert guide.stem + ".html" in found, "guides/index.html does not link %s" % guide.name
        document = dom("guides/%s.html" % guide.stem)
        heading = next(line[2:].strip().replace("`", "") for line in guide.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        # Sphinx makes quotes typographic in titles.
        assert title(document).replace("\u2019", "'").startswith(heading), (guide.name, title(document))
        # Every code block of the guide made it into the page.
        assert document.count("<pre") == guide.read_text(encoding="utf-8").count("\n```") // 2, guide.name
