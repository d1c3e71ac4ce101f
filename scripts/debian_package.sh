#!/usr/bin/env bash
# Sourced by the benchmark corpus fetchers (scripts/fetch_*.sh), not run (running it only
# defines functions): a Debian package's .deb,
# downloaded once into a cache folder, and its extraction, redone only when the .deb changes.
# The script that sources it defines `die MESSAGE`.

# newest_deb DIR PACKAGE: the newest PACKAGE_*.deb in DIR, or nothing.
newest_deb() {
    find "$1" -maxdepth 1 -name "${2}_*.deb" -printf '%T@ %p\n' 2>/dev/null \
        | sort -rn | head -n 1 | cut -d' ' -f2-
}

# cached_deb PACKAGE CACHE HINT: prints the newest PACKAGE_*.deb in CACHE, fetched first with
# `apt-get download` when there is none (after `apt-get update` when that fails). HINT says
# what to set instead where apt-get is missing. Its messages go to stderr.
cached_deb() {
    local package=$1 cache=$2 hint=$3 deb
    deb=$(newest_deb "$cache" "$package")
    if [ -z "$deb" ]; then
        command -v apt-get >/dev/null || die "apt-get is not installed; $hint"
        echo "downloading $package into $cache" >&2
        if ! (cd "$cache" && apt-get download "$package") >&2; then
            echo "apt-get download failed; running apt-get update and trying again" >&2
            apt-get update >&2 || die "apt-get update failed (no network, or not root?)"
            (cd "$cache" && apt-get download "$package") >&2 || die "apt-get download $package failed"
        fi
        deb=$(newest_deb "$cache" "$package")
        [ -n "$deb" ] || die "apt-get download reported success but no ${package}_*.deb is in $cache"
    fi
    echo "$deb"
}

# extract_deb DEB DIR: DEB's files under DIR, extracted anew only when DIR holds another
# .deb's (or nothing).
extract_deb() {
    local deb=$1 dir=$2 stamp
    stamp=$dir/.from-$(sha256sum "$deb" | cut -c1-16)
    if [ ! -f "$stamp" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        dpkg -x "$deb" "$dir" || die "dpkg -x $deb failed"
        touch "$stamp"
    fi
}

# mirror_files SOURCE DEST MARKER GLOB FILE...: makes DEST hold exactly the FILEs of SOURCE
# (paths relative to it) among its GLOB files: each copied only when it differs, so an
# unchanged DEST keeps its mtimes and an index of it needs no work; a GLOB file not among
# them is removed. DEST must be empty or carry the MARKER file this leaves in it, so that a
# folder of someone's own is never overwritten. Prints what it did.
mirror_files() {
    local source=$1 dest=$2 marker=$3 glob=$4 file rel copied=0 removed=0
    shift 4
    if [ -d "$dest" ] && [ -n "$(ls -A "$dest")" ] && [ ! -f "$dest/$marker" ]; then
        die "$dest is not empty and was not made by this script (no $marker marker); choose another DEST"
    fi
    mkdir -p "$dest" || die "cannot create $dest"
    touch "$dest/$marker"
    local -A wanted=()
    for file in "$@"; do
        [ -n "${wanted[$file]:-}" ] && continue
        wanted[$file]=1
        [ -f "$source/$file" ] || die "$file is not in $source"
        if ! cmp -s "$source/$file" "$dest/$file"; then
            mkdir -p "$dest/$(dirname "$file")"
            cp "$source/$file" "$dest/$file"
            copied=$((copied + 1))
        fi
    done
    while IFS= read -r -d '' file; do
        rel=${file#"$dest"/}
        if [ -z "${wanted[$rel]:-}" ]; then
            rm -f "$file"
            removed=$((removed + 1))
        fi
    done < <(find "$dest" -type f -name "$glob" -print0)
    find "$dest" -mindepth 1 -type d -empty -delete
    echo "$dest: ${#wanted[@]} files ($copied copied, $removed stale removed)"
}
