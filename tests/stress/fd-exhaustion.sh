#!/bin/sh
# check-stress scenario fd-exhaustion: svmd started with LimitNOFILE=256 (prlimit), and users
# taking as many of its fds as they can: over the socket (connections, leases) and over D-Bus
# (bus callers, whom svmd pins with a pidfd each, and leases), one flooding uid and then two.
# Meanwhile root and a bystander uid must be served, on both front-ends (task bind, lease,
# unbind, list), the flooders must be refused only with EDQUOT (or, for a connection, by svmd
# closing it at accept), never with EMFILE nor "cannot confirm the calling process"; afterwards
# everything recovers: 0 bindings, fds at their baseline, served again.
#
# Alone: sh tests/stress/fd-exhaustion.sh [CASE...] (cases: socket-one-uid socket-two-uids
# bus-one-uid bus-two-uids). Sizes: LIMIT (256) fds; the flood sizes follow from it (a uid
# alone gets half of the pool, the next half of what is left). SVMD_STRESS_SCALE multiplies the rounds of service asked for. About 40 s.
. "$(dirname "$0")/lib.sh"

stress_begin fd-exhaustion fd-flood
limit=${LIMIT:-256}
share=$((limit / 2))
serve_rounds=$(scaled 5)
cases=${*:-socket-one-uid socket-two-uids bus-one-uid bus-two-uids}
device=0000:3b:00.0
start_bus || stress_end

# flood TAG USER MODE ARGS...: a flooder in the background, until $dir/stop exists; waits until
# its flood is in place.
flood() {
	_tag=$1 _user=$2 _mode=$3
	_out=$dir/$c.$_tag.out
	shift 3
	: >"$_out" # now: the background job's own redirection comes later
	"$TOOLS/stress-fd-flood" --mode="$_mode" --user="$_user" --socket="$sock" --bus="$bus" \
		--device="$device" --until="$dir/stop" "$@" >"$_out" 2>&1 &
	eval "flood_pid_$_tag=$!"
	bg $!
	flooders="$flooders $_tag"
	for _ in $(seq 1200); do
		grep -q '^ready=1' "$_out" && break
		kill -0 "$!" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q '^ready=1' "$_out"; then
		# The flood is real, and a uid gets its share whatever the others do: no uid
		# holds more than it leaves free, so the first flooder holds a quarter of svmd's
		# fds' worth at least, the second an eighth (half of what the first left).
		_n_flooders=$((${_n_flooders:-0} + 1))
		_min=$((limit / (1 << (_n_flooders + 1))))
		_held=$(($(val held_connections "$_out") + $(val held_leases "$_out")))
		expect "$_tag's connections and leases held (flooder $_n_flooders: $_min at least)" \
			"$_held" -ge "$_min"
		progress "  $_user ($_mode) holds $(val held_connections "$_out") connections and $(val held_bindings "$_out") bindings; svmd has $(svmd_fds) fds"
	else
		fail "flooder $_tag ($_user) did not get its flood in place: $(tail -n 1 "$_out")"
	fi
	peak
}

peak() {
	_n=$(svmd_fds)
	[ "${_n:-0}" -gt "$peak_fds" ] && peak_fds=$_n
}

# served WHO: rounds of service for WHO (root or the bystander); every request must succeed.
served() {
	_out=$dir/$c.serve-$1.$(echo "$2" | tr ' ' -).out
	"$TOOLS/stress-fd-flood" --mode=serve --user="$1" --socket="$sock" --bus="$bus" \
		--device="$device" --rounds="$3" >"$_out" 2>&1
	peak
	_failed=$(val failed "$_out")
	if expect "requests of $1 that failed ($2)" "$_failed" -eq 0; then
		return 0
	fi
	failures="$failures [$(grep -E '^(connect|list|bind|lease|unbind|bus_replies)=' "$_out" |
		grep -v '=ok:[0-9]*$' | tr '\n' ' ')]"
}

# refusals TAG KEY ALLOWED: the flooder's KEY outcomes are successes or ALLOWED only.
refusals() {
	_v=$(val "$2" "$dir/$c.$1.out")
	[ -z "$_v" ] && return 0
	expect "$1's $2 outcomes other than ok $3 [$_v]" "$(tally_except "$_v" "ok $3")" -eq 0
	case $_v in *EMFILE*) emfile=$((emfile + $(tally EMFILE "$_v"))) ;; esac
}

# policy NAMES...: task binds for root and the bystander; page-table binds for NAMES.
policy() {
	{
		echo "allow bind-task user=root device=$device pasid=auto"
		echo "allow bind-task user=$USER3 device=$device pasid=auto"
		for _u in "$@"; do
			echo "allow bind-pgtable user=$_u device=$device pasid=1-1048575 addr-width=48"
		done
	} >"$dir/policy/50-stress.policy"
}

for c in $cases; do
	case_begin
	flooders=""
	_n_flooders=0
	peak_fds=0
	emfile=0
	rm -f "$dir/stop"
	log=$dir/svmd.$c.log
	progress "$c: svmd with $limit fds"
	case $c in
	socket-one-uid) policy "$USER1" ;;
	socket-two-uids) policy "$USER1" "$USER2" ;;
	bus-one-uid) policy ;; # no rule names the flooder
	bus-two-uids) policy "$USER1" ;;
	*)
		fail "no case $c"
		verdict "fd-exhaustion/$c"
		continue
		;;
	esac
	if ! start_svmd --nofile="$limit"; then
		verdict "fd-exhaustion/$c"
		continue
	fi
	baseline
	served root "before the flood" 1
	served "$USER3" "before the flood" 1

	case $c in
	socket-one-uid)
		# Connections and leases up to its share, then more of both. (Page-table binds
		# at PASIDs far above those the kernel picks for the task binds served.)
		flood a "$USER1" socket --connections=$((share / 2)) --binds="$limit" \
			--leases="$limit" --pasid-base=200000
		;;
	socket-two-uids)
		# One uid fills its share with connections, the other with connections and leases.
		flood a "$USER1" socket --connections="$limit"
		flood b "$USER2" socket --connections=$((share / 2)) --binds="$limit" \
			--leases="$limit" --pasid-base=100000
		;;
	bus-one-uid)
		# Bus callers of a user whom no rule names: each ListBindings pins one in svmd.
		flood a "$USER2" bus --connections=$((limit - 6))
		;;
	bus-two-uids)
		flood a "$USER2" bus --connections=$((limit * 3 / 4))
		flood b "$USER1" bus --connections=$((share / 2)) --binds="$share" --leases="$share" \
			--pasid-base=200000
		;;
	esac
	served root "during the flood" "$serve_rounds"
	served "$USER3" "during the flood" "$serve_rounds"
	touch "$dir/stop"
	for f in $flooders; do
		eval "wait \$flood_pid_$f"
		# A connection svmd refuses is closed at accept; bus connections are the bus
		# daemon's business.
		case $c in
		socket-*)
			refusals "$f" connect ECONNRESET
			refusals "$f" press_connect ECONNRESET
			;;
		esac
		for k in list bind lease press_list press_bind press_lease; do
			refusals "$f" "$k" EDQUOT
		done
		figure "$f: $(grep -E '^(connect|list|lease|press_connect|press_list|press_lease)=' "$dir/$c.$f.out" | tr '\n' ' ' | sed 's/ $//')"
	done
	expect "EMFILE seen by the flooders" "$emfile" -eq 0
	expect "svmd's peak fds (limit $limit)" "$peak_fds" -le "$limit"
	settle "after the flood" "$base_fds"
	served "$USER3" "after the flood" 1
	stop_svmd
	audit_accounting
	figure "svmd's fds: $base_fds at rest, $peak_fds at the peak, $(val fds "$dir/settle.out") after"
	figure "root and $USER3 served $serve_rounds rounds each during the flood"
	verdict "fd-exhaustion/$c"
done
stress_end
