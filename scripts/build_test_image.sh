#!/usr/bin/env bash
# Build the CPU image the deploy tests run (tests/deploy/test_docker.py), on a machine with
# no image registry: start dockerd if it is not running (root; Debian's docker.io), make the
# base image with debootstrap when there is none (cached: tagged with a hash of its recipe),
# then `docker build` the CPU image as appliance:test-cpu with BuildKit, handing pip this
# machine's CA bundle (a TLS-inspecting proxy) as a build secret. Layers are cached between
# runs on the same machine. Prints the build time and the image size.
#
#   scripts/build_test_image.sh [TAG]     (default appliance:test-cpu)
#
# Exit status: 0 built; 2 the image (or its base) did not build; 3 Docker cannot run on this
# machine (dockerd does not start: no privileges, no kernel support).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-appliance:test-cpu}
docker=/usr/bin/docker  # Debian's CLI: a newer one earlier on PATH may lack buildx
base=python:3.11-slim-bookworm  # the Dockerfile's PYTHON_IMAGE
recipe="debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates bookworm"
recipe_tag=appliance-base:$(echo "$recipe" | sha256sum | cut -c1-12)

need=""
[ -x "$docker" ] && command -v dockerd >/dev/null || need="$need docker.io"
command -v debootstrap >/dev/null || need="$need debootstrap"
if [ -n "$need" ]; then
    echo "installing:$need"
    # shellcheck disable=SC2086  # one package name per word
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need \
        >/dev/null; }; then
        echo "could not install$need: Docker cannot run on this machine" >&2
        exit 3
    fi
fi
if ! "$docker" info >/dev/null 2>&1; then
    echo "starting dockerd"
    (setsid dockerd >/tmp/dockerd.log 2>&1 &)
    for _ in $(seq 60); do "$docker" info >/dev/null 2>&1 && break; sleep 1; done
    if ! "$docker" info >/dev/null 2>&1; then
        tail -5 /tmp/dockerd.log >&2
        echo "dockerd did not start (/tmp/dockerd.log): Docker cannot run on this machine" >&2
        exit 3
    fi
fi

if ! "$docker" image inspect "$recipe_tag" >/dev/null 2>&1; then
    echo "making the base image: $recipe"
    root=$(mktemp -d)
    # shellcheck disable=SC2086  # the recipe is words
    $recipe "$root" >/tmp/debootstrap.log 2>&1 || { echo "debootstrap failed: /tmp/debootstrap.log" >&2; exit 2; }
    tar -C "$root" -c . | "$docker" import - "$recipe_tag" >/dev/null
    rm -rf "$root"
fi
"$docker" tag "$recipe_tag" "$base"

ca=$(python3 -m pip config get global.cert 2>/dev/null || true)
ca=${PIP_CERT:-${ca:-/etc/ssl/certs/ca-certificates.crt}}
secret=()
[ -f "$ca" ] && secret=(--secret "id=pip_ca,src=$ca")
started=$SECONDS
if ! DOCKER_BUILDKIT=1 "$docker" build --build-arg GPU=0 "${secret[@]}" -t "$tag" . \
    >/tmp/build_test_image.log 2>&1; then
    tail -30 /tmp/build_test_image.log >&2
    echo "the image did not build: /tmp/build_test_image.log" >&2
    exit 2
fi
size=$("$docker" image inspect -f '{{.Size}}' "$tag")
echo "built $tag in $((SECONDS - started)) s: $((size / 1000000)) MB"
