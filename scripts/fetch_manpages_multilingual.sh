#!/usr/bin/env bash
# Fetch the corpus of the multilingual man-page benchmark (benchmarks/manpages-multilingual/).
#
#   scripts/fetch_manpages_multilingual.sh [DEST]
#
# Downloads Debian's translated manual pages -- manpages-ja (Japanese), manpages-zh (Chinese;
# only its zh_CN pages are used), manpages-de (German) and manpages-fr (French) -- with
# `apt-get download` (running `apt-get update` first only when a download fails), extracts
# them with `dpkg -x`, and renders a fixed list of pages per language (below) from gzipped
# troff to plain UTF-8 text with groff (preconv | tbl | groff -mandoc -Tutf8 | col -bx), into
# DEST/<lang>/<page>.<section>.txt (default DEST: benchmarks/manpages-multilingual/kb, which
# is git-ignored), e.g. kb/ja/tar.1.txt, kb/zh/cp.1.txt, kb/de/crontab.5.txt.
#
# Rendering: no hyphenation, no justification (.ad l), no line breaks after hyphens (so that
# an option such as --keep-newer-files is never split over two lines), 100-column lines, no
# bold/underline overstrike. Chinese and Japanese sentences are still broken where the source
# has a space or a newline, as `man` would show them.
#
# Safe to run again: the .debs and their extractions are cached in $MANML_CACHE (default
# /tmp/appliance-manpages-ml), and a page is written only when its text differs, so an
# unchanged DEST keeps its files (and mtimes) and an existing index needs no work. DEST is
# marked with a .manpages-multilingual-kb file; .txt files in a marked DEST that are not in the
# lists below are removed. A non-empty DEST without that marker is refused.
#
# Environment: MANML_DEB_DIR=dir takes the four packages' .deb files from that folder instead
# of downloading; MANML_CACHE=dir for the downloads, extractions and rendering.
# Needs: apt-get (unless MANML_DEB_DIR), dpkg, groff (Debian: groff-base), preconv, tbl, col
# (bsdextrautils) and the C.UTF-8 locale (col mangles UTF-8 in the C locale).
set -euo pipefail

die() { echo "fetch_manpages_multilingual: error: $*" >&2; exit 1; }
# shellcheck source=scripts/debian_package.sh
. "$(dirname "$0")/debian_package.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$REPO/benchmarks/manpages-multilingual/kb}
CACHE=${MANML_CACHE:-/tmp/appliance-manpages-ml}
MARKER=.manpages-multilingual-kb
export LC_ALL=C.UTF-8

# lang code in DEST -> package, and the man folder inside the package
declare -A PACKAGE=([ja]=manpages-ja [zh]=manpages-zh [de]=manpages-de [fr]=manpages-fr)
declare -A MANDIR=([ja]=usr/share/man/ja [zh]=usr/share/man/zh_CN [de]=usr/share/man/de
    [fr]=usr/share/man/fr)
LANGS=(ja zh de fr)

# The pages. A core of common commands and files taken in every language where the package
# has a well-translated page, plus a few per language. Left out on purpose: pages that are
# mostly English in that language's package (zh chmod.1, zh tail.1, zh scp.1), pages that a
# package lacks (fr swapon.8, fr mkswap.8), a zh stat.1 that is a 1986 non-GNU page,
# duplicates under another name (zcat = gzip, bunzip2 = bzip2), and very large pages (bash.1,
# proc.5, sudoers.5; find.1 and mount.8 are kept).
CORE="ls.1 cp.1 mv.1 rm.1 mkdir.1 ln.1 chmod.1 chown.1 du.1 df.1 find.1 grep.1 sed.1 sort.1
uniq.1 cut.1 wc.1 head.1 tail.1 tee.1 tar.1 gzip.1 bzip2.1 dd.1 date.1 env.1 nohup.1 nice.1
timeout.1 id.1 uname.1 umount.8 fdisk.8 mkfs.8 fsck.8 swapon.8 mkswap.8 cron.8 diff.1 file.1
split.1 md5sum.1 mktemp.1 iconv.1 shells.5 group.5 hier.7 shutdown.8"
declare -A PAGES
PAGES[ja]="$CORE crontab.1 crontab.5 fstab.5 mount.8 xargs.1 kill.1 ps.1 free.1 lsblk.8 tr.1
last.1 touch.1"
PAGES[zh]="$(echo "$CORE" | tr ' ' '\n' | grep -vxE 'chmod\.1|tail\.1' | tr '\n' ' ')
ssh.1 journalctl.1 systemctl.1 hostnamectl.1 timedatectl.1 free.1 kill.1 xargs.1 at.1 ping.8
uptime.1 last.1 touch.1"
PAGES[de]="$CORE crontab.1 crontab.5 fstab.5 mount.8 ssh.1 scp.1 su.1 journalctl.1
hostnamectl.1 timedatectl.1 lsblk.8 tr.1 last.1 touch.1"
PAGES[fr]="$(echo "$CORE" | tr ' ' '\n' | grep -vxE 'swapon\.8|mkswap\.8' | tr '\n' ' ')
crontab.1 mount.8 xargs.1 su.1 at.1 tr.1 blkid.8 last.1"

command -v dpkg >/dev/null || die "dpkg is not installed (this script needs a Debian-based system)"
for tool in groff preconv tbl col; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install groff-base bsdextrautils)"
done
locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || die "the C.UTF-8 locale is missing"
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"

# 1. the .debs
declare -A DEB
for lang in "${LANGS[@]}"; do
    package=${PACKAGE[$lang]}
    if [ -n "${MANML_DEB_DIR:-}" ]; then
        deb=$(newest_deb "$MANML_DEB_DIR" "$package")
        [ -n "$deb" ] || die "MANML_DEB_DIR=$MANML_DEB_DIR has no ${package}_*.deb"
    else
        deb=$(cached_deb "$package" "$CACHE" "set MANML_DEB_DIR to a folder with the .debs")
    fi
    DEB[$lang]=$deb
    echo "$lang: $(basename "$deb")"
done

# 2. the extractions, redone when a .deb changes
declare -A ROOT
for lang in "${LANGS[@]}"; do
    deb=${DEB[$lang]}
    extract=$CACHE/extract-$lang
    extract_deb "$deb" "$extract"
    ROOT[$lang]=$extract/${MANDIR[$lang]}
    [ -d "${ROOT[$lang]}" ] || die "$deb has no ${MANDIR[$lang]} folder"
done

# 3. rendering, into a scratch folder
PRELUDE=$'.ad l\n.nh\n.cflags 0 - \\[hy] \\[em] \\[en]\n'
render() { # render MANROOT PAGE OUT
    local root=$1 page=$2 out=$3 section src first
    section=${page##*.}
    src=$root/man$section/$page.gz
    [ -e "$src" ] || return 1
    src=$(readlink -f "$src")
    # a page that is only ".so other-page" (an alias) is not followed: list the real page
    first=$(zcat "$src" | grep -v '^\.\\"' | head -n 1) || true
    if [[ $first == ".so "* ]]; then
        echo "warning: $src is an alias (.so); list the page it names instead" >&2
        return 1
    fi
    { printf '%s' "$PRELUDE"; zcat "$src"; } \
        | preconv -e UTF-8 | tbl \
        | groff -mandoc -Tutf8 -rHY=0 -rLL=100n -P-cbou 2>/dev/null \
        | col -bx | sed -e 's/[[:space:]]*$//' | cat -s >"$out"
    [ -s "$out" ]
}
scratch=$CACHE/render
rm -rf "$scratch"
mkdir -p "$scratch"
declare -A wanted=()
missing=0
for lang in "${LANGS[@]}"; do
    mkdir -p "$scratch/$lang"
    for page in ${PAGES[$lang]}; do
        if render "${ROOT[$lang]}" "$page" "$scratch/$lang/$page.txt"; then
            wanted[$lang/$page.txt]=1
        else
            echo "warning: $lang/$page is not in ${PACKAGE[$lang]} (or renders empty); skipped" >&2
            rm -f "$scratch/$lang/$page.txt"
            missing=$((missing + 1))
        fi
    done
done

# 4. the copy
mirror_files "$scratch" "$DEST" "$MARKER" '*.txt' "${!wanted[@]}"

for lang in "${LANGS[@]}"; do
    n=$(find "$DEST/$lang" -maxdepth 1 -name '*.txt' 2>/dev/null | wc -l)
    echo "$lang: $n pages"
done
echo "$DEST: $missing page(s) missing"
