#!/usr/bin/env bash
# tools/ci-rpm.sh RPM: CI check of the RPM on this Debian machine (as root), with Debian's rpm.
#
# It reads the package (rpm -qpl, rpm -qp --scripts, rpmlint), then installs, upgrades and erases
# it into a scratch root with its own rpm database (rpm --root). rpm runs the scriptlets chrooted
# into that root, and an empty root has no shell, useradd or python: so the scratch root gets
# this machine's /usr as the lower layer of an overlay (writes, the package's files included, go
# to the upper layer; this /usr is untouched), the usual merged-/usr links, a copy of the account
# files and /dev. The installed `sorabeat` then runs inside the chroot with Debian's python3.11,
# as it would with RHEL's or Fedora's python3.11. --nodeps: the scratch root has no rpm database
# of the host's packages to satisfy Requires (shadow-utils, /usr/bin/python3.11).
#
# Needs (apt): rpm, rpmlint, util-linux (mount); the kernel's overlay filesystem.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "ci-rpm.sh: FAILED: $*" >&2; exit 1; }
step() { echo "ci-rpm.sh: $*"; }
rpm_file=$(realpath "${1:?usage: ci-rpm.sh RPM}")
[ "$(id -u)" = 0 ] || fail "must run as root (mount, chroot)"

files=$(rpm -qpl "$rpm_file")
for f in /usr/bin/sorabeat /usr/share/sorabeat /usr/lib/sorabeat/bin/sorabeat /etc/sorabeat/sorabeat.yml \
    /etc/sorabeat/modules.d/sora.yml /var/lib/sorabeat /var/log/sorabeat \
    /usr/lib/systemd/system/sorabeat.service /usr/share/man/man1/sorabeat.1.gz \
    /usr/share/licenses/sorabeat/LICENSE; do
    grep -qx "$f" <<<"$files" || fail "rpm -qpl: no $f"
done
if grep -q '__pycache__\|\.pyc$' <<<"$files"; then fail "the RPM ships bytecode"; fi
configs=$(rpm -qp --configfiles "$rpm_file")
grep -qx /etc/sorabeat/sorabeat.yml <<<"$configs" || fail "sorabeat.yml is not %config"
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm_file")
grep -qx 'cn /etc/sorabeat/sorabeat.yml' <<<"$flags" || fail "sorabeat.yml is not %config(noreplace)"
scripts=$(rpm -qp --scripts "$rpm_file")
for s in 'preinstall scriptlet' 'postinstall scriptlet' 'preuninstall scriptlet' \
    'postuninstall scriptlet' 'useradd -r'; do
    grep -q "$s" <<<"$scripts" || fail "rpm -qp --scripts: no $s"
done
step "rpm -qpl and --scripts: layout, %config(noreplace), user made in %pre"

if command -v rpmlint >/dev/null; then
    # rpmlint knows Fedora's and openSUSE's conventions, not a bundled virtualenv's: its report is
    # shown, and its errors other than the ones conf/packaging/rpm/rpmlintrc explains fail the check
    rpmlint -r conf/packaging/rpm/rpmlintrc "$rpm_file" >"${TMPDIR:-/tmp}/rpmlint.$$" 2>&1 || true
    tail -n 1 "${TMPDIR:-/tmp}/rpmlint.$$"
    if grep -q ': E: ' "${TMPDIR:-/tmp}/rpmlint.$$"; then
        grep ': E: ' "${TMPDIR:-/tmp}/rpmlint.$$" >&2
        rm -f "${TMPDIR:-/tmp}/rpmlint.$$"
        fail "rpmlint reports errors"
    fi
    rm -f "${TMPDIR:-/tmp}/rpmlint.$$"
fi

scratch=$(mktemp -d)
root=$scratch/root
cleanup() {
    umount "$root/dev" 2>/dev/null || true
    umount "$root/usr" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$root"/{usr,dev,etc,tmp,var/lib/rpm} "$scratch"/{upper,work}
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$scratch/upper,workdir=$scratch/work" "$root/usr" \
    || fail "cannot mount an overlay of /usr for the scratch root"
mount --bind /dev "$root/dev"
for d in bin sbin lib lib64; do [ -L "/$d" ] && ln -s "usr/$d" "$root/$d"; done
for f in passwd group shadow gshadow login.defs nsswitch.conf; do
    [ -f "/etc/$f" ] && cp -p "/etc/$f" "$root/etc/$f"
done
if chroot "$root" getent passwd sorabeat >/dev/null; then fail "this machine already has a sorabeat user"; fi
chmod 1777 "$root/tmp"
rpmroot() { rpm --root "$root" --dbpath /var/lib/rpm "$@"; }
in_root() { chroot "$root" "$@"; }

rpmroot --initdb
step "installing into the scratch root"
rpmroot -i --nodeps "$rpm_file"
rpmroot -q sorabeat >/dev/null || fail "not installed"
in_root getent passwd sorabeat >/dev/null || fail "%pre made no sorabeat user"
[ "$(in_root stat -c %U:%G:%a /var/lib/sorabeat)" = sorabeat:sorabeat:750 ] || fail "/var/lib/sorabeat"
[ "$(in_root stat -c %U:%G:%a /etc/sorabeat/sorabeat.yml)" = root:sorabeat:640 ] || fail "sorabeat.yml"
[ -n "$(find "$root/usr/lib/sorabeat" -name '*.pyc' -print -quit)" ] || fail "%post compiled no bytecode"
in_root /usr/bin/sorabeat version | grep -q '^sorabeat version ' || fail "sorabeat version in the root"
in_root /usr/bin/sorabeat test config
TIMEFORMAT="ci-rpm.sh: start-up of the installed sorabeat version: %Rs"
time in_root /usr/bin/sorabeat version >/dev/null
rpmroot -V --nodeps sorabeat || fail "rpm -V finds the installation changed"

step "upgrading (the same package again: %pre, %post, then the old one's %preun/%postun with \$1=1)"
echo "# local change" >>"$root/etc/sorabeat/sorabeat.yml"
rpmroot -U --replacepkgs --nodeps "$rpm_file"
grep -q '^# local change' "$root/etc/sorabeat/sorabeat.yml" || fail "the upgrade lost a config change"
[ "$(rpmroot -q sorabeat | wc -l)" = 1 ] || fail "two sorabeat packages after the upgrade"
[ -n "$(find "$root/usr/lib/sorabeat" -name '*.pyc' -print -quit)" ] || fail "no bytecode after the upgrade"
in_root /usr/bin/sorabeat version >/dev/null || fail "sorabeat version after the upgrade"

step "erasing"
rpmroot -e sorabeat
if rpmroot -q sorabeat >/dev/null; then fail "still installed"; fi
for p in /usr/share/sorabeat /usr/lib/sorabeat /usr/bin/sorabeat /usr/lib/systemd/system/sorabeat.service; do
    [ ! -e "$root$p" ] || fail "$p is left after erase"
done
# the changed configuration is kept as .rpmsave, as rpm does for a modified %config
[ -f "$root/etc/sorabeat/sorabeat.yml.rpmsave" ] || fail "the changed sorabeat.yml was not kept"
step "OK"
