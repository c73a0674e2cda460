#!/bin/sh
# Runs criterion test binaries one after another, prints each synthesis line, and fails when a
# suite fails, crashes, runs no test at all (criterion counts skipped tests as not tested), or
# hangs: each binary gets SVMD_TEST_TIMEOUT seconds (default 900; sanitizer builds are slow).
#
# On sanitizer builds, LeakSanitizer's reports decide too. A leak whose every frame is in
# libcriterion is a timeout request that criterion's sandbox library (BoxFort) leaves behind in
# the runner process now and then, not ours: it alone does not fail a suite. Any other leak does,
# including one in a test process, which criterion itself would count as passing.
set -u

# Prints the leak reports in $1 that are not criterion's own: the count.
our_leaks() {
	awk '
		/^(Direct|Indirect) leak of / { if (inblock && !crit) n++; inblock = 1; crit = 1; next }
		inblock && /^ *#[0-9]+ / {
			if ($1 == "#0") next
			if ($0 !~ /libcriterion\.so/) crit = 0
			next
		}
		inblock && !/^ *#/ { if (!crit) n++; inblock = 0 }
		END { if (inblock && !crit) n++; print n + 0 }
	' "$1"
}

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
	if grep -q 'LeakSanitizer: detected memory leaks' "$out"; then
		ours=$(our_leaks "$out")
		if [ "$ours" -gt 0 ]; then
			echo "$name: $ours memory leak(s) reported by LeakSanitizer (above)" >>"$out"
			rc=1
		elif [ "$rc" -ne 0 ] && printf '%s\n' "$line" | grep -q 'Failing: 0 | Crashing: 0'; then
			rc=0 # only criterion's own leak made the runner fail
		fi
	fi
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
