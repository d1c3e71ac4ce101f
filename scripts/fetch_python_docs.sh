#!/usr/bin/env bash
# Fetch the corpus of the python-docs retrieval benchmark (benchmarks/python-docs/).
#
#   scripts/fetch_python_docs.sh [DEST]
#
# Downloads Debian's python3.11-doc package with `apt-get download` (running `apt-get update`
# first only when the download fails), extracts it with `dpkg -x`, and copies the fixed subset
# of HTML pages listed in PAGES below into DEST (default: benchmarks/python-docs/kb, which is
# git-ignored), keeping their paths relative to the html/ folder (e.g. library/json.html).
#
# Safe to run again: the .deb and its extraction are cached in $PYDOC_CACHE
# (default /tmp/appliance-pydoc), and a page is copied only when it differs, so an unchanged
# DEST keeps its files (and mtimes) and an existing index needs no work. DEST is marked with a
# .python-docs-kb file; HTML files in a marked DEST that are not in PAGES are removed. A
# non-empty DEST without that marker is refused rather than overwritten.
#
# Environment: PYDOC_DEB=path/to/python3.11-doc_*.deb uses that file instead of downloading;
# PYDOC_CACHE=dir for the download and extraction.
set -euo pipefail

die() { echo "fetch_python_docs: error: $*" >&2; exit 1; }
# shellcheck source=scripts/debian_package.sh
. "$(dirname "$0")/debian_package.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$REPO/benchmarks/python-docs/kb}
CACHE=${PYDOC_CACHE:-/tmp/appliance-pydoc}
PACKAGE=python3.11-doc
HTML_IN_PACKAGE=usr/share/doc/python3.11/html

# The subset: 65 pages, about 2,300 chunks of 180 words with the default chunking (about
# 3.5 minutes of embedding at ~11 chunks/s on 2 cores). Mostly commonly used library modules,
# plus a few tutorial/howto pages. Changing this list changes the benchmark: update
# questions.jsonl and the figures in README.md with it.
PAGES=(
    # text and data formats
    library/json.html library/csv.html library/re.html library/string.html
    library/textwrap.html library/base64.html library/struct.html library/tomllib.html
    # files and paths
    library/os.path.html library/pathlib.html library/shutil.html library/glob.html
    library/fnmatch.html library/tempfile.html library/zipfile.html library/gzip.html
    # dates and times
    library/datetime.html library/time.html library/calendar.html library/zoneinfo.html
    # data types and algorithms
    library/collections.html library/itertools.html library/functools.html
    library/operator.html library/heapq.html library/bisect.html library/array.html
    library/copy.html library/pprint.html library/enum.html library/dataclasses.html
    library/abc.html
    # numbers
    library/math.html library/random.html library/statistics.html library/fractions.html
    # running things, concurrency
    library/subprocess.html library/threading.html library/queue.html
    library/concurrent.futures.html library/asyncio-task.html library/shlex.html
    # application plumbing
    library/logging.html library/argparse.html library/sqlite3.html library/contextlib.html
    library/traceback.html library/warnings.html library/timeit.html library/venv.html
    library/getpass.html library/platform.html library/atexit.html
    # networking and security
    library/urllib.parse.html library/http.server.html library/hashlib.html
    library/hmac.html library/secrets.html library/uuid.html
    # the language core
    library/functions.html library/exceptions.html
    # tutorial and howto
    tutorial/errors.html tutorial/inputoutput.html tutorial/venv.html howto/sorting.html
)

command -v dpkg >/dev/null || die "dpkg is not installed (this script needs a Debian-based system)"
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"

# 1. the .deb
deb=${PYDOC_DEB:-}
if [ -n "$deb" ]; then
    [ -f "$deb" ] || die "PYDOC_DEB=$deb is not a file"
else
    deb=$(cached_deb "$PACKAGE" "$CACHE" "set PYDOC_DEB to a downloaded ${PACKAGE}_*.deb")
fi
echo "package: $(basename "$deb")"

# 2. the extraction, redone when the .deb changes
extract=$CACHE/extract
extract_deb "$deb" "$extract"
html=$extract/$HTML_IN_PACKAGE
[ -d "$html" ] || die "$deb has no $HTML_IN_PACKAGE folder"

# 3. the subset
mirror_files "$html" "$DEST" .python-docs-kb "*.html" "${PAGES[@]}"
