#!/usr/bin/env bash
# CI check of every package (Debian 12, as root): build them all with tools/build-packages.sh,
# then: lintian on the .deb (no error, no warning left unexplained); the .deb installed, used,
# upgraded and purged (tools/ci-deb.sh); the .rpm's file list and scriptlets, rpmlint, and the
# .rpm installed, upgraded and erased in a scratch root (tools/ci-rpm.sh); the tar.gz unpacked in an
# empty directory and run from there; a second build of the same commit byte-identical (.deb and
# tar.gz). Prints how long each part took.
#
# Needs (apt): dpkg, adduser, python3.11, python3-venv, binutils, rpm, rpmlint, lintian, systemd,
# util-linux, coreutils; .venv with the dev extra (build, pip), as .ci/run makes.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "ci-packages.sh: FAILED: $*" >&2; exit 1; }
step() { echo "ci-packages.sh: $*"; }
started=$SECONDS
timed() {  # timed LABEL COMMAND...: run it, and say how long it took
    local t0=$SECONDS label=$1
    shift
    "$@"
    step "$label: took $((SECONDS - t0))s"
}
[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i, rpm --root)"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

out1=$(mktemp -d)
out2=$(mktemp -d)
trap 'rm -rf "$out1" "$out2"' EXIT

build() { OUT_DIR=$1 tools/build-packages.sh >"$1/paths" 2>"$1/build.log" \
    || { cat "$1/build.log" >&2; fail "build-packages.sh"; }; }
timed "build (1st)" build "$out1"
mapfile -t paths <"$out1/paths"
[ "${#paths[@]}" = 5 ] || fail "build-packages.sh printed ${#paths[@]} paths, not 5: ${paths[*]}"
for p in "${paths[@]}"; do [ -f "$p" ] || fail "no $p"; done
deb=$(grep '\.deb$' "$out1/paths")
rpm=$(grep '\.rpm$' "$out1/paths")
tarball=$(grep -- '-linux-.*\.tar\.gz$' "$out1/paths")
ls -l "${paths[@]}"

lint_deb() {
    local report
    report=$(lintian --display-info --fail-on error,warning "$deb" 2>&1) \
        || { echo "$report" >&2; fail "lintian"; }
    { grep '^[EWI]:' <<<"$report" || true; } | cut -d' ' -f1,3 | sort | uniq -c \
        | sed 's/^/  lintian: /'
    step "lintian: no error, no warning (overrides: conf/packaging/deb/lintian-overrides)"
}
timed "lintian on the .deb" lint_deb
timed "the .deb installed, used, upgraded, purged" bash tools/ci-deb.sh "$deb"
timed "the .rpm read, linted, installed, upgraded, erased" bash tools/ci-rpm.sh "$rpm"

run_tarball() {
    local dir
    dir=$(mktemp -d)
    (
        cd "$dir"
        tar -xzf "$tarball"
        top=$(ls)
        [ "$(echo "$top" | wc -l)" = 1 ] || fail "the tar.gz has more than one top folder"
        for f in sorabeat sorabeat.yml sorabeat.reference.yml modules.d/sora.yml README.md \
            LICENSE NOTICE; do
            [ -e "$top/$f" ] || fail "the tar.gz lacks $top/$f"
        done
        cd "$top"
        export HOME="$dir/home"
        ./sorabeat version | grep -q '^sorabeat version ' || fail "tar.gz: sorabeat version"
        ./sorabeat test config
        TIMEFORMAT="ci-packages.sh: start-up of the tar.gz's ./sorabeat version: %Rs"
        time ./sorabeat version >/dev/null
        ./sorabeat demo --duration 5 >"$dir/demo.log" 2>&1 || { cat "$dir/demo.log" >&2; fail "tar.gz: demo"; }
        tail -n 3 "$dir/demo.log"
        # from elsewhere, too: path.home is the unpacked folder, not the cwd
        (cd / && "$dir/$top/sorabeat" test config >/dev/null) || fail "tar.gz: run from another cwd"
    )
    rm -rf "$dir"
}
timed "the tar.gz run where unpacked" run_tarball

timed "build (2nd, for the reproducibility check)" build "$out2"
for f in "$deb" "$tarball"; do
    cmp "$f" "$out2/$(basename "$f")" || fail "$(basename "$f") differs between two builds"
done
step "the .deb and the tar.gz are byte-identical across two builds"
step "OK in $((SECONDS - started))s"
