#!/usr/bin/env bash
# tools/build-packages.sh: build every package of sorabeat into dist/ and print their paths, one per
# line, last: the sdist, the wheel, the .deb, the .rpm and the tar.gz.
#
# Everything is built from the sdist: the sdist is made first, unpacked, and the wheel and the
# three packages are built from the unpacked tree (with its own tools/), so a file missing from the
# sdist fails the build. SOURCE_DATE_EPOCH (default: the last commit's time) fixes every date, so
# building the same commit twice gives byte-identical .deb and tar.gz (tools/ci-packages.sh checks).
#
# Needs (apt): dpkg, binutils, rpm, python3.11, python3-venv; a Python with `build` and pip >= 22.3
# ($BUILD_PYTHON, default .venv/bin/python: the dev extra has both). OUT_DIR overrides dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fail() { echo "build-packages.sh: $*" >&2; exit 1; }
export BUILD_PYTHON=${BUILD_PYTHON:-$repo/.venv/bin/python}
[ -x "$BUILD_PYTHON" ] || fail "no $BUILD_PYTHON: make the venv (pip install -e '.[dev]') or set BUILD_PYTHON"
out=$(realpath -m "${OUT_DIR:-$repo/dist}")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null) \
        || fail "set SOURCE_DATE_EPOCH (no git history to take it from)"
fi
export SOURCE_DATE_EPOCH
export LC_ALL=C.UTF-8 TZ=UTC

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/build.log

"$BUILD_PYTHON" -m build --sdist --outdir "$work/dist" "$repo" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "building the sdist failed"; }
sdist=$(ls "$work"/dist/sorabeat-*.tar.gz)
mkdir "$work/src"
tar -xzf "$sdist" -C "$work/src"
src=$(ls -d "$work"/src/sorabeat-*)
"$BUILD_PYTHON" -m build --wheel --outdir "$work/dist" "$src" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "building the wheel from the sdist failed"; }
wheel=$(ls "$work"/dist/sorabeat-*.whl)

mkdir -p "$out"
cp "$sdist" "$wheel" "$out"/
paths=("$out/$(basename "$sdist")" "$out/$(basename "$wheel")")
for builder in build-deb.sh build-rpm.sh build-tarball.sh; do
    [ -f "$src/tools/$builder" ] || fail "the sdist lacks tools/$builder"
    built=$(bash "$src/tools/$builder" "$wheel" "$out" | tail -n 1)
    [ -f "$built" ] || fail "$builder printed no package path"
    paths+=("$built")
done
printf '%s\n' "${paths[@]}"
