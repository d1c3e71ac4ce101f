#!/usr/bin/env bash
# Put a backup made by scripts/backup.sh back, WITH THE APPLIANCE STOPPED:
#
#   docker compose -f compose.edge.yml stop
#   scripts/restore.sh [--no-index|--index-anyway] [--force] BACKUP DATA_DIR
#   scripts/restore.sh ... BACKUP --volume appliance_appliance-data      (as root)
#   docker compose -f compose.edge.yml up -d
#
# Checks BACKUP/SHA256SUMS, moves what DATA_DIR holds now aside to
# DATA_DIR.pre-restore-<time>/ (nothing is deleted), copies the backup in and gives it the
# owner of DATA_DIR. The index is restored only when the backup's copy was consistent
# (--index-anyway: even then; --no-index: never). Without it the appliance re-indexes kb/ at
# start-up: slower, always correct. Refuses while a process on this host has files of
# DATA_DIR open, or a container uses the volume (--force to skip these checks).
set -euo pipefail

index_mode=auto
force=0
volume=""
die() { echo "restore: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
args=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --no-index) index_mode=never; shift ;;
        --index-anyway) index_mode=always; shift ;;
        --force) force=1; shift ;;
        --volume) volume=${2:?}; shift 2 ;;
        -h|--help) usage 0 ;;
        -*) echo "restore: unknown option: $1" >&2; usage 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ -n "$volume" ]; then
    [ "${#args[@]}" = 1 ] || usage 2
    backup=${args[0]}
    data=$(docker volume inspect -f '{{.Mountpoint}}' "$volume") || die "no docker volume $volume"
    if [ "$force" = 0 ] && [ -n "$(docker ps -q --filter "volume=$volume")" ]; then
        die "a running container uses $volume: stop the appliance first (docker compose stop)"
    fi
else
    [ "${#args[@]}" = 2 ] || usage 2
    backup=${args[0]}
    data=${args[1]}
fi
if [ ! -f "$backup/SHA256SUMS" ] || [ ! -f "$backup/BACKUP_INFO" ]; then
    die "$backup is not a backup made by backup.sh"
fi
mkdir -p "$data"
data=$(cd "$data" && pwd)
backup=$(cd "$backup" && pwd)

echo "verifying $backup"
(cd "$backup" && sha256sum --quiet -c SHA256SUMS) || die "the backup is damaged (files above)"

if [ "$force" = 0 ]; then
    for fd in /proc/[0-9]*/fd/*; do
        target=$(readlink "$fd" 2>/dev/null) || continue
        case "$target" in
            "$data"/*)
                pid=${fd#/proc/}; pid=${pid%%/*}
                die "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-60)) has" \
                    "$target open: stop the appliance first (or --force)" ;;
        esac
    done
fi

consistent=$(sed -n 's/^index_consistent=//p' "$backup/BACKUP_INFO")
restore_index=0
case "$index_mode/$consistent" in
    always/yes|always/no|auto/yes) restore_index=1 ;;
esac

aside="$data.pre-restore-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir "$aside"
moved=0
for f in "$data"/* "$data"/.[!.]*; do
    [ -e "$f" ] || continue
    mv "$f" "$aside/"
    moved=$((moved + 1))
done
if [ "$moved" = 0 ]; then rmdir "$aside"; else echo "moved the current data aside: $aside"; fi

for f in "$backup"/* ; do
    name=${f##*/}
    case "$name" in
        SHA256SUMS|BACKUP_INFO) continue ;;
        index|qdrant)
            if [ "$restore_index" = 1 ]; then
                cp -a "$f" "$data/$name"; echo "restored $name"
            else
                echo "skipped  $name: the appliance rebuilds it from kb/ at start-up"
            fi ;;
        *) cp -a "$f" "$data/$name"; echo "restored $name" ;;
    esac
done
chown -R --reference="$data" "$data" 2>/dev/null || true
echo "restore done: start the appliance again (docker compose -f compose.edge.yml up -d)"
