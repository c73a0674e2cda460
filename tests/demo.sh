#!/bin/sh
# `make demo`: svmd on the simulated kernel with the example policy, driven by real svmctl calls
# as two unprivileged users. Each step checks its outcome; the demo fails if one differs.
set -eu

BUILD=${BUILD:-build}
ALICE=svmd-alice
BOB=svmd-bob

if [ "$(id -u)" != 0 ]; then
	echo "make demo runs clients as two demo users, so it needs root (sudo make demo)." >&2
	exit 1
fi

bold=$(printf '\033[1m') plain=$(printf '\033[0m')
[ -t 1 ] || { bold=; plain=; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

# Runs svmctl as a user, shows the command, checks the exit status.
#   as USER EXPECTED-STATUS ARGS...
as() {
	user=$1 want=$2
	shift 2
	show "runuser -u $user -- svmctl $*"
	set +e
	runuser -u "$user" -- "$dir/svmctl" --socket="$sock" "$@"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "svmctl $* as $user exited $got, expected $want"
	[ "$want" = 0 ] || echo "(exit status $got)"
}

for u in $ALICE $BOB; do
	getent passwd "$u" >/dev/null ||
		useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$u"
done

dir=$(mktemp -d /tmp/svmd-demo.XXXXXX)
chmod 0755 "$dir"
mkdir "$dir/policy"
cp policy/00-default.policy policy/examples/demo.policy "$dir/policy/"
mv "$dir/policy/demo.policy" "$dir/policy/50-demo.policy"
# The clients run as other users: give them their own copy of svmctl they can execute.
install -m 0755 "$BUILD/svmctl" "$dir/svmctl"
sock=$dir/svmd.sock
holders=""

cleanup() {
	for p in $holders; do kill "$p" 2>/dev/null || true; done
	[ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -f "$dir/bus.pid" ] && kill "$(cat "$dir/bus.pid")" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

step "svmd on the simulated kernel, example policy from policy/, on a private system bus"
bus=$(sh tests/private-bus.sh "$dir")
show "dbus-daemon --config-file=$dir/bus.conf   # a private system bus: $bus"
show "svmd --backend=sim --socket=$sock --bus=$bus --policy-dir=$dir/policy --audit=stderr"
"$BUILD/svmd" --backend=sim --config=/dev/null --socket="$sock" --bus="$bus" \
	--policy-dir="$dir/policy" \
	--audit=stderr 2>"$dir/svmd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$dir/svmd.log"; fail "svmd did not start"; }
sed -n 's/^svmd: //p' "$dir/svmd.log"
echo "The policy in force (comments stripped):"
grep -hv '^\s*#' "$dir/policy/50-demo.policy" | grep . | sed 's/^/    /'

step "What svmd manages"
as $ALICE 0 devices

step "alice binds her process address space on 0000:3b:00.0 while a command runs"
as $ALICE 0 bind-task 0000:3b:00.0 -- sh -c 'echo "    the command runs with PASID $SVMD_PASID (binding $SVMD_BINDING on $SVMD_DEVICE)"'

step "bob asks for the same and is told which rule denies him"
as $BOB 77 bind-task 0000:3b:00.0 -- true

step "alice binds a guest page table inside her PASID range (100-199), then outside it"
as $ALICE 0 bind-pgtable 0000:3b:00.0 --pasid=150 --pgd=0x7f000 --addr-width=48 -- \
	sh -c 'echo "    page table bound at PASID $SVMD_PASID"'
as $ALICE 77 bind-pgtable 0000:3b:00.0 --pasid=250 --pgd=0x7f000 --addr-width=48 -- true

step "alice maps her memory for 0000:3b:00.0 (a memfd), inside her IOVA range and her 1 MiB"
as $ALICE 0 map 0000:3b:00.0 --iova=0x100000 --size=256K -- \
	sh -c 'echo "    256 KiB mapped at IOVA 0x100000 as binding $SVMD_BINDING (memfd $SVMD_MEMFD)"'
as $ALICE 1 map 0000:3b:00.0 --iova=0x100000 --size=2M -- true
as $ALICE 77 map 0000:3b:00.0 --iova=0x40000000 --size=4K -- true
as $BOB 77 map 0000:3b:00.0 --iova=0x100000 --size=4K -- true

step "Policy allows the shared-group device, but the kernel refuses: group 20 has two functions"
as $ALICE 1 bind-task 0000:5e:00.0 -- true

step "alice holds two bindings (max=2); a third is refused for quota"
for i in 1 2; do
	runuser -u $ALICE -- "$dir/svmctl" --socket="$sock" bind-task 0000:3b:00.0 --hold \
		>"$dir/hold$i.out" 2>&1 &
	holders="$holders $!"
	for _ in $(seq 100); do grep -q Bound "$dir/hold$i.out" 2>/dev/null && break; sleep 0.05; done
	sed 's/^/    /' "$dir/hold$i.out"
done
as $ALICE 1 bind-task 0000:3b:00.0 -- true

step "svmctl list: alice sees her bindings, bob sees none, root sees all"
as $ALICE 0 list
as $BOB 0 list
show "svmctl list   # as root"
"$dir/svmctl" --socket="$sock" list

step "Why is bob denied? svmctl explain walks the rules"
as $BOB 77 explain bind-task 0000:3b:00.0

step "The same broker on D-Bus: org.svmd.Broker1, for busctl and svmctl --bus"
show "busctl introspect org.svmd.Broker1 /org/svmd/Broker1 org.svmd.Broker1"
busctl --address="$bus" introspect org.svmd.Broker1 /org/svmd/Broker1 org.svmd.Broker1 |
	sed 's/^/    /'
show "runuser -u $ALICE -- svmctl --bus bind-pgtable 0000:3b:00.0 --pasid=160 ... -- busctl tree"
runuser -u $ALICE -- "$dir/svmctl" --bus="$bus" bind-pgtable 0000:3b:00.0 --pasid=160 \
	--pgd=0x7f000 --addr-width=48 -- busctl --address="$bus" tree org.svmd.Broker1 |
	sed 's/^/    /'
show "runuser -u $BOB -- busctl call ... BindPgtable sutua{sv} 0000:3b:00.0 160 520192 48 0"
set +e
runuser -u $BOB -- busctl --address="$bus" call org.svmd.Broker1 /org/svmd/Broker1 \
	org.svmd.Broker1 BindPgtable 'sutua{sv}' 0000:3b:00.0 160 520192 48 0 2>&1 |
	sed "s|$dir/policy/||g; s/^/    /"
set -e
busctl --address="$bus" call org.svmd.Broker1 /org/svmd/Broker1 org.svmd.Broker1 \
	BindPgtable 'sutua{sv}' 0000:3b:00.0 160 520192 48 0 >/dev/null 2>&1 &&
	fail "root got a binding no rule grants"

step "The admin edits the policy; a broken edit is refused and the policy in force stays"
printf 'allow bind-task user=svmd-bob device=0000:3b:00.0 pasid=0\n' >"$dir/policy/40-change.policy"
show "svmctl reload   # as root, with a typo in 40-change.policy"
set +e
"$dir/svmctl" --socket="$sock" reload 2>&1 | sed "s|$dir/policy/||g"
got=$?
set -e
as $BOB 77 bind-task 0000:3b:00.0 -- true

step "The fixed edit: bob may bind now, and alice's bindings are revoked on the spot"
cat >"$dir/policy/40-change.policy" <<'POLICY'
allow bind-task user=svmd-bob device=0000:3b:00.0 pasid=auto
deny bind-task user=svmd-alice revoke
POLICY
sed 's/^/    /' "$dir/policy/40-change.policy"
show "svmctl reload   # as root"
"$dir/svmctl" --socket="$sock" reload | sed "s|$dir/policy/||g"
as $BOB 0 bind-task 0000:3b:00.0 -- sh -c 'echo "    bob now runs with PASID $SVMD_PASID"'
show "svmctl list   # as root: alice's bindings are gone"
out=$("$dir/svmctl" --socket="$sock" list)
echo "$out"
[ "$out" = "No bindings." ] || fail "revoked bindings left behind"
as $BOB 0 explain bind-task 0000:3b:00.0 | sed "s|$dir/policy/||g"
show "alice's two 'svmctl --hold' were told, and exited 1 with the reason:"
i=0
for p in $holders; do
	i=$((i + 1))
	rc=0
	wait "$p" || rc=$?
	sed -n 's/^svmctl: /    svmctl: /p' "$dir/hold$i.out"
	[ "$rc" = 1 ] && grep -q 'is gone: revoked by policy generation 2' "$dir/hold$i.out" ||
		fail "holder $i: exit status $rc, said: $(cat "$dir/hold$i.out")"
done
holders=""

step "The audit trail: one record per grant, denial, failure and release"
grep '^svmd-audit:' "$dir/svmd.log" | sed -e 's/^svmd-audit: /    /' -e "s|$dir/policy/||g" \
	-e 's/ RESULT=ok ERRNO=0//'
n=$(grep -c '^svmd-audit: EVENT=grant' "$dir/svmd.log")
r=$(grep -c '^svmd-audit: EVENT=release' "$dir/svmd.log")
[ "$n" = "$r" ] || fail "$n grants but $r releases"

kill "$daemon"
wait "$daemon" || fail "svmd did not exit cleanly"
daemon=
printf '\n%sDemo complete: every step gave the expected outcome.%s\n' "$bold" "$plain"
