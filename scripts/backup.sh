#!/usr/bin/env bash
# Back up the appliance's data dir WHILE IT RUNS:
#
#   scripts/backup.sh [--no-index] DATA_DIR DEST_DIR
#   scripts/backup.sh [--no-index] --volume appliance_appliance-data DEST_DIR   (as root)
#
# Writes DEST_DIR/appliance-data-<UTC time>/ (printed at the end) holding:
# - every SQLite database (manifest.sqlite3, queries.sqlite3, users.sqlite3, …): copied with SQLite's online
#   backup API, so each copy is consistent even while the appliance writes (WAL mode), then
#   checked with PRAGMA integrity_check;
# - the query log (queries.jsonl) and other plain files: copied as they are (the last line
#   may be cut if a question is being logged at that instant);
# - the index (index/, or qdrant/ for the local qdrant backend): a BEST-EFFORT copy. The
#   appliance may write it during the copy; the copy is repeated (3 tries) until no file
#   changed while copying, and BACKUP_INFO says index_consistent=yes|no. The index can
#   always be rebuilt from kb/ (restore.sh --no-index; the start-up sync re-embeds kb/), so
#   the manifest and the query history with its feedback are what a backup must keep;
# - BACKUP_INFO and SHA256SUMS (restore.sh checks them).
# Needs python3 (its sqlite3 module) or the sqlite3 command on the host.
set -euo pipefail

with_index=1
volume=""
die() { echo "backup: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
args=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --no-index) with_index=0; shift ;;
        --volume) volume=${2:?}; shift 2 ;;
        -h|--help) usage 0 ;;
        -*) echo "backup: unknown option: $1" >&2; usage 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ -n "$volume" ]; then
    [ "${#args[@]}" = 1 ] || usage 2
    data=$(docker volume inspect -f '{{.Mountpoint}}' "$volume") || die "no docker volume $volume"
    dest=${args[0]}
else
    [ "${#args[@]}" = 2 ] || usage 2
    data=${args[0]}
    dest=${args[1]}
fi
[ -d "$data" ] || die "data dir $data does not exist"
data=$(cd "$data" && pwd)
mkdir -p "$dest"
base="$(cd "$dest" && pwd)/appliance-data-$(date -u +%Y%m%dT%H%M%SZ)"
out=$base
n=1
while [ -e "$out" ] || [ -e "$out.partial" ]; do
    n=$((n + 1)); out="$base-$n"
done
mkdir "$out.partial"
trap 'rm -rf "$out.partial"' EXIT

# sqlite_backup SRC DST: an online, consistent copy; DST as one self-contained file.
sqlite_backup() {
    if command -v "${PYTHON:-python3}" >/dev/null; then
        "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import os, sqlite3, sys, urllib.parse
src, dst = sys.argv[1], sys.argv[2]
# Never create -wal/-shm files (as root, they would lock the appliance's user out): with a
# -wal beside it the database is open in the appliance, read it through its WAL read-only;
# without one nobody has it open and the file alone is the database (immutable: no files).
live = os.path.exists(src + "-wal")
mode = "mode=ro" if live else "immutable=1"
s = sqlite3.connect(f"file:{urllib.parse.quote(src)}?{mode}", uri=True, timeout=30)
d = sqlite3.connect(dst)
s.backup(d)
s.close()
d.execute("PRAGMA journal_mode=DELETE")
ok = d.execute("PRAGMA integrity_check").fetchone()[0]
d.close()
if ok != "ok":
    sys.exit(f"integrity_check of the copy of {src}: {ok}")
PY
    elif command -v sqlite3 >/dev/null; then
        if [ -e "$1-wal" ]; then
            sqlite3 -readonly "$1" ".timeout 30000" ".backup '$2'"
        else
            sqlite3 "file:$1?immutable=1" ".backup '$2'"
        fi
        [ "$(sqlite3 "$2" 'PRAGMA integrity_check')" = ok ] || die "copy of $1 is damaged"
    else
        die "python3 or sqlite3 is needed to copy SQLite databases consistently"
    fi
}

is_sqlite() { [ "$(head -c 15 "$1" 2>/dev/null)" = "SQLite format 3" ]; }

snapshot() { (cd "$1" && find . -printf '%P %s %T@\n' | sort); }

files=0
for f in "$data"/* "$data"/.[!.]*; do
    [ -e "$f" ] || continue
    name=${f##*/}
    case "$name" in
        *-wal|*-shm|*-journal|.doctor-*|*.lock) continue ;;   # part of a database / scratch / a lock
    esac
    if [ -f "$f" ] && is_sqlite "$f"; then
        echo "sqlite  $name"
        sqlite_backup "$f" "$out.partial/$name"
    elif [ -f "$f" ]; then
        echo "file    $name"
        cp -p "$f" "$out.partial/$name"
    elif [ -d "$f" ]; then
        continue   # index folders below
    fi
    files=$((files + 1))
done

index_state=none
if [ "$with_index" = 1 ]; then
    for name in index qdrant; do
        [ -d "$data/$name" ] || continue
        index_state=no
        for try in 1 2 3; do
            before=$(snapshot "$data/$name")
            rm -rf "${out:?}.partial/$name"
            cp -a "$data/$name" "$out.partial/$name"
            after=$(snapshot "$data/$name")
            if [ "$before" = "$after" ]; then index_state=yes; break; fi
            echo "index   $name changed while copying (try $try of 3)"
            sleep 2
        done
        echo "index   $name (consistent: $index_state)"
    done
fi
[ "$files" -gt 0 ] || [ "$index_state" != none ] || die "$data holds nothing to back up"

{
    echo "source=$data"
    echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "index_consistent=$index_state"
} >"$out.partial/BACKUP_INFO"
(cd "$out.partial" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum) >"$out.sums"
mv "$out.sums" "$out.partial/SHA256SUMS"
mv "$out.partial" "$out"
trap - EXIT
if [ "$index_state" = no ]; then
    echo "warning: the index kept changing; its copy may be inconsistent (restore.sh skips it" \
        "unless --index-anyway: the appliance then rebuilds it from kb/)" >&2
fi
echo "backup: $out"
