#!/usr/bin/env bash
# make docs: the collection's documentation site, as docs.ansible.com builds one, from the tarball users get.
# antsibull-docs sphinx-init writes the Sphinx project, antsibull-docs collection the plugin, role and index pages;
# the guides (docs/*.md of the installed collection) join them through myst-parser; Sphinx writes HTML to DEST.
# Sphinx's warnings are errors, but for intersphinx's, which cannot reach docs.ansible.com and docs.python.org offline.
# Usage: hack/build-docs.sh VENV TARBALL WORK DEST
set -euo pipefail
venv=${1:?release venv} tarball=${2:?collection tarball} work=${3:?work folder} dest=${4:?HTML folder}
export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_NOCOLOR=1
rm -rf "$work" "$dest"
mkdir -p "$work/collections" "$work/site"
chmod 0755 "$work/site"  # antsibull-docs wants folders that only their owner may write
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null
collection="$work/collections/ansible_collections/izuma/device_management"

antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "$work/site" \
    --project izuma.device_management --copyright "izuma.device_management contributors" \
    --title "izuma.device_management" --html-short-title "izuma.device_management" izuma.device_management >/dev/null
cd "$work/site"
mkdir -p rst && chmod og-w rst
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error --use-current \
    --squash-hierarchy --dest-dir rst izuma.device_management >/dev/null

# The guides, as shipped, under rst/guides/, with a page that lists them, linked from the collection's index.
# Two changes to the copies: an unlabelled code block is plain text (not YAML, Sphinx's default here), and a link to a
# file of the repository that is not a guide points at the repository.
repository=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["repository"])' "$collection/MANIFEST.json")
mkdir -p rst/guides
for guide in "$collection"/docs/*.md; do
    awk -v repo="$repository/blob/main/" '
        /^```/ { if (!inside && $0 == "```") $0 = "```text"; inside = !inside }
        !inside { while (match($0, /\]\(\.\.\/[^)]*\)/)) { target = substr($0, RSTART + 5, RLENGTH - 6);
                    $0 = substr($0, 1, RSTART) "(" repo target ")" substr($0, RSTART + RLENGTH) } }
        { print }' "$guide" > "rst/guides/$(basename "$guide")"
done
{
    printf 'Guides\n======\n\n.. toctree::\n   :maxdepth: 1\n\n'
    # The reading order of the known guides, then any other guide in alphabetical order.
    known="quickstart verification-keys jwt rotation awx hsm reliability emulator api-contract"
    for guide in $known; do [ -f "rst/guides/$guide.md" ] && printf '   %s\n' "$guide"; done
    for guide in rst/guides/*.md; do
        guide=$(basename "$guide" .md)
        case " $known " in *" $guide "*) ;; *) printf '   %s\n' "$guide" ;; esac
    done
} > rst/guides/index.rst
printf '\n.. toctree::\n   :caption: Guides\n   :maxdepth: 1\n\n   guides/index\n' >> rst/index.rst
# The sidebar is 300 px wide, narrower than a plugin's full name (izuma.device_management.jwt_rotation_host_applications
# filter): the theme clips what does not fit. A name that fits on no line is wrapped instead.
mkdir -p _static
cat > _static/izuma.css <<'CSS'
/* izuma.device_management: whole names in the sidebar, wrapped where no space is left. */
.wy-menu-vertical a {
    overflow-wrap: anywhere;
    word-break: break-word;
}
CSS
cat >> conf.py <<'CONF'

# izuma.device_management: the guides are Markdown (docs/*.md). Their links to files outside the site (the README,
# the emulator's README, the LICENSE) stay links to the repository.
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
intersphinx_timeout = 1
# _static/izuma.css: the sidebar shows whole names.
html_static_path = ['_static']
html_css_files = ['izuma.css']
CONF

if ! sphinx-build -b html -c . -q -w "$work/warnings.txt" --keep-going rst "$dest" >"$work/sphinx.log" 2>&1; then
    :  # judged by the warnings below
fi
# What the missing network causes: the inventories that cannot be fetched, and references to labels that only those
# inventories define (ansible-core's pages, ansible.builtin's plugins). A reference into this collection stays an error.
grep -v -E "failed to reach any of the inventories|^intersphinx inventory '.*' not (fetchable|readable)|undefined label: '(ansible_collections\.ansible\.builtin\.[A-Za-z0-9_.-]+|common_return_values|ansible_configuration_settings|action_plugins)' \[ref\.ref\]" \
    "$work/warnings.txt" > "$work/errors.txt" || true
if [ -s "$work/errors.txt" ]; then
    cat "$work/errors.txt" >&2
    echo "make docs: Sphinx warned (the lines above); warnings are errors" >&2
    exit 1
fi
[ -f "$dest/index.html" ] || { cat "$work/sphinx.log" >&2; echo "make docs: no $dest/index.html" >&2; exit 1; }
echo "Documentation site: $dest/index.html"
