#!/bin/sh
# svmd's test kernel: Linux 7.x with iommufd, VFIO device cdevs and the kernel's mock IOMMU
# (IOMMUFD_TEST) built in, which Debian's own kernels leave out. Built from Debian's
# linux-source-7.N package with the project's config (tests/vm/kernel-x86.config on top of
# allnoconfig), once per machine: the result is cached outside the clone, keyed on the source
# package's version, the config fragment and the build recipe (build_kernel below), so a second
# run takes a second. Kernels unused for 30 days are removed when another one is built.
#
#   tests/vm/kernel.sh      prints the kernel's directory on stdout, progress on stderr
#
# That directory holds bzImage, config, release (`uname -r` of the kernel), include/ (the
# kernel's own uAPI headers, `make headers_install`, plus iommufd_test.h, the mock IOMMU's
# test commands) and build.log.
#
# Environment:
#   SVMD_KERNEL_CACHE    where kernels are cached (default /var/cache/svmd-test)
#   SVMD_KERNEL_JOBS     make -j (default: the number of CPUs)
#   SVMD_KERNEL_REFRESH  1: refresh the package lists even when they are less than a day old
#   SVMD_DEBIAN_MIRROR   the Debian archive (default: the one the machine's apt sources use)
#   SVMD_KERNEL_SOURCE_ONLY  1: only download the source package and print the .deb's path
#                        (tests/vm/kernel-arm64.sh builds its kernel from the same package)
#
# The source comes from sid (linux-source-7.N, the newest 7.x sid has) or, when sid has none,
# from trixie-backports, through a private apt configuration in the cache: the machine's own
# sources are never touched. Installs the build's host packages when run as root.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../debian-archive.sh"
self=$here/kernel.sh
frag=$here/kernel-x86.config
CACHE=${SVMD_KERNEL_CACHE:-/var/cache/svmd-test}
JOBS=${SVMD_KERNEL_JOBS:-$(nproc)}

say() { echo "kernel: $*" >&2; }
die() {
	echo "kernel: FAIL: $*" >&2
	exit 1
}

export DEBIAN_FRONTEND=noninteractive

# 1. Host packages for a kernel build.
need=""
for p in gcc make flex bison bc libelf-dev libssl-dev xz-utils debian-archive-keyring; do
	# (dpkg -s also accepts a package removed but not purged.)
	dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need (run as root to have them installed)"
	say "installing$need"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
			$need >/dev/null; } || die "cannot install$need"
fi

if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
	die "cannot write to $CACHE (run as root, or point SVMD_KERNEL_CACHE elsewhere)"
fi
CACHE=$(cd "$CACHE" && pwd)

# One build at a time per cache: a second caller waits for the first and then reuses its kernel.
exec 9>"$CACHE/lock"
if ! flock -n 9; then
	say "another build holds $CACHE/lock: waiting for it"
	flock 9
fi

# 2. The package lists of sid and trixie-backports, in a private apt configuration.
apt_dir=$CACHE/apt
mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
uri=$(debian_archive_uri) || die "cannot tell which Debian archive to use"
cat >"$apt_dir/parts/svmd-kernel.sources" <<EOF
Types: deb
URIs: $uri
Suites: sid trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$apt_dir/parts
	-o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache -o Acquire::Languages=none
	-o APT::Architecture=amd64 -o APT::Architectures=amd64"
[ "$(id -u)" = 0 ] && apt_opts="$apt_opts -o APT::Sandbox::User=root"
stamp=$apt_dir/updated
apt_update() {
	say "refreshing the sid and trixie-backports package lists from $uri (a few seconds)"
	# shellcheck disable=SC2086
	if apt-get $apt_opts -qq update >"$apt_dir/update.log" 2>&1; then
		echo "$uri" >"$stamp"
	else
		sed 's/^/  | /' "$apt_dir/update.log" | tail -n 5 >&2
		return 1
	fi
}
if [ "${SVMD_KERNEL_REFRESH:-0}" = 1 ] || [ "$(cat "$stamp" 2>/dev/null)" != "$uri" ] ||
	[ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
	apt_update || [ -e "$stamp" ] || die "cannot fetch the package lists (log: $apt_dir/update.log)"
fi

# The newest linux-source-7.N in a suite, as "NAME VERSION SUITE".
newest_source() {
	# shellcheck disable=SC2086
	for name in $(apt-cache $apt_opts pkgnames linux-source-7. 2>/dev/null |
		grep -E '^linux-source-7\.[0-9]+$' | sort -V -r); do
		# shellcheck disable=SC2086
		version=$(apt-cache $apt_opts madison "$name" |
			awk -F' *[|] *' -v s="$1" '$3 ~ " " s "/" {print $2}' | sort -V | tail -n 1)
		if [ -n "$version" ]; then
			echo "$name $version $1"
			return 0
		fi
	done
	return 1
}
# Worked out once per refresh of the lists (apt-cache takes seconds on sid's lists).
choice=$apt_dir/choice
if [ ! -s "$choice" ] || [ -n "$(find "$stamp" -newer "$choice" 2>/dev/null)" ]; then
	found=$(newest_source sid || newest_source trixie-backports) || die "neither sid nor" \
		"trixie-backports has a linux-source-7.* package (lists: $apt_dir/lists)"
	echo "$found" >"$choice"
fi
read -r src_pkg src_version suite <"$choice"

# 3. How the kernel is built: one function whose text is part of the cache key (step 4), so
# changing the recipe makes a new kernel and changing the rest of this script does not.
# build_kernel SRC OBJ OUT LOG configures and builds the source tree SRC in OBJ and puts
# bzImage, config, release and include/ into OUT; the build's output goes to LOG.
build_kernel() {
	make -C "$1" O="$2" ARCH=x86_64 allnoconfig KCONFIG_ALLCONFIG="$frag" >>"$4" 2>&1 ||
		die "make allnoconfig failed (log: $4)"
	check_config "$2/.config"
	nice -n 19 make -C "$1" O="$2" ARCH=x86_64 -j"$JOBS" bzImage >>"$4" 2>&1 &
	if ! show_progress $! "$2"; then
		grep -E 'error|Error' "$4" | tail -n 10 | sed 's/^/  | /' >&2
		die "the kernel build failed (full log: $4)"
	fi
	# The uAPI headers, as `make headers_install` installs them (without needing rsync).
	make -C "$1" O="$2" ARCH=x86_64 headers >>"$4" 2>&1 || die "make headers failed (log: $4)"
	mkdir -p "$3"
	(cd "$2/usr" && find include -name '*.h' | tar -cf - -T -) | tar -xf - -C "$3" ||
		die "cannot copy the uAPI headers"
	cp "$1/drivers/iommu/iommufd/iommufd_test.h" "$3/include/iommufd_test.h"
	cp "$2/arch/x86/boot/bzImage" "$3/bzImage"
	cp "$2/.config" "$3/config"
	make -s --no-print-directory -C "$1" O="$2" ARCH=x86_64 kernelrelease >"$3/release" 2>>"$4"
}

# Every CONFIG_X=y of the fragment must be =y, every "# CONFIG_X is not set" unset.
check_config() {
	missing=""
	for sym in $(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=y$/\1/p' "$frag"); do
		grep -qx "$sym=y" "$1" || missing="$missing $sym"
	done
	for sym in $(sed -n 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1/p' "$frag"); do
		grep -q "^$sym=" "$1" && missing="$missing !$sym"
	done
	[ -z "$missing" ] || die "these options did not end up as $(basename "$frag") asks in" \
		"$1 (a dependency is off, or the symbol was renamed):$missing"
}

# show_progress PID OBJ: waits for the build PID, with a line every 30 s saying how many
# objects it compiled so far and how many the last build on this machine did; returns its status.
show_progress() {
	last=$(cat "$CACHE/kernels/objects" 2>/dev/null || true)
	while kill -0 "$1" 2>/dev/null; do
		i=0
		while [ $i -lt 30 ] && kill -0 "$1" 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
		kill -0 "$1" 2>/dev/null && say "  ... $(($(date +%s) - start))s," \
			"$(find "$2" -name '*.o' | wc -l)${last:+ of about $last} objects compiled"
	done
	wait "$1"
}

# 4. The cache key: the source package and version, the config fragment and the recipe.
recipe=$(sed -n '/^build_kernel() {$/,/^}$/p; /^check_config() {$/,/^}$/p' "$self")
hash=$( (cat "$frag" && echo "$recipe") | sha256sum | cut -c1-12)
key=${src_pkg#linux-source-}_${src_version}_$hash
out=$CACHE/kernels/$key
if [ "${SVMD_KERNEL_SOURCE_ONLY:-0}" != 1 ] && [ -e "$out/.complete" ]; then
	touch "$out/.complete" # when it was last used
	say "cached: Linux $(cat "$out/release") from $src_pkg $src_version ($out)"
	echo "$out"
	exit 0
fi

# 5. The source package, downloaded once per version.
src_dir=$CACHE/sources
deb=$src_dir/${src_pkg}_${src_version}.deb
if [ ! -s "$deb" ]; then
	say "downloading $src_pkg $src_version from $suite (about 160 MB)"
	rm -rf "$src_dir"
	mkdir -p "$src_dir/tmp"
	# shellcheck disable=SC2086
	(cd "$src_dir/tmp" && apt-get $apt_opts -qq download "$src_pkg=$src_version") \
		>"$src_dir/download.log" 2>&1 ||
		{ apt_update && (cd "$src_dir/tmp" && apt-get $apt_opts -qq download \
			"$src_pkg=$src_version") >"$src_dir/download.log" 2>&1; } ||
		die "cannot download $src_pkg $src_version (log: $src_dir/download.log)"
	mv "$src_dir"/tmp/*.deb "$deb"
	rmdir "$src_dir/tmp"
fi
if [ "${SVMD_KERNEL_SOURCE_ONLY:-0}" = 1 ]; then
	echo "$deb"
	exit 0
fi

# 6. Unpack and build in a scratch directory, removed afterwards (the .deb stays, for a rebuild
# with another config).
work=$CACHE/build
rm -rf "$work"
mkdir -p "$work/obj"
log=$work/build.log
start=$(date +%s)
say "building Linux from $src_pkg $src_version with $(basename "$frag"), once per machine:" \
	"about 500 CPU-seconds, so 4-5 minutes on 2 idle cores, up to 10 on a busy machine" \
	"(log: $log)"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$src_pkg.tar.xz" | xz -dc -T0 |
	tar -x -C "$work" || die "cannot unpack $deb"
[ -f "$work/$src_pkg/Makefile" ] || die "no kernel source in $deb"
rm -rf "$out"
build_kernel "$work/$src_pkg" "$work/obj" "$out" "$log"
release=$(cat "$out/release")
echo "$src_pkg $src_version ($suite)" >"$out/source"
find "$work/obj" -name '*.o' | wc -l >"$CACHE/kernels/objects"
cp "$log" "$out/build.log"
say "removing the build tree (2 GB)"
rm -rf "$work"
elapsed=$(($(date +%s) - start))
echo "$elapsed" >"$out/build-seconds"
touch "$out/.complete"
find "$CACHE/kernels" -mindepth 2 -maxdepth 2 -name .complete -mtime +30 |
	while read -r old; do rm -rf "$(dirname "$old")"; done
say "built Linux $release in ${elapsed}s: $(grep -c '=y$' "$out/config") options =y," \
	"bzImage $(stat -c %s "$out/bzImage") bytes ($out)"
echo "$out"
