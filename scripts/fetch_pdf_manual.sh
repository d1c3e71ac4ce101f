#!/usr/bin/env bash
# Fetch the corpus of the pdf-manual retrieval benchmark (benchmarks/pdf-manual/).
#
#   scripts/fetch_pdf_manual.sh [DEST]
#
# Downloads Debian's r-doc-pdf package with `apt-get download` (running `apt-get update` first
# only when the download fails), extracts it with `dpkg -x`, and copies the manual listed in
# FILES below ("R Installation and Administration", R-admin.pdf, 85 pages) into DEST (default:
# benchmarks/pdf-manual/kb, which is git-ignored).
#
# Safe to run again: the .deb and its extraction are cached in $PDFMANUAL_CACHE
# (default /tmp/appliance-pdf-manual), and a file is copied only when it differs, so an
# unchanged DEST keeps its files (and mtimes) and an existing index needs no work. DEST is
# marked with a .pdf-manual-kb file; PDF files in a marked DEST that are not in FILES are
# removed. A non-empty DEST without that marker is refused rather than overwritten.
#
# Environment: PDFMANUAL_DEB=path/to/r-doc-pdf_*.deb uses that file instead of downloading;
# PDFMANUAL_CACHE=dir for the download and extraction.
set -euo pipefail

die() { echo "fetch_pdf_manual: error: $*" >&2; exit 1; }
# shellcheck source=scripts/debian_package.sh
. "$(dirname "$0")/debian_package.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$REPO/benchmarks/pdf-manual/kb}
CACHE=${PDFMANUAL_CACHE:-/tmp/appliance-pdf-manual}
PACKAGE=r-doc-pdf
# /usr/share/doc/r-doc-pdf/manual/*.pdf are symlinks to these files.
PDF_IN_PACKAGE=usr/share/R/doc/manual

# The corpus: one manual, kept under its own name at the top of DEST. Changing this list
# changes the benchmark: update questions.jsonl (gold_file, gold_page) and the README with it.
FILES=(
    R-admin.pdf
)

command -v dpkg >/dev/null || die "dpkg is not installed (this script needs a Debian-based system)"
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"

# 1. the .deb
deb=${PDFMANUAL_DEB:-}
if [ -n "$deb" ]; then
    [ -f "$deb" ] || die "PDFMANUAL_DEB=$deb is not a file"
else
    deb=$(cached_deb "$PACKAGE" "$CACHE" "set PDFMANUAL_DEB to a downloaded ${PACKAGE}_*.deb")
fi
echo "package: $(basename "$deb")"

# 2. the extraction, redone when the .deb changes
extract=$CACHE/extract
extract_deb "$deb" "$extract"
manuals=$extract/$PDF_IN_PACKAGE
[ -d "$manuals" ] || die "$deb has no $PDF_IN_PACKAGE folder"

# 3. the corpus
mirror_files "$manuals" "$DEST" .pdf-manual-kb "*.pdf" "${FILES[@]}"
