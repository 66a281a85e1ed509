#!/usr/bin/env bash
# Builds the Debian binary package libapache2-mod-idmbalance from a clean copy of this tree.
#
#   packaging/build-deb.sh [OUTDIR]        (default OUTDIR: build/deb in the repository)
#
# Copies the git-tracked files and the untracked, not ignored ones (the working tree as it
# is, without build/ or other ignored output) to a temporary directory, puts
# packaging/debian there as ./debian, sets the changelog's version to CMake's
# project(VERSION), installs missing build dependencies (apt-get build-dep, as root or with
# sudo) and runs `dpkg-buildpackage -us -uc -b`. The .deb (with its -dbgsym package,
# .buildinfo and .changes) lands in OUTDIR; older files of this package there are removed.
#
# Environment: DEB_BUILD_OPTIONS as usual (nocheck skips the unit tests and the catch2
# build dependency; parallel=N, else one job per CPU). IDMB_DEB_KEEP=1 keeps the build copy.
set -euo pipefail

PKG=libapache2-mod-idmbalance
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=${1:-$REPO/build/deb}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)

log() { echo "build-deb: $*" >&2; }

# The one version: project(mod_idmbalance VERSION x.y.z) in CMakeLists.txt.
VERSION=$(sed -n 's/^project([^)]*VERSION \([0-9][0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
[ -n "$VERSION" ] || { log "no project(... VERSION x.y.z) in $REPO/CMakeLists.txt"; exit 1; }

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dpkg-checkbuilddeps >/dev/null; then
  log "installing dpkg-dev"
  $SUDO apt-get install "${APT_OPTS[@]}" dpkg-dev
fi

WORK=$(mktemp -d /tmp/idmb-deb.XXXXXX)
if [ "${IDMB_DEB_KEEP:-0}" = 1 ]; then
  trap 'log "build copy kept in $WORK"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
SRC=$WORK/$PKG-$VERSION
mkdir -p "$SRC"

# A clean copy: what git tracks or would track, as it is in the working tree now.
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$REPO" && git ls-files -z -co --exclude-standard) |
    (cd "$REPO" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
    (cd "$REPO" && tar --null --no-recursion -T - -cf -) | tar -C "$SRC" -xf -
else
  log "not a git work tree: copying everything but build*/ and .git"
  tar -C "$REPO" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$SRC" -xf -
fi
rm -rf "$SRC/debian"
cp -a "$REPO/packaging/debian" "$SRC/debian"

# The changelog's top entry gets CMake's version.
OLD=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
if [ "$OLD" != "$VERSION" ]; then
  log "packaging/debian/changelog says $OLD; using $VERSION from CMakeLists.txt"
  sed -i "1s/([^)]*)/($VERSION)/" "$SRC/debian/changelog"
fi

PROFILES=()
case " ${DEB_BUILD_OPTIONS:-} " in *" nocheck "*) PROFILES=(-Pnocheck) ;; esac

cd "$SRC"
if ! dpkg-checkbuilddeps "${PROFILES[@]}" 2>/dev/null; then
  log "installing build dependencies: $(dpkg-checkbuilddeps "${PROFILES[@]}" 2>&1 | sed 's/.*: //')"
  $SUDO apt-get update -q
  $SUDO apt-get build-dep "${APT_OPTS[@]}" ${PROFILES[@]+"--build-profiles=nocheck"} "$SRC"
fi

log "building $PKG $VERSION in $SRC"
t0=$(date +%s)
dpkg-buildpackage -us -uc -b -Jauto "${PROFILES[@]}"
log "dpkg-buildpackage took $(( $(date +%s) - t0 ))s"

rm -f "$OUTDIR/${PKG}"_*.deb "$OUTDIR/${PKG}"-dbgsym_*.*deb \
      "$OUTDIR/${PKG}"_*.buildinfo "$OUTDIR/${PKG}"_*.changes
shopt -s nullglob
outputs=("$WORK/${PKG}"_*.deb "$WORK/${PKG}"-dbgsym_*.*deb "$WORK/${PKG}"_*.buildinfo "$WORK/${PKG}"_*.changes)
cp "${outputs[@]}" "$OUTDIR/"
for f in "${outputs[@]}"; do echo "$OUTDIR/$(basename "$f")"; done
