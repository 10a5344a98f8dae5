#!/usr/bin/env bash
# Build dist/sorabeat_<version>_<arch>.deb (and the sdist and wheel beside it).
#
# The package holds a virtualenv of the Debian python3 at /usr/share/sorabeat (so the program is
# /usr/share/sorabeat/bin/sorabeat, as metricbeat's is /usr/share/metricbeat/bin/metricbeat) with
# sorabeat installed from the wheel, a /usr/bin/sorabeat wrapper that passes the package's paths,
# the configuration in /etc/sorabeat (conffiles), the systemd unit, and maintainer scripts that
# create the `sorabeat` user and its directories, stop the service on removal and clean up on purge.
#
# Needs: dpkg-deb (package dpkg), /usr/bin/python3 with venv (python3, python3-venv), and a Python
# with `build` and pip >= 22.3 ($BUILD_PYTHON, default .venv/bin/python: the dev extra has both).
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
base_python=/usr/bin/python3
out=${OUT_DIR:-$repo/dist}

fail() { echo "build-deb.sh: $*" >&2; exit 1; }
[ -x "$build_python" ] || fail "no $build_python: make the venv (pip install -e '.[dev]') or set BUILD_PYTHON"
[ -x "$base_python" ] || fail "no $base_python: apt-get install python3 python3-venv"
command -v dpkg-deb >/dev/null || fail "no dpkg-deb"

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' sorabeat/__init__.py)
[ -n "$version" ] || fail "cannot read __version__ from sorabeat/__init__.py"
arch=$(dpkg --print-architecture)  # the venv holds compiled wheels (orjson, cryptography)
pyver=$("$base_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
pynext=$("$base_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
venv=$stage/usr/share/sorabeat

# sdist first, then the wheel built from the sdist: proves the sdist is complete
"$build_python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; fail "python -m build failed"; }
wheel=$(ls "$work"/dist/sorabeat-"$version"-*.whl)
mkdir -p "$out"
cp "$work"/dist/* "$out"/

"$base_python" -m venv --without-pip "$venv"
"$build_python" -m pip --python "$venv/bin/python" install --quiet --no-compile \
    --disable-pip-version-check "$wheel"
rm -rf "$venv"/lib/python*/site-packages/pip "$venv"/lib/python*/site-packages/pip-*

# The venv was made in the staging directory: make every path in it the installed one.
grep -rlI --null -F "$stage" "$venv" | xargs -0 -r sed -i "s#$stage##g"
if grep -rlI -F "$stage" "$venv"; then fail "staging path left in the files above"; fi
# Bytecode naming the installed paths; dpkg keeps the sources' mtimes, so it stays valid.
"$venv/bin/python" -m compileall -q -j 0 -s "$stage" -p / "$venv/lib" >/dev/null

install -D -m 0755 /dev/stdin "$stage/usr/bin/sorabeat" <<'EOF'
#!/bin/sh
# sorabeat with the package's directories; flags given here come later and win.
exec /usr/share/sorabeat/bin/sorabeat \
  --path.home /usr/share/sorabeat \
  --path.config /etc/sorabeat \
  --path.data /var/lib/sorabeat \
  --path.logs /var/log/sorabeat \
  "$@"
EOF
install -D -m 0644 conf/sorabeat.yml "$stage/etc/sorabeat/sorabeat.yml"
install -D -m 0644 conf/sorabeat.reference.yml "$stage/etc/sorabeat/sorabeat.reference.yml"
for module in conf/modules.d/*; do
    install -D -m 0644 "$module" "$stage/etc/sorabeat/modules.d/$(basename "$module")"
done
install -D -m 0644 conf/sorabeat.service "$stage/lib/systemd/system/sorabeat.service"
install -D -m 0644 /dev/stdin "$stage/usr/share/doc/sorabeat/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sorabeat

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF

mkdir -p "$stage/DEBIAN"
(cd "$stage" && find etc -type f | sed 's#^#/#' | sort) >"$stage/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: sorabeat
Version: $version
Architecture: $arch
Maintainer: sorabeat maintainers <sorabeat@localhost>
Installed-Size: $installed_size
Depends: python3 (>= $pyver), python3 (<< $pynext), adduser
Section: admin
Priority: optional
Description: ships Sora (WebRTC SFU) statistics to Logstash or Elasticsearch
 sorabeat polls the Sora HTTP API and ships the statistics to Logstash
 (Lumberjack v2, a drop-in replacement for metricbeat) or Elasticsearch,
 with a crash-safe disk spool in between.
EOF

install -m 0755 /dev/stdin "$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd sorabeat >/dev/null; then
        adduser --system --group --quiet --home /var/lib/sorabeat --no-create-home \
            --shell /usr/sbin/nologin sorabeat
    fi
    install -d -o sorabeat -g sorabeat -m 0750 /var/lib/sorabeat /var/log/sorabeat
    if [ -z "$2" ]; then
        # first install: the service user reads the configuration (it may hold secrets),
        # others do not; later upgrades keep whatever the administrator chose
        chgrp -R sorabeat /etc/sorabeat
        chmod 0750 /etc/sorabeat /etc/sorabeat/modules.d
        find /etc/sorabeat -type f -exec chmod 0640 {} +
    fi
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
        if [ -n "$2" ]; then
            systemctl try-restart sorabeat.service >/dev/null || true
        fi
    fi
fi
exit 0
EOF

install -m 0755 /dev/stdin "$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = deconfigure ]; then
    if [ -d /run/systemd/system ]; then
        systemctl stop sorabeat.service >/dev/null 2>&1 || true
    fi
    if command -v systemctl >/dev/null; then
        # drop the enablement links while the unit file still says where they are
        systemctl --quiet disable sorabeat.service >/dev/null 2>&1 || true
    fi
fi
exit 0
EOF

install -m 0755 /dev/stdin "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
case "$1" in
remove)
    # bytecode written at run time is not dpkg's; remove it so the directory goes too
    rm -rf /usr/share/sorabeat
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
    fi
    ;;
purge)
    rm -rf /usr/share/sorabeat /var/lib/sorabeat /var/log/sorabeat /etc/sorabeat
    if getent passwd sorabeat >/dev/null && command -v deluser >/dev/null; then
        deluser --system --quiet sorabeat >/dev/null 2>&1 || true
    fi
    if getent group sorabeat >/dev/null && command -v delgroup >/dev/null; then
        delgroup --system --quiet sorabeat >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
EOF

deb="$out/sorabeat_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
