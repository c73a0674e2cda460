# shellcheck shell=sh
# What the check-stress scenario scripts share (sourced): the users, a private bus, svmd on the
# simulated kernel with the sandbox on, root's view of it (tests/stress/probe.c), the audit
# trail's grant/release accounting, and the verdict: one line
#   check-stress: PASS|FAIL NAME: FIGURES
# per scenario (or per case), PASS only when every check ran and held. A scenario keeps its
# directory (svmd's log, the load generators' output) when it fails, and names it.
#
# Environment: BUILD (build), ASAN_BUILD (build-asan), SVMD_STRESS_SCALE (1: multiplies the
# sizes), SVMD_STRESS_KEEP=1 (keep the directory after a pass too).
set -u

BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
SCALE=${SVMD_STRESS_SCALE:-1}
case $SCALE in '' | *[!0-9]* | 0)
	echo "check-stress: SVMD_STRESS_SCALE must be a positive integer, not '$SCALE'" >&2
	exit 2
	;;
esac
TOOLS=$BUILD/tests/stress
SRC=$(cd "$(dirname "$0")/../.." && pwd)
USER1=svmd-stress1 # named by the scenarios' policies
USER2=svmd-stress2
USER3=svmd-stress3 # a bystander: named by some rules, or by none

# n times the scale.
scaled() { echo $(($1 * SCALE)); }

# KEY's value in a KEY=VALUE file (the last one), or nothing; val0: or 0, for sums (the
# checks of the figure itself use val, so that a missing one fails).
val() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
val0() {
	_v=$(val "$1" "$2")
	echo "${_v:-0}"
}

# The count of NAME in a tally value such as "ok:12,EDQUOT:3" (0 when absent).
tally() {
	printf '%s\n' "$2" | tr ',' '\n' | sed -n "s/^$1://p" | awk '{ s += $1 } END { print s + 0 }'
}

# The sum of the counts in a tally value but those named (a space-separated list).
tally_except() {
	printf '%s\n' "$1" | tr ',' '\n' | awk -F: -v keep=" $2 " \
		'$1 != "none" && index(keep, " " $1 " ") == 0 { s += $2 } END { print s + 0 }'
}

# stress_begin NAME TOOL...: the scenario NAME, using probe and these tools of tests/stress/.
stress_begin() {
	scenario=$1
	failures=""
	figures=""
	n_checks=0
	ended=""
	verdicts=0
	scenario_failed=""
	svmd_pid=""
	bus_pid=""
	bg_pids=""
	t_begin=$(date +%s)
	if [ "$(id -u)" != 0 ]; then
		echo "check-stress: FAIL $scenario: needs root (clients run as other users)"
		exit 1
	fi
	shift
	for t in probe "$@"; do
		if [ ! -x "$TOOLS/stress-$t" ]; then
			echo "check-stress: FAIL $scenario: $TOOLS/stress-$t missing (make check-stress builds it)"
			exit 1
		fi
	done
	for u in $USER1 $USER2 $USER3; do
		getent passwd "$u" >/dev/null ||
			useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$u"
	done
	dir=$(mktemp -d "/tmp/svmd-stress.$scenario.XXXXXX")
	chmod 0755 "$dir"
	mkdir "$dir/policy"
	sock=$dir/svmd.sock
	log=$dir/svmd.log
	trap stress_cleanup EXIT
	trap 'exit 1' INT TERM
}

# Remembers a load generator started in the background, to be ended with the scenario.
bg() { bg_pids="$bg_pids $1"; }

stress_cleanup() {
	for _p in $bg_pids; do
		kill -KILL "$_p" 2>/dev/null
	done
	if [ -n "$svmd_pid" ] && kill -0 "$svmd_pid" 2>/dev/null; then
		kill -KILL "$svmd_pid" 2>/dev/null
		wait "$svmd_pid" 2>/dev/null
	fi
	[ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
	if [ -z "$ended" ]; then
		echo "check-stress: FAIL $scenario: stopped before its checks were done${failures:+ (so far:$failures)}; log in $dir"
		return
	fi
	if [ -z "$scenario_failed" ] && [ "${SVMD_STRESS_KEEP:-0}" != 1 ]; then
		rm -rf "$dir"
	fi
}

# A step's progress, on stderr so that it shows while the scenario runs.
progress() { echo "  $scenario: $*" >&2; }

# Records a figure for the verdict line.
figure() { figures="${figures:+$figures, }$*"; }

# A check that failed (for checks that are not a comparison).
fail() {
	n_checks=$((n_checks + 1))
	failures="$failures; $*"
}
pass() { n_checks=$((n_checks + 1)); }

# expect WHAT VALUE OP BOUND: a numeric check; an empty VALUE (a figure never produced) fails.
expect() {
	n_checks=$((n_checks + 1))
	case $2 in
	'' | *[!0-9-]*)
		failures="$failures; $1: no figure ('$2')"
		return 1
		;;
	esac
	if [ "$2" "$3" "$4" ]; then
		return 0
	fi
	case $3 in
	-eq) rel="expected $4" ;;
	-le) rel="at most $4 allowed" ;;
	-lt) rel="below $4 expected" ;;
	-ge) rel="at least $4 expected" ;;
	-gt) rel="above $4 expected" ;;
	*) rel="$3 $4" ;;
	esac
	failures="$failures; $1 is $2 ($rel)"
	return 1
}

start_bus() {
	bus=$(sh "$SRC/tests/private-bus.sh" "$dir") || {
		fail "the private bus did not start"
		return 1
	}
	bus_pid=$(cat "$dir/bus.pid")
}

# start_svmd [--nofile=N] [--svmd=PATH] [SVMD-ARGS...]: svmd on the scenario's policy
# directory, socket and bus, audit to its log; waits until it serves both.
start_svmd() {
	svmd=$BUILD/svmd
	limit=""
	while [ $# -gt 0 ]; do
		case $1 in
		--nofile=*) limit=${1#--nofile=} ;;
		--svmd=*) svmd=${1#--svmd=} ;;
		*) break ;;
		esac
		shift
	done
	# A fixed mmap threshold: glibc's moving one keeps freed heap for later, which would read
	# as growth where nothing leaks.
	GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=262144
	export GLIBC_TUNABLES
	if [ -n "$limit" ]; then
		prlimit --nofile="$limit:$limit" -- "$svmd" --backend=sim --config=/dev/null \
			--socket="$sock" --bus="$bus" --policy-dir="$dir/policy" --audit=stderr \
			--log-level=info "$@" 2>>"$log" &
	else
		"$svmd" --backend=sim --config=/dev/null --socket="$sock" --bus="$bus" \
			--policy-dir="$dir/policy" --audit=stderr --log-level=info "$@" 2>>"$log" &
	fi
	svmd_pid=$!
	unset GLIBC_TUNABLES
	for _ in $(seq 500); do
		if [ -S "$sock" ] && busctl --address="$bus" call org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s org.svmd.Broker1 \
			>/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$svmd_pid" 2>/dev/null || break
		sleep 0.02
	done
	fail "svmd did not start (see $log)"
	return 1
}

svmd_alive() { kill -0 "$svmd_pid" 2>/dev/null; }
svmd_fds() { ls "/proc/$svmd_pid/fd" 2>/dev/null | wc -l; }
svmd_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$svmd_pid/status" 2>/dev/null; }

# probe OUT [ARGS...]: root's view into OUT (stress-probe), with --socket and --bus given.
probe() {
	_probe_out=$1
	shift
	"$TOOLS/stress-probe" --socket="$sock" --bus="$bus" "$@" >"$_probe_out" 2>&1
}

# settle WHAT BASE_FDS: waits for 0 bindings (socket, NBindings, objects) and svmd's fds back
# at BASE_FDS; checks both.
settle() {
	probe "$dir/settle.out" --wait-idle=20000 --pid="$svmd_pid" --fds="$2" --wait-fds=10000
	expect "$1: bindings" "$(val bindings "$dir/settle.out")" -eq 0
	expect "$1: NBindings" "$(val bus_nbindings "$dir/settle.out")" -eq 0
	expect "$1: binding objects" "$(val bus_objects "$dir/settle.out")" -eq 0
	expect "$1: svmd's fds (baseline $2)" "$(val fds "$dir/settle.out")" -eq "$2"
}

# Takes svmd's fd baseline once it has served one caller on each front-end (what it opens
# lazily is then open) and they have gone.
baseline() {
	probe "$dir/warm.out"
	for _ in $(seq 50); do
		base_fds=$(svmd_fds)
		sleep 0.1
		[ "$(svmd_fds)" = "$base_fds" ] && break
	done
	base_rss=$(svmd_rss)
}

# The audit trail: every binding granted is released exactly once. A binding may have more
# than one grant record (its bind, then its lease): it is counted once.
audit_accounting() {
	awk '
	/^svmd-audit:/ {
		ev = ""; b = ""
		for (i = 2; i <= NF && $i !~ /^REASON=/; i++) {
			if ($i ~ /^EVENT=/) ev = substr($i, 7)
			if ($i ~ /^BINDING=/) b = substr($i, 9)
		}
		if (b == "") next
		if (ev == "grant") { if (!(b in g)) ng++; g[b]++ }
		if (ev == "release") { r[b]++; nr++ }
	}
	END {
		for (b in g) if (!(b in r)) un++
		for (b in r) if (r[b] > 1 || !(b in g)) stray++
		printf "grants=%d\nreleases=%d\nunreleased=%d\nstray=%d\n", ng, nr, un, stray
	}' "$log" >"$dir/audit.out"
	grants=$(val grants "$dir/audit.out")
	expect "unreleased grants in the audit" "$(val unreleased "$dir/audit.out")" -eq 0
	expect "releases without a grant (or twice) in the audit" \
		"$(val stray "$dir/audit.out")" -eq 0
	expect "releases in the audit (grants $grants)" "$(val releases "$dir/audit.out")" -eq \
		"$grants"
}

# Stops svmd with SIGTERM: it must exit 0 within 20 s, with nothing from the sanitizers and
# nothing refused by its seccomp filter in its log.
stop_svmd() {
	kill -TERM "$svmd_pid" 2>/dev/null
	for _ in $(seq 200); do
		kill -0 "$svmd_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$svmd_pid" 2>/dev/null; then
		fail "svmd did not stop within 20 s of SIGTERM"
		kill -KILL "$svmd_pid"
	fi
	wait "$svmd_pid"
	rc=$?
	svmd_pid=""
	expect "svmd's exit status" "$rc" -eq 0
	log_clean
}

# Nothing in svmd's log from the sanitizers or the seccomp filter.
log_clean() {
	if grep -q 'seccomp: refused' "$log"; then
		fail "svmd made a system call its seccomp filter refuses: $(grep -m1 'seccomp: refused' "$log")"
	else
		pass
	fi
	if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
		fail "a sanitizer reported: $(grep -Em1 'ERROR: |runtime error:' "$log")"
	else
		pass
	fi
}

# A scenario of several cases starts each with a clean slate of checks and figures.
case_begin() {
	failures=""
	figures=""
	n_checks=0
	t_begin=$(date +%s)
}

# Prints the verdict line of the scenario or of its case NAME: PASS only if checks ran and none
# failed.
verdict() {
	_name=${1:-$scenario}
	_secs=$(($(date +%s) - t_begin))
	verdicts=$((verdicts + 1))
	if [ "$n_checks" -eq 0 ]; then
		failures="$failures; no check ran"
	fi
	if [ -z "$failures" ]; then
		echo "check-stress: PASS $_name: $figures ($_secs s)"
		return 0
	fi
	scenario_failed=1
	echo "check-stress: FAIL $_name: ${failures#; }. Figures: ${figures:-none} ($_secs s; log in $dir)"
	return 1
}

# Ends the scenario: exit 0 only when verdicts were given and all of them passed (ended early,
# it says why in a verdict of its own).
stress_end() {
	ended=1
	[ "$verdicts" -gt 0 ] || verdict
	[ -z "$scenario_failed" ]
	exit $?
}
