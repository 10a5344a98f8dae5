#!/usr/bin/env bash
# tools/build-deb.sh WHEEL [OUT_DIR]: build OUT_DIR/sorabeat_<version>_<arch>.deb from the wheel and
# this tree (tools/build-packages.sh runs it from the unpacked sdist). Prints the .deb's path last.
#
# The files are laid out by tools/package-stage.sh (shared with the .rpm); this adds the Debian
# parts: the copyright file (from the bundled distributions' metadata), conffiles, control, the
# maintainer scripts and lintian overrides of conf/packaging/deb. Reproducible: with the same
# SOURCE_DATE_EPOCH and wheel, the same bytes (dpkg-deb sorts the members and clamps mtimes).
#
# Needs: dpkg-deb, binutils, /usr/bin/python3.11 with venv, $BUILD_PYTHON (pip >= 22.3).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "build-deb.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ -f "$1" ] || fail "usage: build-deb.sh WHEEL [OUT_DIR]"
wheel=$(realpath "$1")
out=$(realpath -m "${2:-dist}")
: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (tools/build-packages.sh does)}"
export BUILD_PYTHON=${BUILD_PYTHON:-$PWD/.venv/bin/python}
command -v dpkg-deb >/dev/null || fail "no dpkg-deb"
. tools/package-stage.sh

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' sorabeat/__init__.py)
[ -n "$version" ] || fail "cannot read __version__ from sorabeat/__init__.py"
arch=$(dpkg --print-architecture)  # the venv holds compiled wheels (orjson, cryptography)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
stage_root "$stage" "$wheel" /lib/systemd/system
site=$(site_packages_of "$stage")

mkdir -p "$stage/usr/share/doc/sorabeat" "$stage/usr/share/lintian/overrides"
"$base_python" tools/gen_copyright.py "$site" "${site#"$stage"}" >"$stage/usr/share/doc/sorabeat/copyright"
install -m 0644 conf/packaging/deb/lintian-overrides "$stage/usr/share/lintian/overrides/sorabeat"
{
    echo "sorabeat ($version) unstable; urgency=medium"
    echo
    echo "  * sorabeat $version; see README.md for what it does."
    echo
    echo " -- sorabeat maintainers <sorabeat@example.org>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$stage/usr/share/doc/sorabeat/changelog.gz"
chmod 0644 "$stage/usr/share/doc/sorabeat/"*

# the shared objects' needs: the C library (at the newest symbol version they use) and libgcc_s
glibc=$(find "$stage/usr/lib/sorabeat" -name '*.so' -exec objdump -T {} + \
    | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1)
[ -n "$glibc" ] || fail "no glibc symbol version found in the shared objects"
depends="python3.11, adduser, libc6 (>= $glibc)"
needed=$(find "$stage/usr/lib/sorabeat" -name '*.so' -exec objdump -p {} + | grep NEEDED)
if grep -q 'libgcc_s' <<<"$needed"; then
    depends="$depends, libgcc-s1"
fi

mkdir -p "$stage/DEBIAN"
(cd "$stage" && find etc -type f | sed 's#^#/#' | LC_ALL=C sort) >"$stage/DEBIAN/conffiles"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: sorabeat
Version: $version
Architecture: $arch
Maintainer: sorabeat maintainers <sorabeat@example.org>
Installed-Size: $installed_size
Depends: $depends
Section: admin
Priority: optional
Description: ships Sora (WebRTC SFU) statistics to Logstash or Elasticsearch
 sorabeat polls the Sora HTTP API and ships the statistics to Logstash
 (Lumberjack v2, a drop-in replacement for metricbeat) or Elasticsearch,
 with a crash-safe disk spool in between.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
    | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
for script in postinst prerm postrm; do
    install -m 0755 "conf/packaging/deb/$script" "$stage/DEBIAN/$script"
done
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/sorabeat_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
