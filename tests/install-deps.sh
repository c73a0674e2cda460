#!/bin/sh
# Installs the Debian packages svmd builds and tests with, when run as root and something is
# missing; otherwise says what to install. Used by `make check`, `make demo` and CI.
set -eu

need_pkgs=""
# pkg-config module -> Debian package
for pair in libsystemd:libsystemd-dev libevent:libevent-dev libseccomp:libseccomp-dev \
            criterion:libcriterion-dev; do
	mod=${pair%%:*} pkg=${pair#*:}
	pkg-config --exists "$mod" 2>/dev/null || need_pkgs="$need_pkgs $pkg"
done
command -v pkg-config >/dev/null 2>&1 || need_pkgs="$need_pkgs pkg-config"
command -v dbus-daemon >/dev/null 2>&1 || need_pkgs="$need_pkgs dbus-daemon"
command -v cc >/dev/null 2>&1 || need_pkgs="$need_pkgs gcc"
command -v make >/dev/null 2>&1 || need_pkgs="$need_pkgs make"
# The completion tests load completion/_svmctl in a real zsh (the bash one in bash).
command -v zsh >/dev/null 2>&1 || need_pkgs="$need_pkgs zsh"
# The D-Bus tests' GDBus client (GDBusObjectManagerClient, as real D-Bus users see svmd).
/usr/bin/python3 -c 'import gi; gi.require_version("Gio", "2.0"); from gi.repository import Gio' \
	>/dev/null 2>&1 || need_pkgs="$need_pkgs python3-gi gir1.2-glib-2.0"
for extra in ${SVMD_EXTRA_PKGS:-}; do
	# (dpkg -s also accepts a package removed but not purged.)
	dpkg-query -W -f '${db:Status-Status}' "$extra" 2>/dev/null | grep -qx installed ||
		need_pkgs="$need_pkgs $extra"
done

[ -z "$need_pkgs" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "svmd: missing build packages:$need_pkgs" >&2
	echo "svmd: run 'sudo apt-get install$need_pkgs', or run make as root to install them." >&2
	exit 1
fi
echo "svmd: installing$need_pkgs"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need_pkgs >/dev/null
