#!/bin/sh
# check-stress scenario bad-clients: one user's slow, half-sent, non-reading, malformed and
# fd-flooding clients on svmd's socket (tests/stress/bad-clients.c) while another user's canary
# binds and unbinds, connects and calls over D-Bus. The canary must never fail and its p99 must
# stay near what it was alone; svmd must keep its log to a trickle (a flood of drops is
# summarised, not logged line by line); afterwards 0 bindings, fds at their baseline, every
# grant released.
#
# Alone: sh tests/stress/bad-clients.sh. Sizes: SECONDS_FLOOD (20) seconds of flood after 3 s of
# the canary alone, times SVMD_STRESS_SCALE. Bounds: P99_FACTOR (20) times the canary's p99
# alone, or P99_FLOOR_US (25000) if more; LOG_RATE (10) log lines a second.
. "$(dirname "$0")/lib.sh"

stress_begin bad-clients bad-clients
seconds=$(scaled "${SECONDS_FLOOD:-20}")
p99_factor=${P99_FACTOR:-20}
p99_floor=${P99_FLOOR_US:-25000}
log_rate=${LOG_RATE:-10}
device=0000:3b:00.0

cat >"$dir/policy/50-stress.policy" <<EOF
allow bind-pgtable user=$USER1 device=$device pasid=1-1000 addr-width=48
EOF
start_bus && start_svmd || stress_end
baseline
out=$dir/bad-clients.out
# svmd's own lines (not audit records) written during the run.
log_lines() { grep -cv '^svmd-audit:' "$log"; }
lines_before=$(log_lines)
progress "the canary alone for 3 s, then with $USER2's bad clients for $seconds s"
"$TOOLS/stress-bad-clients" --socket="$sock" --bus="$bus" --user="$USER2" \
	--canary-user="$USER1" --device="$device" --seconds="$seconds" --baseline-seconds=3 \
	>"$out" 2>&1 || fail "the bad clients did not run ($(tail -n 1 "$out"))"
lines=$(($(log_lines) - lines_before))
svmd_alive || fail "svmd died during the flood"

for k in request connect bus; do
	expect "canary $k exchanges that failed alone" "$(val "baseline_${k}_failed" "$out")" -eq 0
	expect "canary $k exchanges that failed during the flood [$(val flood_errors "$out")]" \
		"$(val "flood_${k}_failed" "$out")" -eq 0
	base_p99=$(val "baseline_${k}_p99_us" "$out")
	bound=$((${base_p99:-0} * p99_factor))
	[ "$bound" -lt "$p99_floor" ] && bound=$p99_floor
	expect "canary $k p99 during the flood (us; alone $base_p99)" \
		"$(val "flood_${k}_p99_us" "$out")" -le "$bound"
	figure "canary $k p50/p99/max $(val "baseline_${k}_p50_us" "$out")/$base_p99/$(val "baseline_${k}_max_us" "$out") us alone, $(val "flood_${k}_p50_us" "$out")/$(val "flood_${k}_p99_us" "$out")/$(val "flood_${k}_max_us" "$out") us in the flood ($(val "flood_${k}_n" "$out") exchanges)"
done
# The canary really ran: a request every few ms for the whole flood.
expect "canary requests during the flood" "$(val flood_request_n "$out")" -ge $((seconds * 20))
for k in slow half_sent non_reading malformed fd_flooding; do
	expect "$k records sent" "$(val "${k}_records" "$out")" -gt 0
done
expect "malformed connections" "$(val malformed_connections "$out")" -ge $((seconds * 50))
expect "fds sent by the fd flooder" "$(val fd_flooding_fds "$out")" -gt 0
rate=$((lines / seconds))
expect "svmd log lines a second during the flood ($lines in $seconds s)" "$rate" -le "$log_rate"
settle "after the flood" "$base_fds"
stop_svmd
audit_accounting
figure "bad clients: $(for k in slow half_sent non_reading malformed fd_flooding; do
	printf '%s %s conns/%s records; ' "$k" "$(val "${k}_connections" "$out")" "$(val "${k}_records" "$out")"
done | sed 's/; $//'), $(val fd_flooding_fds "$out") fds sent"
figure "svmd log: $lines lines ($rate a second)"
figure "fds $base_fds at baseline after"
figure "$grants bindings granted, $(val releases "$dir/audit.out") released"
verdict
stress_end
