# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation site (make docs) as a reader's browser shows it: headless Chromium, Debian's package.

Chromium loads each page from build/docs and dumps the DOM it built; the test checks that the collection's index
links to a page for every plugin and for the role, that each of those pages has the plugin's title and its
sections, and that every guide of docs/ has its page, with its first heading as title; in a desktop-sized window, the
sidebar shows every name whole, and each plugin page lists each Python library once in its requirements.
Run by ``make site-test`` (which builds the site and installs Chromium when missing).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest
import yaml

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


def _filters() -> t.Dict[str, str]:
    """Every filter of the collection and its short description, from its .yml."""
    found = {}
    for path in sorted((ROOT / "plugins" / "filter").glob("*.yml")):
        with path.open(encoding="utf-8") as stream:
            found[path.stem] = yaml.safe_load(stream)["DOCUMENTATION"]["short_description"]
    return found


# What a filter that is the jwt_rotation role's own (and not part of the public interface) says first.
INTERNAL = "Internal to the jwt_rotation role:"
INTERNAL_TITLE = "Internal filters of the jwt_rotation role"


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


# Run in the page once it has loaded (stylesheets and fonts included): the sidebar links and captions whose text is
# wider than their box, that is clipped by the sidebar, written into the DOM that --dump-dom prints.
CLIPPED = """<script>
window.addEventListener("load", function () {
  var clipped = [];
  document.querySelectorAll(".wy-menu-vertical a, .wy-menu-vertical p.caption").forEach(function (link) {
    if (link.getClientRects().length && link.scrollWidth > link.clientWidth) {
      clipped.push(link.textContent.trim() + " (" + link.scrollWidth + " > " + link.clientWidth + " px)");
    }
  });
  var out = document.createElement("pre");
  out.id = "izuma-clipped";
  out.textContent = JSON.stringify(clipped);
  document.body.appendChild(out);
});
</script>"""


def clipped_sidebar_links(page: str) -> t.List[str]:
    """The sidebar links and captions of one page that a 1280x900 window shows clipped (a copy of the page runs CLIPPED)."""
    assert CHROMIUM, "chromium is not installed (make site-test installs it: apt-get install chromium)"
    path = SITE / page
    assert path.is_file(), "make docs wrote no %s" % path
    document = path.read_text(encoding="utf-8")
    assert "wy-menu-vertical" in document and "</body>" in document, page
    # Beside the page, so that its stylesheets and fonts load from the same relative paths.
    with tempfile.NamedTemporaryFile("w", dir=str(path.parent), prefix=".izuma-measure-", suffix=".html", encoding="utf-8") as copy, \
            tempfile.TemporaryDirectory(prefix="izuma-chromium-") as profile:
        copy.write(document.replace("</body>", CLIPPED + "</body>"))
        copy.flush()
        done = subprocess.run([CHROMIUM, *FLAGS, "--window-size=1280,900", "--user-data-dir=%s" % profile, "--dump-dom",
                               Path(copy.name).as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="izuma-clipped">(.*?)</pre>', done.stdout, re.S)
    assert found, "the measuring script did not run: %s" % done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


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
def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()).replace("\u2019", "'")


def section(document: str, section_id: str) -> str:
    """The HTML of one section of a page, up to the next section that is not inside it (they are not nested here)."""
    found = re.search(r'<section id="%s">(.*?)(?=<section id=|</article>|$)' % re.escape(section_id), document, re.S)
    assert found, "no section %s" % section_id
    return found.group(1)


def test_the_filter_index_lists_only_the_public_filters(index: str) -> None:
    """The jwt_rotation_* filters are the role's own: the index lists them apart, under a title that says so."""
    filters = _filters()
    internal = sorted(name for name, short in filters.items() if short.startswith(INTERNAL))
    assert sorted(set(filters) - set(internal)) == ["jwt_claims", "jwt_seconds_left"]
    assert internal == sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("jwt_rotation_*.yml")) and len(internal) == 12
    public = section(index, "filter-plugins")
    assert sorted(page for page in links(public) if page.endswith("_filter.html")) == ["jwt_claims_filter.html", "jwt_seconds_left_filter.html"]
    assert "internal" not in text_of(public).lower()
    apart = section(index, "internal-filters-of-the-jwt-rotation-role")
    assert re.search(r"<h2>.*?%s" % re.escape(INTERNAL_TITLE), apart, re.S), apart[:500]
    assert "not part of the collection's public interface" in text_of(apart)
    assert sorted(page for page in links(apart) if page.endswith("_filter.html")) == [name + "_filter.html" for name in internal]
    for item in re.findall(r"<li>(.*?)</li>", apart, re.S):
        assert INTERNAL in text_of(item), text_of(item)


def list_items_linking(fragment: str, page: str) -> t.List[str]:
    """The text of each list item (<li>, none nested in it) of an HTML fragment that links to a page."""
    item = r'<li[^>]*>((?:(?!<li|</li>).)*?href="%s(?:#[^"]*)?"(?:(?!<li|</li>).)*)</li>' % re.escape(page)
    return [text_of(found) for found in re.findall(item, fragment, re.S)]


@pytest.mark.parametrize("page", ["index.html", "jwt_claims_filter.html", "jwt_rotation_state_filter.html", "guides/rotation.html"])
def test_internal_filters_are_labelled_internal_wherever_listed(page: str) -> None:
    """Every list that links an internal filter's page (the index, the sidebar) says it is internal, next to its name."""
    internal = [name for name, short in _filters().items() if short.startswith(INTERNAL)]
    document = dom(page)
    sidebar = re.search(r'<div class="wy-menu wy-menu-vertical"(.*?)</div>', document, re.S)
    assert sidebar, page
    # The sidebar lists them under a caption of their own, after the public plugins, the role and the guides.
    captions = [text_of(caption) for caption in re.findall(r'<p class="caption"[^>]*>(.*?)</p>', sidebar.group(1), re.S)]
    assert captions[-1:] == [INTERNAL_TITLE], captions
    before, after = sidebar.group(1).split(INTERNAL_TITLE, 1)
    for name in internal:
        target = ("../" if "/" in page else "") + name + "_filter.html"
        assert not list_items_linking(before, target), "the sidebar of %s lists %s with the public plugins" % (page, name)
        items = list_items_linking(document, target)
        assert items or page == name + "_filter.html", "%s does not list %s" % (page, name)
        for item in items:
            assert INTERNAL in item, (page, name, item)
    if page == "guides/rotation.html":
        assert "the role's internal filters" in text_of(document)


@pytest.mark.parametrize("name", sorted(name for name, short in _filters().items() if short.startswith(INTERNAL)))
def test_an_internal_filter_page_says_so_first(name: str) -> None:
    document = dom(name + "_filter.html")
    assert INTERNAL in title(document).replace("\u2019", "'"), title(document)
    synopsis = text_of(re.sub(r"<h2>.*?</h2>", "", section(document, "synopsis"), flags=re.S))
    assert synopsis.startswith("Internal to the izuma.device_management.jwt_rotation role and not part of the collection's public interface"), synopsis[:300]
    assert "Use the role rather than this filter" in synopsis


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


@pytest.mark.parametrize("page", ["index.html", "jwt_rotation_host_applications_filter.html",
                                  "izuma_verification_key_info_module.html", "guides/quickstart.html"])
def test_the_sidebar_shows_whole_names(page: str) -> None:
    """The sidebar lists every plugin by its full name (izuma.device_management.jwt_rotation_host_applications ...),
    and its captions whole ("Internal filters of the jwt_rotation role")."""
    assert clipped_sidebar_links(page) == []


# The Python libraries that plugins' documentation names in its requirements.
LIBRARIES = ("requests", "cryptography", "PyJWT", "python-pkcs11")


@pytest.mark.parametrize("page,kind", [(page, kind) for page, kind in _plugins() if kind in ("module", "lookup")])
def test_the_requirements_name_each_library_once(page: str, kind: str) -> None:
    document = dom(page + ".html")
    section = re.search(r'<section id="requirements">(.*?)</section>', document, re.S)
    assert section, "%s has no Requirements section" % page
    entries = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in re.findall(r"<li>(.*?)</li>", section.group(1), re.S)]
    assert entries, page
    for library in LIBRARIES:
        named = [entry for entry in entries if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(library), entry)]
        assert len(named) <= 1, (page, library, named)
