#!/usr/bin/env bash
# tools/build-rpm.sh WHEEL [OUT_DIR]: build OUT_DIR/sorabeat-<version>-1.<arch>.rpm with rpmbuild
# (Debian's rpm package will do) from the tree tools/package-stage.sh lays out and the spec in
# conf/packaging/rpm. Prints the .rpm's path last. RPM_RELEASE overrides the release (1).
#
# Needs: rpmbuild (rpm), binutils, /usr/bin/python3.11 with venv, $BUILD_PYTHON (pip >= 22.3).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "build-rpm.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ -f "$1" ] || fail "usage: build-rpm.sh WHEEL [OUT_DIR]"
wheel=$(realpath "$1")
out=$(realpath -m "${2:-dist}")
: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (tools/build-packages.sh does)}"
export BUILD_PYTHON=${BUILD_PYTHON:-$PWD/.venv/bin/python}
command -v rpmbuild >/dev/null || fail "no rpmbuild: apt-get install rpm"
. tools/package-stage.sh

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' sorabeat/__init__.py)
[ -n "$version" ] || fail "cannot read __version__ from sorabeat/__init__.py"
arch=$(uname -m)
release=${RPM_RELEASE:-1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
stage_root "$stage" "$wheel" /usr/lib/systemd/system
site=$(site_packages_of "$stage")
licenses=$stage/usr/share/licenses/sorabeat
install -D -m 0644 LICENSE "$licenses/LICENSE"
"$base_python" tools/gen_copyright.py "$site" "${site#"$stage"}" >"$licenses/copyright"
chmod 0644 "$licenses/copyright"

rpmbuild -bb --quiet \
    --define "_topdir $work/rpmbuild" \
    --define "_rpmdir $work/rpms" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "sb_version $version" \
    --define "sb_release $release" \
    --define "sb_arch $arch" \
    --define "sb_changelog_date $(date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" \
    --define "sb_stage $stage" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost sorabeat-build" \
    conf/packaging/rpm/sorabeat.spec >"$work/rpmbuild.log" 2>&1 \
    || { cat "$work/rpmbuild.log" >&2; fail "rpmbuild failed"; }
mkdir -p "$out"
rpm="$out/sorabeat-$version-$release.$arch.rpm"
cp "$work/rpms/$(basename "$rpm")" "$rpm"
echo "$rpm"
