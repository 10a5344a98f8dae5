#!/usr/bin/env bash
# tools/build-tarball.sh WHEEL [OUT_DIR]: build OUT_DIR/sorabeat-<version>-linux-<arch>.tar.gz with
# metricbeat's tarball layout: one top folder holding the program (./sorabeat), sorabeat.yml,
# sorabeat.reference.yml, modules.d/, README.md, LICENSE, NOTICE (the bundled licences) and lib/.
# Prints the tarball's path last.
#
# lib/ holds sorabeat and its dependencies as installed files (no virtualenv, so nothing names
# the build's paths) with the compiled extensions of every CPython in TAR_PYTHONS side by side:
# their file names carry the ABI (orjson.cpython-312-x86_64-linux-gnu.so), the Python parts are
# the same versions for all, and cryptography's _rust.abi3.so serves them all. Bytecode for 3.11
# ships as unchecked-hash .pyc (valid whatever the mtimes after unpacking). It runs with no pip
# and no network on any glibc >= 2.17 Linux with one of those Pythons.
#
# Reproducible: sorted members, owner 0:0, fixed modes, mtimes = SOURCE_DATE_EPOCH, gzip -n.
# Needs: $BUILD_PYTHON (pip >= 22.3), /usr/bin/python3.11, tar, gzip; PyPI for the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "build-tarball.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ -f "$1" ] || fail "usage: build-tarball.sh WHEEL [OUT_DIR]"
wheel=$(realpath "$1")
out=$(realpath -m "${2:-dist}")
: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (tools/build-packages.sh does)}"
build_python=${BUILD_PYTHON:-$PWD/.venv/bin/python}
pythons=${TAR_PYTHONS:-3.11 3.12 3.13 3.14}
compile_python=/usr/bin/python3.11
[ -x "$compile_python" ] || fail "no $compile_python: apt-get install python3.11"

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' sorabeat/__init__.py)
[ -n "$version" ] || fail "cannot read __version__ from sorabeat/__init__.py"
arch=$(uname -m)
top=sorabeat-$version-linux-$arch

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/$top
lib=$root/lib

install_for() {  # install_for PYVER TARGET [pip args]: wheels only, for that CPython on manylinux
    local pyver=$1 target=$2
    shift 2
    "$build_python" -m pip install --quiet --disable-pip-version-check --no-compile \
        --target "$target" --only-binary=:all: --implementation cp --python-version "$pyver" \
        --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" "$@" "$wheel" \
        || fail "no wheels of sorabeat's dependencies for CPython $pyver on $arch"
}
first=${pythons%% *}
install_for "$first" "$lib"
# pin the others to the versions just installed, so the shared Python files are the same
(cd "$lib" && for d in *.dist-info; do
    name=${d%.dist-info}
    echo "${name%-*}==${name##*-}"
done) >"$work/constraints.txt"
for pyver in ${pythons#"$first"}; do
    install_for "$pyver" "$work/py$pyver" -c "$work/constraints.txt"
    (cd "$work/py$pyver" && ls -d *.dist-info) >"$work/dists-$pyver"
    (cd "$lib" && ls -d *.dist-info) | cmp -s - "$work/dists-$pyver" \
        || fail "CPython $pyver resolved other distributions than $first"
    (cd "$work/py$pyver" && find . -name "*.cpython-*.so" -print0) | while IFS= read -r -d '' so; do
        install -D -m 0644 "$work/py$pyver/$so" "$lib/$so"
    done
done
rm -rf "$lib/bin"
find "$lib" -name direct_url.json -delete
for record in "$lib"/*.dist-info/RECORD; do sed -i '/direct_url\.json,/d; \#^\.\./\.\./\.\./bin/#d; \#^bin/#d' "$record"; done
rm -f "$lib"/yaml/_yaml.*.so  # unused C accelerator (sorabeat uses yaml.SafeLoader), as in the .deb
find "$lib" -type f -name '*.so*' -exec strip --strip-unneeded \
    --remove-section=.comment --remove-section=.note {} +
install -m 0644 conf/packaging/tarball/__main__.py "$lib/__main__.py"
"$compile_python" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$root" -p "$top" \
    "$lib" >/dev/null

install -m 0755 conf/packaging/tarball/sorabeat "$root/sorabeat"
install -m 0644 conf/sorabeat.yml conf/sorabeat.reference.yml README.md LICENSE "$root/"
mkdir -p "$root/modules.d"
install -m 0644 conf/modules.d/* "$root/modules.d/"
"$compile_python" tools/gen_copyright.py "$lib" "$top/lib" \
    | sed -e 's#^ On Debian systems, the full text of the \(.*\) licence is in$# The full text of the \1 licence is in the file LICENSE.#' \
        -e '\#^ /usr/share/common-licenses/#d' \
    >"$root/NOTICE"
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f ! -path "$root/sorabeat" -exec chmod 0644 {} +

mkdir -p "$out"
tarball="$out/$top.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    --format=gnu -C "$work" -cf - "$top" | gzip -9n >"$tarball"
echo "$tarball"
