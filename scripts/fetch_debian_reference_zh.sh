#!/usr/bin/env bash
# Fetch the corpus of the Chinese benchmark (benchmarks/debian-reference-zh/).
#
#   scripts/fetch_debian_reference_zh.sh [DEST]
#
# Downloads Debian's debian-reference-zh-cn package (the Debian Reference, Simplified Chinese)
# with `apt-get download` (running `apt-get update` first only when the download fails),
# extracts it with `dpkg -x`, and copies the whole HTML book into DEST (default:
# benchmarks/debian-reference-zh/kb, which is git-ignored), flat, under the package's own
# file names (ch01.zh-cn.html ... ch12.zh-cn.html, index.zh-cn.html, pr01.zh-cn.html,
# apa.zh-cn.html). The package's PDF and plain-text editions of the same book are not copied,
# so that every passage exists once.
#
# Safe to run again: the .deb and its extraction are cached in $DEBREF_CACHE
# (default /tmp/appliance-debref-zh), and a page is copied only when it differs, so an
# unchanged DEST keeps its files (and mtimes) and an existing index needs no work. DEST is
# marked with a .debian-reference-zh-kb file; HTML files in a marked DEST that are not in the
# book are removed. A non-empty DEST without that marker is refused rather than overwritten.
#
# Environment: DEBREF_DEB=path/to/debian-reference-zh-cn_*.deb uses that file instead of
# downloading; DEBREF_CACHE=dir for the download and extraction.
set -euo pipefail

die() { echo "fetch_debian_reference_zh: error: $*" >&2; exit 1; }
# shellcheck source=scripts/debian_package.sh
. "$(dirname "$0")/debian_package.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$REPO/benchmarks/debian-reference-zh/kb}
CACHE=${DEBREF_CACHE:-/tmp/appliance-debref-zh}
PACKAGE=debian-reference-zh-cn
HTML_IN_PACKAGE=usr/share/debian-reference
MARKER=.debian-reference-zh-kb

# The whole HTML book: 15 pages, about 2.3 MB of HTML and 0.55 MB of visible text (version
# 2.100): the preface, 12 chapters, the appendix and the table of contents (index.zh-cn.html,
# which also lists every table). Taken by pattern, so a newer package version with another
# chapter is taken whole too; the questions name their pages, and check_questions.py says when
# one is gone. Parts of the translation are still English, as in the package.
PAGE_GLOB='*.zh-cn.html'

command -v dpkg >/dev/null || die "dpkg is not installed (this script needs a Debian-based system)"
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"

# 1. the .deb
deb=${DEBREF_DEB:-}
if [ -n "$deb" ]; then
    [ -f "$deb" ] || die "DEBREF_DEB=$deb is not a file"
else
    deb=$(cached_deb "$PACKAGE" "$CACHE" "set DEBREF_DEB to a downloaded ${PACKAGE}_*.deb")
fi
echo "package: $(basename "$deb")"

# 2. the extraction, redone when the .deb changes
extract=$CACHE/extract
extract_deb "$deb" "$extract"
html=$extract/$HTML_IN_PACKAGE
[ -d "$html" ] || die "$deb has no $HTML_IN_PACKAGE folder"

pages=()
while IFS= read -r -d '' file; do
    pages+=("$(basename "$file")")
done < <(find "$html" -maxdepth 1 -type f -name "$PAGE_GLOB" -print0 | sort -z)
[ "${#pages[@]}" -gt 0 ] || die "$deb has no $PAGE_GLOB pages in $HTML_IN_PACKAGE"

# 3. the copy
mirror_files "$html" "$DEST" "$MARKER" "*.html" "${pages[@]}"
