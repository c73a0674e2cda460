#!/bin/sh
# make check-stress: svmd's reliability suite. Runs each scenario script of tests/stress/ (all
# of them, or those named as arguments or in SVMD_STRESS_ONLY), each in its own process group
# with a time limit, prints their verdict lines (one PASS/FAIL line per scenario or case, with
# its figures) and a summary line; exits 1 unless every scenario ran and passed.
#
# Environment: BUILD, ASAN_BUILD, SVMD_STRESS_SCALE (sizes and time limits multiply by it),
# SVMD_STRESS_KEEP=1 (keep the scenarios' directories).
set -u
here=$(dirname "$0")
export BUILD=${BUILD:-build} ASAN_BUILD=${ASAN_BUILD:-build-asan}
scale=${SVMD_STRESS_SCALE:-1}
all="kill-storm fd-exhaustion bad-clients bus-fuzz policy-mutation"
only=${*:-${SVMD_STRESS_ONLY:-$all}}

# Seconds each scenario may take at scale 1 (a few times what it takes here).
limit() {
	case $1 in
	kill-storm) echo 120 ;;
	fd-exhaustion) echo 180 ;;
	bad-clients) echo 120 ;;
	bus-fuzz) echo 240 ;;
	policy-mutation) echo 300 ;;
	*) echo 0 ;;
	esac
}

n=0
for s in $only; do n=$((n + 1)); done
echo "check-stress: $n scenario(s) at scale $scale: $only (about 2 minutes at scale 1)"
start=$(date +%s)
failed=""
for s in $only; do
	secs=$(($(limit "$s") * scale))
	if [ "$secs" -eq 0 ] || [ ! -f "$here/$s.sh" ]; then
		echo "check-stress: FAIL $s: no such scenario (there are: $all)"
		failed="$failed $s"
		continue
	fi
	echo "check-stress: $s (at most $secs s)" >&2
	out=$(mktemp)
	# Its own session and process group: on time-out, the whole scenario goes (svmd, the bus,
	# the load generators), its script's clean-up still running first.
	setsid sh "$here/$s.sh" >"$out" 2>&1 </dev/null &
	pid=$!
	waited=0 rc=""
	tail -f --pid="$pid" "$out" 2>/dev/null | grep --line-buffered -v '^check-stress: \(PASS\|FAIL\) ' >&2 &
	tailer=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge "$secs" ]; then
			# Only ever the scenario's own group (setsid made it its leader).
			if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
				kill -TERM -- "-$pid" 2>/dev/null
				sleep 5
				kill -KILL -- "-$pid" 2>/dev/null
			else
				kill -KILL "$pid" 2>/dev/null
			fi
			rc=timeout
			break
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid"
	[ -z "$rc" ] && rc=$?
	wait "$tailer" 2>/dev/null
	grep '^check-stress: \(PASS\|FAIL\) ' "$out"
	if [ "$rc" = timeout ]; then
		echo "check-stress: FAIL $s: still running after $secs s: stopped"
	fi
	if [ "$rc" != 0 ] || grep -q '^check-stress: FAIL ' "$out" ||
		! grep -q '^check-stress: PASS ' "$out"; then
		failed="$failed $s"
	fi
	rm -f "$out"
done
secs=$(($(date +%s) - start))
if [ -z "$failed" ]; then
	echo "check-stress: all $n scenarios passed ($secs s)"
	exit 0
fi
echo "check-stress: FAILED:$failed ($secs s; the FAIL lines above name each scenario's log)"
exit 1
