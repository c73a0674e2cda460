#!/bin/sh
# check-stress scenario bus-fuzz: our own D-Bus fuzzer (tests/stress/bus-fuzz.c) against
# org.svmd.Broker1 and org.svmd.Binding1, as four callers at once: an allowed user, a denied
# user, root, and an allowed user whose connection does not pass fds. Every call must be
# answered (within 2 s), the denied user must get no binding, and after every round nothing is
# left: 0 bindings and binding objects, svmd's fds at their baseline; across rounds svmd's RSS
# stays flat; at the end every grant is released and svmd exits cleanly.
#
# Alone: sh tests/stress/bus-fuzz.sh. Sizes: ROUNDS (3) rounds of CALLS (8000) calls per
# caller, times SVMD_STRESS_SCALE; about 20 s at scale 1 once every call is answered.
. "$(dirname "$0")/lib.sh"

stress_begin bus-fuzz bus-fuzz
calls=$(scaled "${CALLS:-8000}")
device=0000:3b:00.0

cat >"$dir/policy/50-stress.policy" <<EOF
allow bind-task user=root,$USER1,$USER3 device=* pasid=auto targets=same-user
allow bind-pgtable user=root,$USER1,$USER3 device=$device pasid=1-1048575
allow bind-pasid-table user=root,$USER1,$USER3 device=*
allow open-device user=root,$USER1,$USER3 device=*
allow reload user=$USER1
deny * user=$USER2
EOF
start_bus && start_svmd || stress_end
baseline
rounds=${ROUNDS:-3}
total=0 invalid=0
for round in $(seq "$rounds"); do
	progress "round $round of $rounds: $calls calls each from $USER1 (allowed), $USER2 (denied), root, and $USER3 (allowed, no fd passing), at once"
	pids=""
	n=0
	for who in "$USER1" "$USER2" root "$USER3:--no-fds"; do
		n=$((n + 1))
		user=${who%%:*}
		extra=""
		[ "$who" != "$user" ] && extra=${who#*:}
		# shellcheck disable=SC2086
		"$TOOLS/stress-bus-fuzz" --bus="$bus" --user="$user" --calls="$calls" \
			--seed=$((round * 10 + n)) --device="$device" --pasid-base=$((n * 100000)) \
			$extra >"$dir/fuzz$round.$n.out" 2>&1 &
		pids="$pids $!"
		bg $!
	done
	n=0
	for p in $pids; do
		n=$((n + 1))
		wait "$p" || fail "round $round: fuzzer $n did not run: $(tail -n 1 "$dir/fuzz$round.$n.out")"
	done
	svmd_alive || { fail "svmd died under the fuzzer in round $round"; break; }
	settle "round $round" "$base_fds"
	eval "rss_$round=$(svmd_rss)"
	progress "  svmd: $(val fds "$dir/settle.out") fds (baseline $base_fds), RSS $(svmd_rss) KiB"
	for n in 1 2 3 4; do
		f=$dir/fuzz$round.$n.out
		who=$(val identity "$f")
		replies=$(val replies "$f")
		total=$((total + $(val0 calls "$f")))
		invalid=$((invalid + $(tally org.freedesktop.DBus.Error.InvalidArgs "$replies")))
		expect "round $round: calls made by $who" "$(val calls "$f")" -ge "$calls"
		expect "round $round: calls of $who that got no reply [$(val no_reply_methods "$f")]" \
			"$(val no_reply "$f")" -eq 0
		expect "round $round: calls of $who answered" "$(tally ok "$replies")" -gt 0
		case $n in
		2)
			expect "round $round: bindings granted to $who, whom policy denies" \
				"$(val binds "$f")" -eq 0
			expect "round $round: AccessDenied replies to $who" \
				"$(tally org.svmd.Broker1.Error.AccessDenied "$replies")" -gt 0
			;;
		*) expect "round $round: bindings made by $who" "$(val binds "$f")" -gt 0 ;;
		esac
		[ "$round" = 1 ] && figure "$who: $(val calls "$f") calls in $(val seconds "$f") s, $(val binds "$f") binds, $(val leases "$f") leases, $(val no_reply "$f") unanswered, $(val reconnects "$f") reconnects (round 1)"
	done
done
# The wrong signatures did reach the other side.
expect "InvalidArgs replies" "$invalid" -gt 0
eval "rss_last=\$rss_$rounds"
# Flat: what the first round grew (sd-bus's buffers, svmd's tables) stays, but the later
# rounds add at most 256 KiB and 2% to it.
expect "RSS growth from round 1 to $rounds (KiB)" $((rss_last - rss_1)) -le $((256 + rss_1 / 50))
stop_svmd
audit_accounting
figure "$total calls, $invalid InvalidArgs"
figure "$grants bindings granted, $(val releases "$dir/audit.out") released"
figure "fds $base_fds at baseline after every round"
figure "RSS $base_rss KiB at start, $rss_1 after round 1, $rss_last after round $rounds"
verdict
stress_end
