#!/usr/bin/env bash
# tools/ci-deb.sh DEB: CI check of the Debian package on this machine (Debian 12, as root): install
# it with dpkg -i, use it as an operator would (also as the service user), upgrade over itself, purge it,
# and check that nothing is left. Fails loudly at the first problem.
#
# Needs (apt): dpkg, adduser, python3.11, systemd (for systemd-analyze), util-linux (setpriv),
# coreutils (timeout), man-db (man). tools/ci-packages.sh builds the .deb and runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "ci-deb.sh: FAILED: $*" >&2; exit 1; }
step() { echo "ci-deb.sh: $*"; }

[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i)"
if dpkg-query -W -f='${Status}' sorabeat 2>/dev/null | grep -q installed; then
    fail "a sorabeat package is already installed here; this check would replace it"
fi

deb=${1:?usage: ci-deb.sh DEB}
[ -f "$deb" ] || fail "no $deb"

purge() { dpkg --purge sorabeat >/dev/null 2>&1 || true; }
trap purge EXIT

step "installing $deb"
dpkg -i "$deb"

step "checking the installation"
sorabeat version | grep -q '^sorabeat version ' || fail "sorabeat version"
TIMEFORMAT="ci-deb.sh: start-up of the installed sorabeat version: %Rs"
time sorabeat version >/dev/null
sorabeat test config -c /etc/sorabeat/sorabeat.yml
getent passwd sorabeat >/dev/null || fail "no sorabeat user"
[ "$(getent passwd sorabeat | cut -d: -f7)" = /usr/sbin/nologin ] || fail "sorabeat user has a shell"
for dir in /var/lib/sorabeat /var/log/sorabeat; do
    [ "$(stat -c %U:%G:%a "$dir")" = sorabeat:sorabeat:750 ] || fail "$dir: $(stat -c %U:%G:%a "$dir")"
done
[ "$(stat -c %U:%G:%a /etc/sorabeat/sorabeat.yml)" = root:sorabeat:640 ] \
    || fail "/etc/sorabeat/sorabeat.yml: $(stat -c %U:%G:%a /etc/sorabeat/sorabeat.yml)"
conffiles=$(dpkg-query -W -f='${Conffiles}' sorabeat)
for f in /etc/sorabeat/sorabeat.yml /etc/sorabeat/modules.d/sora.yml; do
    grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile"
done
[ -f /lib/systemd/system/sorabeat.service ] || fail "no systemd unit"
verify=$(systemd-analyze verify /lib/systemd/system/sorabeat.service 2>&1) || fail "$verify"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
sorabeat modules list | grep -qx sora || fail "modules list does not show sora"
[ -n "$(find /usr/lib/sorabeat -name '*.pyc' -print -quit)" ] || fail "postinst compiled no bytecode"
if command -v man >/dev/null; then
    man -P cat sorabeat 2>/dev/null | grep -q 'keystore add' || fail "man sorabeat lacks the commands"
fi

step "keystore made by root, used by the service user"
as_service() { setpriv --reuid sorabeat --regid sorabeat --init-groups -- "$@"; }
sorabeat keystore create
printf 'edge-shipper-7' | sorabeat keystore add SHIPPER_NAME --stdin
[ "$(stat -c %U:%a /var/lib/sorabeat/sorabeat.keystore)" = sorabeat:600 ] \
    || fail "keystore: $(stat -c %U:%a /var/lib/sorabeat/sorabeat.keystore)"
as_service sorabeat test config -E 'name=${SHIPPER_NAME}' >/dev/null \
    || fail "the service user cannot resolve a keystore key"
exported=$(as_service sorabeat export config -E 'name=${SHIPPER_NAME}')
if grep -q edge-shipper-7 <<<"$exported"; then fail "export config shows a keystore value"; fi
sorabeat keystore remove SHIPPER_NAME

step "running as the service user, as the unit does (SIGTERM after 3s must exit 0)"
run_log=$(mktemp)
queue=()
if ! /usr/share/sorabeat/bin/python -c 'import sorabeat.spool.disk' 2>/dev/null; then
    queue=(-E queue.mem.events=1024)  # a build without the disk spool
fi
set +e
# setpriv execs (no forking su/runuser in between) so that SIGTERM reaches sorabeat itself
timeout --preserve-status -s TERM 3 setpriv --reuid sorabeat --regid sorabeat --init-groups -- \
    /usr/share/sorabeat/bin/sorabeat --environment systemd -c /etc/sorabeat/sorabeat.yml \
    --path.home /usr/share/sorabeat --path.config /etc/sorabeat \
    --path.data /var/lib/sorabeat --path.logs /var/log/sorabeat -N "${queue[@]}" 2>"$run_log"
code=$?
set -e
if [ "$code" != 0 ] || ! grep -q 'sorabeat stopped' "$run_log"; then
    cat "$run_log" >&2
    rm -f "$run_log"
    fail "running as the sorabeat user exited $code without a clean stop"
fi
rm -f "$run_log"
[ -f /var/lib/sorabeat/meta.json ] || fail "the service user could not write path.data"

step "upgrading over itself"
echo "# local change" >>/etc/sorabeat/sorabeat.yml
dpkg -i --force-confold "$deb"
grep -q '^# local change' /etc/sorabeat/sorabeat.yml || fail "upgrade lost a local config change"
sorabeat version >/dev/null

step "purging"
trap - EXIT
dpkg --purge sorabeat
for path in /usr/share/sorabeat /usr/lib/sorabeat /usr/bin/sorabeat /etc/sorabeat /var/lib/sorabeat \
    /var/log/sorabeat /lib/systemd/system/sorabeat.service; do
    [ ! -e "$path" ] || fail "$path is left after purge"
done
if getent passwd sorabeat >/dev/null; then fail "the sorabeat user is left after purge"; fi
step "OK"
