# Sourced by build-deb.sh and build-rpm.sh: stage_root STAGE WHEEL UNIT_DIR lays out the files the
# .deb and the .rpm share, as installed: a virtualenv of /usr/bin/python3.11 at /usr/share/sorabeat
# (a link to /usr/lib/sorabeat; the program is /usr/share/sorabeat/bin/sorabeat, as metricbeat's is /usr/share/metricbeat/bin/
# metricbeat) with sorabeat installed from the wheel, a /usr/bin/sorabeat wrapper that passes the
# package's paths, the configuration in /etc/sorabeat, the systemd unit in UNIT_DIR, the manual page.
#
# No bytecode is shipped (the maintainer scripts compile it, and remove it on removal), shared
# objects are stripped, and every file is 0644 (0755 for the venv's bin/ and the wrapper), so the
# tree is the same from one build to the next.
#
# Needs: /usr/bin/python3.11 with venv, strip (binutils), $BUILD_PYTHON with pip >= 22.3, and
# $SOURCE_DATE_EPOCH (the manual page's date).

base_python=/usr/bin/python3.11

stage_root() {
    local stage=$1 wheel=$2 unit_dir=$3
    local venv=$stage/usr/share/sorabeat
    local build_python=${BUILD_PYTHON:?}
    [ -x "$base_python" ] || { echo "no $base_python: apt-get install python3.11 python3-venv" >&2; return 1; }
    command -v strip >/dev/null || { echo "no strip: apt-get install binutils" >&2; return 1; }

    "$base_python" -m venv --without-pip "$venv"
    "$build_python" -m pip --python "$venv/bin/python" install --quiet --no-compile \
        --disable-pip-version-check "$wheel"
    rm -rf "$venv"/lib/python*/site-packages/pip "$venv"/lib/python*/site-packages/pip-*
    # direct_url.json names the temporary wheel path: not reproducible, and not needed
    local dist_info
    for dist_info in "$venv"/lib/python*/site-packages/*.dist-info; do
        if [ -f "$dist_info/direct_url.json" ]; then
            rm "$dist_info/direct_url.json"
            sed -i '/direct_url\.json,/d' "$dist_info/RECORD"
        fi
    done
    # the scripts' hashes in RECORD are of their text naming the staging path (and all but
    # bin/sorabeat go below): drop those lines, as the staging path would make every build differ
    sed -i '\#^\.\./\.\./\.\./bin/#d' "$venv"/lib/python*/site-packages/*.dist-info/RECORD
    # The venv was made in the staging directory: make every path in it the installed one.
    grep -rlI --null -F "$stage" "$venv" | xargs -0 -r sed -i "s#$stage##g"
    if grep -rlI -F "$stage" "$venv"; then echo "staging path left in the files above" >&2; return 1; fi
    # what a service's venv does not use: activation scripts, the dependencies' own commands,
    # the empty include/
    rm -f "$venv"/bin/activate* "$venv"/bin/Activate.ps1
    find "$venv/bin" -type f ! -name sorabeat -delete
    rmdir "$venv"/include/python* "$venv/include"
    find "$venv" -name __pycache__ -type d -prune -exec rm -rf {} +
    # sorabeat parses YAML with yaml.SafeLoader (pure Python) only; PyYAML's unused C accelerator
    # embeds its own copy of libyaml (Debian's embedded-library error)
    rm -f "$venv"/lib/python*/site-packages/yaml/_yaml.*.so
    find "$venv" -type f -name '*.so*' -exec strip --strip-unneeded \
        --remove-section=.comment --remove-section=.note {} +

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
    local module
    for module in conf/modules.d/*; do
        install -D -m 0644 "$module" "$stage/etc/sorabeat/modules.d/$(basename "$module")"
    done
    install -D -m 0644 conf/sorabeat.service "$stage$unit_dir/sorabeat.service"
    mkdir -p "$stage/usr/share/man/man1"
    "$venv/bin/python" -B tools/gen_manpage.py - | gzip -9n >"$stage/usr/share/man/man1/sorabeat.1.gz"

    # the venv's one way out, as a relative link (the staged venv is no longer run from here on)
    ln -sfn ../../../bin/python3.11 "$venv/bin/python3.11"
    # Architecture-dependent files stay out of /usr/share (Debian's and Fedora's rule alike): the
    # venv lives in /usr/lib/sorabeat, and /usr/share/sorabeat, the path of metricbeat's layout
    # that the unit, the wrapper and the venv's own files name, is a link to it.
    mkdir -p "$stage/usr/lib"
    mv "$venv" "$stage/usr/lib/sorabeat"
    ln -s ../lib/sorabeat "$venv"
    # fixed modes: what umask and the wheels' own bits gave must not reach the package
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -type f -exec chmod 0644 {} +
    find "$stage/usr/lib/sorabeat/bin" "$stage/usr/bin" -type f -exec chmod 0755 {} +
}

site_packages_of() {
    local dirs=("$1"/usr/lib/sorabeat/lib/python*/site-packages)
    echo "${dirs[0]}"
}
