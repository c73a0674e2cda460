#!/bin/sh
# check-stress scenario policy-mutation: mutated policy trees (tests/stress/policy-mutate.c:
# byte flips and the language's own words, huge lines, files over and at the 1 MiB limit,
# FIFOs, directories, sockets and devices named *.policy, symlink loops, symlinks to /dev/zero,
# /proc and /, 4097 files, 100,000 rules, binary junk, a key of 20,000 values, odd names) given
# to the ASan+UBSan build of svmd: each through `svmd --check-policy`, which must answer 0 or 1
# in time without a sanitizer report, then live to a running svmd (its policy directory is a
# symlink switched to the tree), reloaded over the socket, or with bursts of SIGHUP, while a
# client holds bindings that every reload decides again. A reload must succeed exactly when
# --check-policy found no error; svmd must keep serving, release every binding, and exit 0
# with no sanitizer report (LeakSanitizer included).
#
# Alone: sh tests/stress/policy-mutation.sh (needs build-asan/svmd: make check-stress builds it,
# or ASAN_BUILD=DIR). Sizes: TREES (120) trees, times SVMD_STRESS_SCALE; CHECK_TIMEOUT (30) s
# for one --check-policy. About 1 minute at scale 1.
. "$(dirname "$0")/lib.sh"

stress_begin policy-mutation policy-mutate fd-flood
trees=$(scaled "${TREES:-120}")
check_timeout=${CHECK_TIMEOUT:-30}
asan_svmd=$ASAN_BUILD/svmd
device=0000:3b:00.0
export ASAN_OPTIONS=detect_leaks=1:print_summary=1
export UBSAN_OPTIONS=print_stacktrace=1

if [ ! -x "$asan_svmd" ] || ! grep -q __asan_init "$asan_svmd" 2>/dev/null; then
	fail "no ASan build of svmd at $asan_svmd (make check-stress builds it)"
	verdict
	stress_end
fi

# svmd reads its policy through a symlink that each step points at another tree.
rmdir "$dir/policy"
mkdir "$dir/base" "$dir/trees"
cat >"$dir/base/10-stress.policy" <<EOF
allow bind-pgtable user=$USER1 device=$device pasid=1-1048575 addr-width=48
EOF
ln -s base "$dir/policy"
point() {
	ln -sfn "$1" "$dir/policy.new" && mv -T "$dir/policy.new" "$dir/policy"
}

progress "making $trees mutated trees"
"$TOOLS/stress-policy-mutate" --out="$dir/trees" --trees="$trees" --user="$USER1" --seed=1 \
	"$SRC"/policy/*.policy "$SRC"/policy/examples/*.policy "$SRC"/tests/fuzz/policy-seeds/* \
	>"$dir/trees.list" 2>&1 || fail "the trees were not made: $(tail -n 1 "$dir/trees.list")"

start_bus && start_svmd --svmd="$asan_svmd" || stress_end
baseline
# Bindings that every reload decides again.
: >"$dir/holder.out"
"$TOOLS/stress-fd-flood" --mode=socket --user="$USER1" --socket="$sock" --bus="$bus" \
	--device="$device" --connections=4 --binds=40 --leases=8 --until="$dir/stop" \
	>"$dir/holder.out" 2>&1 &
holder=$!
bg $holder
for _ in $(seq 200); do
	grep -q '^ready=1' "$dir/holder.out" && break
	sleep 0.05
done
expect "bindings held across the reloads" "$(val held_bindings "$dir/holder.out")" -ge 1

valid=0 invalid=0 hangs=0 crashes=0 reports=0 mismatches=0 reloads=0 hups=0 odd=0 slowest=0
slowest_tree=""
slowest_reload=0 slowest_reload_tree=""
mismatch_list=""
n=0
while read -r tree what; do
	n=$((n + 1))
	[ $((n % 20)) = 0 ] && progress "tree $n of $trees"
	t0=$(date +%s%N)
	timeout -k 5 "$check_timeout" "$asan_svmd" --config=/dev/null --check-policy \
		--policy-dir="$dir/trees/$tree" >"$dir/check.out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$ms" -gt "$slowest" ]; then
		slowest=$ms
		slowest_tree="$tree ($what)"
	fi
	if grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$dir/check.out"; then
		reports=$((reports + 1))
		cp "$dir/check.out" "$dir/report-$tree.out"
	fi
	case $rc in
	0) valid=$((valid + 1)) ;;
	1) invalid=$((invalid + 1)) ;;
	124 | 137)
		hangs=$((hangs + 1))
		fail "--check-policy took more than $check_timeout s on $tree ($what)"
		;;
	*)
		crashes=$((crashes + 1))
		cp "$dir/check.out" "$dir/crash-$tree.out"
		fail "--check-policy exited $rc on $tree ($what)"
		;;
	esac
	# Live, whatever --check-policy made of it (compared only when it gave a verdict).
	point "trees/$tree"
	if [ $((n % 8)) = 0 ]; then
		# A burst of SIGHUPs: svmd reloads (once or more) and goes on.
		for _ in 1 2 3 4 5; do kill -HUP "$svmd_pid" 2>/dev/null; done
		hups=$((hups + 5))
		sleep 0.2
		probe "$dir/after-hup.out"
		[ -n "$(val bindings "$dir/after-hup.out")" ] ||
			fail "svmd did not answer after SIGHUPs with $tree ($what)"
		continue
	fi
	t0=$(date +%s%N)
	probe "$dir/reload.out" --reload
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$ms" -gt "$slowest_reload" ]; then
		slowest_reload=$ms
		slowest_reload_tree="$tree ($what)"
	fi
	reloads=$((reloads + 1))
	got=$(val reload "$dir/reload.out")
	case $rc:$got in
	[01]:ok) [ "$rc" = 0 ] || { mismatches=$((mismatches + 1)); mismatch_list="$mismatch_list $tree($what: check 1, reload ok)"; } ;;
	[01]:EINVAL) [ "$rc" = 1 ] || { mismatches=$((mismatches + 1)); mismatch_list="$mismatch_list $tree($what: check 0, reload EINVAL: $(val reload_reason "$dir/reload.out" | cut -c1-160))"; } ;;
	*:ok | *:EINVAL) ;;
	*)
		odd=$((odd + 1))
		fail "reload of $tree ($what) gave '$got' $(val reload_reason "$dir/reload.out" | cut -c1-200)"
		;;
	esac
	svmd_alive || { fail "svmd died reloading $tree ($what)"; break; }
done <"$dir/trees.list"

expect "trees tried" "$n" -eq "$trees"
expect "trees --check-policy accepted" "$valid" -gt 0
expect "trees --check-policy refused" "$invalid" -gt 0
expect "--check-policy runs that hung" "$hangs" -eq 0
expect "--check-policy runs that crashed" "$crashes" -eq 0
expect "sanitizer reports from --check-policy" "$reports" -eq 0
expect "reloads whose verdict differs from --check-policy's [${mismatch_list# }]" "$mismatches" -eq 0
svmd_alive || fail "svmd is gone"
point base
probe "$dir/reload.out" --reload
expect "the base policy reloaded at the end (reload=$(val reload "$dir/reload.out"))" \
	"$([ "$(val reload "$dir/reload.out")" = ok ] && echo 1 || echo 0)" -eq 1
touch "$dir/stop"
wait "$holder"
settle "after the reloads" "$base_fds"
stop_svmd
audit_accounting
expect "reload records in the audit" "$(grep -c '^svmd-audit: EVENT=reload' "$log")" -ge "$reloads"
figure "$n trees ($valid accepted, $invalid refused by --check-policy; $(grep -c 'mutated files' "$dir/trees.list") mutated, $(grep -c 'seed files' "$dir/trees.list") clean, $(grep -vc ' files$' "$dir/trees.list") special)"
figure "slowest --check-policy $slowest ms: $slowest_tree"
figure "slowest reload $slowest_reload ms: $slowest_reload_tree"
figure "$reloads reloads over the socket, $hups SIGHUPs, 0 crashes and $reports sanitizer reports"
figure "$grants bindings granted, $(val releases "$dir/audit.out") released"
verdict
stress_end
