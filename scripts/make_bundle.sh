#!/usr/bin/env bash
# Build the one-file bundle an air-gapped box installs from (run on a CONNECTED machine):
#
#   scripts/make_bundle.sh [--cpu] [--version V] [--models DIR] [--config FILE] [--out DIR]
#                          [--with-qdrant] [--image-tar FILE | --skip-image]
#
# It builds the image (GPU by default, --cpu for the CPU variant), `docker save | gzip`s it,
# and puts it with models/ (plus models/SHA256SUMS), compose.edge.yml, appliance.yaml,
# .env.example, constraints.txt (the package versions), the install/backup/restore scripts
# and docs/deploy.md into OUT/appliance-bundle-<version>.tar, with a SHA256SUMS of everything
# inside.
#   --image-tar FILE  use this `docker save` output (.tar or .tar.gz) instead of building
#   --skip-image      no image at all (a models/config-only bundle)
#   --with-qdrant     also save qdrant/qdrant:$QDRANT_VERSION (the cluster profile)
# Behind a TLS-inspecting proxy or with a package mirror: PIP_CA=/etc/ssl/certs/ca-certificates.crt
# PIP_INDEX=https://pypi.mirror.lan/simple scripts/make_bundle.sh ... (pip inside the build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
version=""
gpu=1
models="$ROOT/models"
config="$ROOT/appliance.yaml"
out="$ROOT/dist"
image_tar=""
skip_image=0
with_qdrant=0
qdrant_version=${QDRANT_VERSION:-v1.15.5}

die() { echo "make_bundle: error: $*" >&2; exit 2; }
# DIR/SHA256SUMS: `sha256sum` lines for every file under DIR, paths relative to DIR.
sums_of() {
    (cd "$1" && find . -type f ! -path ./SHA256SUMS -printf '%P\0' | sort -z |
        xargs -0 -r sha256sum) >"$stage/sums.tmp"
    mv "$stage/sums.tmp" "$1/SHA256SUMS"
}
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

while [ "$#" -gt 0 ]; do
    case "$1" in
        --version) version=${2:?}; shift 2 ;;
        --cpu) gpu=0; shift ;;
        --gpu) gpu=1; shift ;;
        --models) models=${2:?}; shift 2 ;;
        --config) config=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --image-tar) image_tar=${2:?}; shift 2 ;;
        --skip-image) skip_image=1; shift ;;
        --with-qdrant) with_qdrant=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "make_bundle: unknown argument: $1" >&2; usage 2 ;;
    esac
done

if [ -z "$version" ]; then
    version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)
    if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
        version="$version-$(git -C "$ROOT" rev-parse --short HEAD)"
    fi
fi
case "$version" in
    ''|*[!A-Za-z0-9._-]*) die "version '$version' may only hold letters, digits, '.', '_', '-'" ;;
esac
[ -d "$models" ] || die "models folder $models does not exist (scripts/fetch_models.py fills it)"
[ -f "$config" ] || die "config file $config does not exist"
[ -n "$image_tar" ] && [ ! -f "$image_tar" ] && die "image tar $image_tar does not exist"

if [ "$gpu" = 1 ]; then tag="$version"; variant=gpu; else tag="$version-cpu"; variant=cpu; fi
name="appliance-bundle-$version"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
b="$stage/$name"
mkdir -p "$b/images" "$b/scripts"

# ---- the image
if [ "$skip_image" = 1 ]; then
    echo "image: skipped (--skip-image)"
elif [ -n "$image_tar" ]; then
    echo "image: from $image_tar"
    if gzip -t "$image_tar" 2>/dev/null; then
        cp "$image_tar" "$b/images/appliance-$tag.tar.gz"
    else
        gzip -c "$image_tar" >"$b/images/appliance-$tag.tar.gz"
    fi
else
    command -v docker >/dev/null || die "docker is needed to build the image (or pass --image-tar)"
    echo "image: docker build appliance:$tag (GPU=$gpu)"
    # BuildKit: the Dockerfile needs it (Debian's Docker 20.10 does not use it by default).
    # PIP_CA / PIP_INDEX: a build machine's CA bundle (a TLS-inspecting proxy) and package
    # index (a mirror), handed to pip inside the build (Dockerfile: build-pip).
    build=(--build-arg "GPU=$gpu")
    [ -n "${PIP_CA:-}" ] && build+=(--secret "id=pip_ca,src=$PIP_CA")
    [ -n "${PIP_INDEX:-}" ] && build+=(--build-arg "PIP_INDEX=$PIP_INDEX")
    DOCKER_BUILDKIT=1 docker build "${build[@]}" -t "appliance:$tag" "$ROOT"
    docker save "appliance:$tag" | gzip >"$b/images/appliance-$tag.tar.gz"
fi
if [ "$with_qdrant" = 1 ]; then
    command -v docker >/dev/null || die "docker is needed for --with-qdrant"
    docker pull "qdrant/qdrant:$qdrant_version"
    docker save "qdrant/qdrant:$qdrant_version" | gzip >"$b/images/qdrant-$qdrant_version.tar.gz"
fi

# ---- models: everything but pip's cache and unfinished downloads; SHA256SUMS checked/made
echo "models: copying $models"
mkdir -p "$b/models"
(cd "$models" && find . -type f ! -path './.wheels/*' ! -path './.hub-download/*' \
    ! -name '*.part' ! -name '*.partial' ! -name 'SHA256SUMS.tmp' -print0) |
    while IFS= read -r -d '' f; do
        mkdir -p "$b/models/$(dirname "$f")"
        cp -p "$models/$f" "$b/models/$f"
    done
if [ -f "$b/models/SHA256SUMS" ]; then
    (cd "$b/models" && sha256sum --quiet -c SHA256SUMS) ||
        die "a model file does not match $models/SHA256SUMS (re-run scripts/fetch_models.py)"
else
    echo "models: no SHA256SUMS in $models, writing one (the box checks it at start-up)"
    sums_of "$b/models"
fi

# ---- configuration, compose, scripts, docs
cp "$ROOT/compose.edge.yml" "$ROOT/.env.example" "$b/"
# The exact package versions the image was built with (scripts/lock.sh), for the record.
[ -f "$ROOT/constraints.txt" ] && cp "$ROOT/constraints.txt" "$b/constraints.txt"
cp "$config" "$b/appliance.yaml"
for s in install_bundle.sh backup.sh restore.sh; do
    cp "$ROOT/scripts/$s" "$b/scripts/$s"
    chmod 0755 "$b/scripts/$s"
done
[ -f "$ROOT/docs/deploy.md" ] && cp "$ROOT/docs/deploy.md" "$b/DEPLOY.md"
{
    echo "version=$version"
    echo "variant=$variant"
    if [ "$skip_image" = 1 ]; then echo "image="; else echo "image=appliance:$tag"; fi
    [ "$with_qdrant" = 1 ] && echo "qdrant=qdrant/qdrant:$qdrant_version"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$b/VERSION"

# ---- checksums of everything in the bundle, then one tar (its content is already packed)
sums_of "$b"
tarball="$out/$name.tar"
tar -cf "$tarball.tmp" -C "$stage" "$name"
mv "$tarball.tmp" "$tarball"
echo "bundle: $tarball"
echo "sha256: $(sha256sum "$tarball" | cut -d' ' -f1)  (compare on the box: install_bundle.sh --sha256 ...)"
