#!/usr/bin/env bash
# make changelog: (re)generate the release named in galaxy.yml, changelogs/changelog.yaml and CHANGELOG.md, from every
# fragment in changelogs/fragments and from the plugins as they are now. The fragments stay (keep_fragments: true),
# so that a fragment added or edited on any branch after the release was first written is taken in: the release is
# written anew from all of them rather than updated (antsibull-changelog's --update-existing adds new fragments but
# never re-reads one it already knows). For a release that is not the first, keep the earlier releases: this script
# refuses to drop them.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version: *//p' galaxy.yml)
changes=changelogs/changelog.yaml
if [ -f "$changes" ]; then
    others=$(python -c 'import sys, yaml; print(" ".join(v for v in (yaml.safe_load(open(sys.argv[1])).get("releases") or {}) if v != sys.argv[2]))' "$changes" "$version")
    [ -z "$others" ] || { echo "hack/changelog.sh: $changes holds other releases ($others); update $version by hand" >&2; exit 1; }
    date=$(python -c 'import sys, yaml; print((yaml.safe_load(open(sys.argv[1])).get("releases") or {}).get(sys.argv[2], {}).get("release_date", ""))' "$changes" "$version")
fi
# Should the release fail (a bad fragment, a broken tool), the previous changelog comes back.
backup=$(mktemp)
[ -f "$changes" ] && cp "$changes" "$backup"
trap '[ -s "$backup" ] && cp "$backup" "$changes"; rm -f "$backup"' ERR
printf 'ancestor: null\nreleases: {}\n' > "$changes"
antsibull-changelog release --version "$version" ${date:+--date "$date"} --reload-plugins
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml "$changes"
echo "Release $version regenerated from $(find changelogs/fragments -name "*.y*ml" | wc -l) fragments: $changes, CHANGELOG.md"
rm -f "$backup"
