#!/usr/bin/env bash
# Install (or upgrade) the appliance on the air-gapped box from a bundle made by
# scripts/make_bundle.sh:
#
#   sudo ./install_bundle.sh [--prefix /opt/appliance] [--variant auto|gpu|cpu|cluster]
#                            [--sha256 HEX] [--timeout SECONDS] [--no-docker]
#                            appliance-bundle-<version>.tar | BUNDLE_DIR
#
# 1. checks every file against the bundle's SHA256SUMS (and the tar against --sha256 HEX,
#    printed by make_bundle.sh) and refuses, naming the file, on any difference;
# 2. lays out PREFIX: models/ (replaced), compose.edge.yml, .env.example, scripts/, kb/
#    (created once), appliance.yaml and .env (kept if present: the bundle's copy is put
#    beside as appliance.yaml.dist; .env only gets APPLIANCE_VERSION updated);
# 3. `docker load`s the image(s), `docker compose up -d` the variant (auto: gpu when
#    nvidia-smi sees a GPU), waits until the container is healthy (/ready), prints the URL.
# --no-docker stops after step 2.
set -euo pipefail

prefix=/opt/appliance
variant=auto
want_sha=""
timeout=900
docker_steps=1
bundle=""

die() { echo "install_bundle: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

while [ "$#" -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?}; shift 2 ;;
        --variant) variant=${2:?}; shift 2 ;;
        --sha256) want_sha=${2:?}; shift 2 ;;
        --timeout) timeout=${2:?}; shift 2 ;;
        --no-docker) docker_steps=0; shift ;;
        -h|--help) usage 0 ;;
        -*) echo "install_bundle: unknown option: $1" >&2; usage 2 ;;
        *) [ -z "$bundle" ] || die "one bundle at a time"; bundle=$1; shift ;;
    esac
done
[ -n "$bundle" ] || usage 2
case "$variant" in auto|gpu|cpu|cluster) ;; *) die "--variant is auto, gpu, cpu or cluster" ;; esac

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=$(mktemp -d "$prefix/.install.XXXXXX")   # on the same disk: moves, not copies
trap 'rm -rf "$work"' EXIT

# ---- 1. unpack and verify
if [ -f "$bundle" ]; then
    if [ -n "$want_sha" ]; then
        got=$(sha256sum "$bundle" | cut -d' ' -f1)
        [ "$got" = "$want_sha" ] || die "$bundle has sha256 $got, expected $want_sha: copy it again"
    fi
    echo "unpacking $bundle"
    tar -xf "$bundle" -C "$work" --no-same-owner
    set -- "$work"/appliance-bundle-*/
    if [ "$#" != 1 ] || [ ! -d "$1" ]; then
        die "$bundle does not hold one appliance-bundle-* folder"
    fi
    src=${1%/}
elif [ -d "$bundle" ]; then
    src=$(cd "$bundle" && pwd)
else
    die "$bundle is neither a bundle tar nor a folder"
fi
[ -f "$src/SHA256SUMS" ] || die "$src has no SHA256SUMS: not a bundle, or damaged"

echo "verifying checksums"
bad=0
while IFS= read -r line; do
    sum=${line%%  *}
    file=${line#*  }
    if [ ! -f "$src/$file" ]; then
        echo "  MISSING  $file" >&2; bad=1
    elif [ "$(sha256sum "$src/$file" | cut -d' ' -f1)" != "$sum" ]; then
        echo "  CORRUPT  $file (sha256 differs from SHA256SUMS)" >&2; bad=1
    fi
done <"$src/SHA256SUMS"
while IFS= read -r -d '' file; do
    if ! cut -d' ' -f3- "$src/SHA256SUMS" | grep -Fxq -- "$file"; then
        echo "  UNLISTED $file (not in SHA256SUMS)" >&2; bad=1
    fi
done < <(cd "$src" && find . -type f ! -path ./SHA256SUMS -printf '%P\0')
[ "$bad" = 0 ] || die "the bundle failed verification (files above); nothing was installed"
echo "  all files match"

version=$(sed -n 's/^version=//p' "$src/VERSION")
image_variant=$(sed -n 's/^variant=//p' "$src/VERSION")
[ -n "$version" ] || die "$src/VERSION names no version"

# ---- 2. lay out PREFIX
echo "installing version $version into $prefix"
mkdir -p "$prefix/scripts" "$prefix/backups"
if [ ! -d "$prefix/kb" ]; then
    mkdir -p "$prefix/kb"
    chmod 0755 "$prefix/kb"
fi
if [ -d "$src/models" ]; then
    rm -rf "$prefix/models.new"
    mv "$src/models" "$prefix/models.new"
    chmod -R a+rX "$prefix/models.new"      # mounted read-only for the container's user
    if [ -d "$prefix/models" ]; then
        rm -rf "$prefix/models.old"
        mv "$prefix/models" "$prefix/models.old"
    fi
    mv "$prefix/models.new" "$prefix/models"
    rm -rf "$prefix/models.old"
fi
cp "$src/compose.edge.yml" "$src/.env.example" "$src/VERSION" "$prefix/"
for s in "$src"/scripts/*.sh; do
    install -m 0755 "$s" "$prefix/scripts/"
done
[ -f "$src/DEPLOY.md" ] && cp "$src/DEPLOY.md" "$prefix/"
if [ -f "$prefix/appliance.yaml" ]; then
    cp "$src/appliance.yaml" "$prefix/appliance.yaml.dist"
    if ! cmp -s "$prefix/appliance.yaml" "$prefix/appliance.yaml.dist"; then
        echo "kept your appliance.yaml; the bundle's is appliance.yaml.dist (diff them)"
    fi
else
    cp "$src/appliance.yaml" "$prefix/appliance.yaml"
fi
chmod a+r "$prefix/appliance.yaml"
if [ ! -f "$prefix/.env" ]; then
    cp "$src/.env.example" "$prefix/.env"
    chmod 0600 "$prefix/.env"
    echo "created $prefix/.env from .env.example (edit APPLIANCE_BIND to serve the network)"
fi
if grep -q '^APPLIANCE_VERSION=' "$prefix/.env"; then
    sed -i "s/^APPLIANCE_VERSION=.*/APPLIANCE_VERSION=$version/" "$prefix/.env"
else
    echo "APPLIANCE_VERSION=$version" >>"$prefix/.env"
fi
echo "laid out $prefix (APPLIANCE_VERSION=$version in .env)"

env_value() {  # env_value NAME DEFAULT: the value .env gives NAME
    local v
    v=$(sed -n "s/^$1=//p" "$prefix/.env" | tail -n1)
    echo "${v:-$2}"
}
bind=$(env_value APPLIANCE_BIND 127.0.0.1)
port=$(env_value APPLIANCE_PORT 8000)
host=$bind
if [ "$bind" = 0.0.0.0 ]; then
    host=$(hostname -I 2>/dev/null | cut -d' ' -f1)
    host=${host:-$(hostname)}
fi
url="http://$host:$port/"

if [ "$docker_steps" = 0 ]; then
    echo "--no-docker: images not loaded, nothing started."
    echo "when started: $url"
    exit 0
fi

# ---- 3. load, start, wait
command -v docker >/dev/null || die "docker is not installed"
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    die "neither 'docker compose' nor 'docker-compose' is installed"
fi
for image in "$src"/images/*.tar.gz; do
    [ -f "$image" ] || continue
    echo "docker load < ${image##*/}"
    docker load -i "$image"
done
if [ "$variant" = auto ]; then
    if [ "$image_variant" = cpu ]; then
        variant=cpu
    elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        variant=gpu
    else
        variant=cpu
    fi
fi
case "$variant" in
    gpu) services=(appliance); others=(appliance-cpu appliance-cluster) ;;
    cpu) services=(appliance-cpu); others=(appliance appliance-cluster) ;;
    cluster) services=(qdrant appliance-cluster); others=(appliance appliance-cpu) ;;
esac
if [ "$image_variant" = cpu ] && [ "$variant" != cpu ]; then
    die "this bundle holds the CPU image; use --variant cpu (or a GPU bundle)"
fi
if [ "$image_variant" = gpu ] && [ "$variant" = cpu ]; then
    die "this bundle holds the GPU image; the cpu variant needs a bundle made with --cpu"
fi
cd "$prefix"
dc=("${compose[@]}" -f compose.edge.yml --profile cpu --profile cluster)
"${dc[@]}" rm -s -f "${others[@]}" >/dev/null 2>&1 || true
echo "starting: ${services[*]}"
# A new container, always: one that ran before saw models/ replaced under it (and may have
# restarted itself); a fresh one starts on the new models with no restarts counted.
"${dc[@]}" up -d --force-recreate "${services[@]}"

main=${services[${#services[@]}-1]}
cid=$("${dc[@]}" ps -q "$main")
[ -n "$cid" ] || die "no container for $main; see: ${compose[*]} -f compose.edge.yml logs"
echo "waiting up to ${timeout}s for $main to be healthy (models loading, start-up sync)"
deadline=$((SECONDS + timeout))
while :; do
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.RestartCount}}' "$cid")
    case "$state" in
        "running healthy "*) break ;;
        exited*|dead*|*" "[1-9]*)
            docker logs --tail 40 "$cid" >&2 || true
            die "$main stopped or restarted ($state); the log is above" ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
        docker logs --tail 40 "$cid" >&2 || true
        die "$main not healthy after ${timeout}s ($state); it may still be indexing kb/"
    fi
    sleep 5
done
echo "the appliance $version is ready: $url"
