#!/bin/sh
# make bench: sets the stage and runs the driver (svmd-bench), which starts svmd and each
# baseline pinned to CPUs, measures them alternately and writes bench/results.json. As root it
# creates the unprivileged user the clients run as (svmd-bench) and installs polkitd when it is
# missing; dbus-daemon runs a private system-like bus for the D-Bus scenarios, on which the
# driver starts polkitd for row 2b (tests/bench/polkitd.sh). The exit status is the driver's:
# non-zero when a scenario could not run. BENCH_ARGS (e.g. --quick) are passed to the driver.
set -eu
BUILD=${BUILD:-build-bench}
cd "$(dirname "$0")/../.."
here=$(pwd)
mkdir -p bench
work=$(mktemp -d /tmp/svmd-bench.XXXXXX)
chmod 0755 "$work" # the clients, as another user, reach the sockets inside
keep=0
cleanup() {
	if [ -f "$work/bus.pid" ]; then
		kill "$(cat "$work/bus.pid")" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then
		echo "bench: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user=$(id -un)
if [ "$(id -u)" = 0 ]; then
	user=svmd-bench
	getent passwd "$user" >/dev/null ||
		useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$user"
fi

# Row 2b's baseline asks polkitd (Debian: polkitd, its JavaScript rules engine included) about
# every call. The driver runs it; without it, the row fails and says so.
if [ ! -x /usr/lib/polkit-1/polkitd ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: installing polkitd for row 2b (apt-get, usually under a minute)"
		export DEBIAN_FRONTEND=noninteractive
		log=$work/apt-polkitd.log
		{ apt-get install -y -q --no-install-recommends polkitd >"$log" 2>&1 ||
			{ apt-get update -q >>"$log" 2>&1 &&
				apt-get install -y -q --no-install-recommends polkitd >>"$log" 2>&1; }; } ||
			{ keep=1; echo "bench: cannot install polkitd (log: $log): row 2b fails" >&2; }
	else
		echo "bench: polkitd is missing: row 2b fails (apt-get install polkitd, or run as root)" >&2
	fi
fi

# Latency: client, server (and dbus-daemon) share one CPU, as cross-CPU wake-ups cost about
# 50 us on these machines. Throughput and reloads under load: servers on one CPU, clients on
# another.
if [ "$(nproc)" -ge 2 ]; then
	lat=1 srv=0 cli=1
else
	lat=0 srv=0 cli=0
fi

# The bus is on the path of scenario 2: it runs at nice -20 like the processes the driver
# starts (when allowed), so other work on the machine disturbs it less.
prio=""
[ "$(id -u)" = 0 ] && prio="nice -n -20"
bus=""
if command -v dbus-daemon >/dev/null 2>&1; then
	bus=$($prio taskset -c "$lat" sh tests/private-bus.sh "$work" \
		"$here/tests/bench/bench-bus.conf") || bus=""
fi
[ -n "$bus" ] || echo "bench: no private bus (dbus-daemon missing or failed): scenario 2 fails" >&2

echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); latency on CPU $lat," \
	"servers on CPU $srv and clients on CPU $cli for throughput; clients run as $user"
status=0
# shellcheck disable=SC2086
taskset -c "$srv" "$BUILD/bench/svmd-bench" --build="$BUILD" --workdir="$work" \
	--json=bench/results.json --bus="$bus" --user="$user" --cpu="$lat" --server-cpu="$srv" \
	--client-cpu="$cli" ${BENCH_ARGS:-} || status=$?
[ "$status" = 0 ] || keep=1
exit "$status"
