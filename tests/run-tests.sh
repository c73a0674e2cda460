#!/bin/sh
# Runs criterion test binaries one after another, prints each synthesis line, and fails when a
# suite fails, crashes, runs no test at all (criterion counts skipped tests as not tested), or
# hangs: each binary gets SVMD_TEST_TIMEOUT seconds (default 900; sanitizer builds are slow).
set -u

status=0
total=0
for t in "$@"; do
	name=$(basename "$t")
	out=$(mktemp)
	timeout -k 10 "${SVMD_TEST_TIMEOUT:-900}" "$t" --jobs="${SVMD_TEST_JOBS:-2}" >"$out" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && echo "$name: still running after ${SVMD_TEST_TIMEOUT:-900} s: stopped" >>"$out"
	line=$(grep 'Synthesis:' "$out" | tail -n 1)
	tested=$(printf '%s\n' "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	if [ "$rc" -ne 0 ] || [ -z "$tested" ] || [ "$tested" -eq 0 ]; then
		status=1
		cat "$out"
		if [ -z "$tested" ] || [ "${tested:-0}" -eq 0 ]; then
			echo "FAIL $name: no test ran (Tested: ${tested:-none})"
		else
			echo "FAIL $name (exit $rc)"
		fi
	else
		total=$((total + tested))
		printf '%-28s %s\n' "$name" "${line#*Synthesis: }"
	fi
	rm -f "$out"
done
if [ "$status" -eq 0 ]; then
	echo "All suites passed: $total tests."
fi
exit "$status"
