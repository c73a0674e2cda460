#!/bin/sh
# The checks of `make check-system`, run inside the booted Debian root by
# svmd-system-check.service (tests/system/run.sh installs both). First installs svmd's packages
# with apt-get, as a user would (svmd.socket started, svmd.service not), then gives svmd the
# test's settings: /etc/svmd/svmd.conf saying Backend=sim, a policy granting alice a bind and
# denying bob. Ends by removing, purging and reinstalling the package. Prints "PASS name: detail" or
# "FAIL name: detail" per check and "SYSTEM-DONE pass=N fail=M" on the console; the unit powers
# the container off when this script ends.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_COLORS=0 SYSTEMD_PAGER='' SYSTEMD_URLIFY=0 LC_ALL=C.UTF-8

DEV=0000:3b:00.0
POLICY=/etc/svmd/policy.d/50-system-test.policy
ID_GRANT=4cd1d4d4891e41ad98ef60f8b1c643d8
ID_DENY=a8f0a104128347bb8d002e1127dea1eb
ID_RELEASE=a8730116b6e849dfa6234d3a985b9870
ID_RELOAD=a3e6f793c95a40f1b356e679643ce548
NAME=org.svmd.Broker1
OBJPATH=/org/svmd/Broker1
T=10 # seconds any one command may take
tmp=$(mktemp -d)

n_pass=0
n_fail=0
# pass|fail NAME DETAIL...: one line each, the detail's words joined by spaces.
pass() {
	name=$1
	shift
	echo "PASS $name: $*"
	n_pass=$((n_pass + 1))
}
fail() {
	name=$1
	shift
	echo "FAIL $name: $*"
	n_fail=$((n_fail + 1))
}
oneline() { tr '\n' ' ' | sed 's/  */ /g; s/ $//' | cut -c1-300; }

# Runs a command as alice or bob (the users run.sh created), output in $tmp/out and $tmp/err.
as() {
	user=$1
	shift
	timeout $T runuser -u "$user" -- "$@" >"$tmp/out" 2>"$tmp/err"
}
state() { systemctl show -p ActiveState --value "$1"; }
prop() { systemctl show -p "$1" --value svmd.service; }
main_pid() { prop MainPID; }
# Waits (5 s at most) until journalctl finds an entry of this boot matching every FIELD=VALUE.
journal_has() {
	i=0
	while [ $i -lt 50 ]; do
		[ -n "$(journalctl -b -q -o cat "$@" 2>/dev/null | head -n 1)" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
journal_one() { journalctl -b -q -o cat "$@" 2>/dev/null | tail -n 1; }

alice=$(id -u alice)
bob=$(id -u bob)
DEBS=/var/cache/svmd-debs
SHARE=/usr/local/share/svmd-system-check
failed_units() { systemctl list-units --failed --no-legend --plain 2>/dev/null | awk '{print $1}'; }

# 0. The packages, installed as a user would: apt-get resolves their dependencies (all in the
# root: the container has no network). This root has no VFIO: installing starts the socket
# only, and no unit fails.
failed_before=$(failed_units | oneline)
apt_install() {
	timeout 120 apt-get install -y -q --no-install-recommends "$@" >"$tmp/apt" 2>&1
}
apt_install $DEBS/svmd_*.deb $DEBS/libsvmclient0_*.deb $DEBS/libsvmclient-dev_*.deb
apt_status=$?
version=$(dpkg-query -W -f '${Version}' svmd 2>/dev/null)
lib=$(ldd /usr/bin/svmctl 2>/dev/null | awk '$1 == "libsvmclient.so.0" {print $3}')
if [ $apt_status = 0 ] && [ -n "$version" ] && [ ! -e /dev/vfio/vfio ] &&
	[ "$(failed_units | oneline)" = "$failed_before" ] && [ "$(state svmd.socket)" = active ] &&
	[ "$(state svmd.service)" = inactive ] && [ -n "$lib" ] && /usr/sbin/svmd --version \
	>/dev/null 2>&1 && svmctl --version >/dev/null 2>&1; then
	pass package-install "apt-get install svmd libsvmclient0 libsvmclient-dev $version:" \
		"svmd.socket active, svmd.service inactive, no failed unit on this root without" \
		"/dev/vfio; svmctl uses $lib"
else
	fail package-install "apt-get exit $apt_status ($(tail -n 3 "$tmp/apt" | oneline));" \
		"svmd '${version}', socket $(state svmd.socket), service $(state svmd.service)," \
		"failed units '$(failed_units | oneline)' (before: '$failed_before'), svmctl's" \
		"library '${lib}'"
fi
# The test's settings, before svmd first starts.
install -m 0644 $SHARE/svmd.conf /etc/svmd/svmd.conf
install -m 0644 $SHARE/50-system-test.policy /etc/svmd/policy.d/

# 1. The svmd user comes from the package's sysusers.d file, made at installation (run.sh made
# sure the root had no such user before).
if line=$(getent passwd svmd) && [ "$(echo "$line" | cut -d: -f3)" -lt 1000 ] &&
	[ -f /usr/lib/sysusers.d/svmd.conf ]; then
	pass sysusers "system user svmd (uid $(echo "$line" | cut -d: -f3)) made at installation" \
		"by systemd-sysusers from /usr/lib/sysusers.d/svmd.conf"
else
	fail sysusers "svmd: '${line:-no such user}'; $(ls -l /usr/lib/sysusers.d/svmd.conf 2>&1)"
fi

# 2. Socket activation: only the socket is up until the first client.
if [ "$(state svmd.socket)" = active ] && [ "$(state svmd.service)" = inactive ]; then
	pass socket-listening "svmd.socket listening on /run/svmd/svmd.sock, svmd.service inactive"
else
	fail socket-listening "svmd.socket $(state svmd.socket), svmd.service $(state svmd.service)"
fi
as alice svmctl devices
status=$?
if [ $status = 0 ] && grep -q "^$DEV " "$tmp/out" && [ "$(state svmd.service)" = active ]; then
	pass socket-activation "alice's 'svmctl devices' started svmd.service (PID $(main_pid))" \
		"and listed $(grep -c '^0000:' "$tmp/out") devices"
else
	fail socket-activation "svmctl exit $status ($(oneline <"$tmp/err")), svmd.service" \
		"$(state svmd.service)"
fi

# 3. Settings from /etc/svmd/svmd.conf: the unit passes no options.
exec_start=$(prop ExecStart | sed -n 's/.*argv\[\]=\([^;]*\);.*/\1/p' | sed 's/ *$//')
serving=$(journalctl -b -q -o cat -u svmd.service | grep 'serving on' | tail -n 1)
case $serving in
*"the socket from systemd"*"sim backend"*)
	pass config-file "ExecStart=$exec_start; svmd.conf made it: ${serving#svmd }"
	;;
*) fail config-file "ExecStart=$exec_start; svmd said: ${serving:-nothing}" ;;
esac

# 4. Type=notify: active means READY=1 came; STATUS= is kept current.
type=$(prop Type) sub=$(prop SubState) status_text=$(prop StatusText)
if [ "$type" = notify ] && [ "$(state svmd.service)" = active ] && [ "$sub" = running ] &&
	[ "${status_text#Serving}" != "$status_text" ]; then
	pass notify "Type=notify, active (running) after READY=1; StatusText=$status_text"
else
	fail notify "Type=$type, $(state svmd.service) ($sub), StatusText='$status_text'"
fi

# 5. The sandbox: the seccomp filter, its own user, no capabilities.
pid=$(main_pid)
st=/proc/$pid/status
seccomp=$(awk '$1 == "Seccomp:" {print $2}' "$st" 2>/dev/null)
filters=$(awk '$1 == "Seccomp_filters:" {print $2}' "$st" 2>/dev/null)
if [ "$seccomp" = 2 ]; then
	pass seccomp "Seccomp: 2 in $st ($filters filters: svmd's own and the unit's)"
else
	fail seccomp "Seccomp: ${seccomp:-none} in $st"
fi
svmd_uid=$(id -u svmd 2>/dev/null)
uids=$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' "$st" 2>/dev/null)
caps=$(awk '$1 ~ /^Cap(Inh|Prm|Eff|Bnd|Amb):$/ {printf "%s%s ", $1, $2}' "$st" 2>/dev/null)
nnp=$(awk '$1 == "NoNewPrivs:" {print $2}' "$st" 2>/dev/null)
if [ -n "$svmd_uid" ] && [ "$uids" = "$svmd_uid $svmd_uid $svmd_uid $svmd_uid" ] &&
	[ "$(echo "$caps" | grep -o ':0000000000000000' | wc -l)" = 5 ] && [ "$nnp" = 1 ]; then
	pass unprivileged "runs as svmd (uid $svmd_uid), CapEff/Prm/Bnd/Inh/Amb all 0," \
		"NoNewPrivs 1"
else
	fail unprivileged "Uid: $uids (svmd is ${svmd_uid:-missing}); $caps NoNewPrivs: $nnp"
fi

# 6. Policy: alice may bind, bob is denied by the rule that names him.
# shellcheck disable=SC2016 # expanded by that sh, from svmctl's environment
as alice svmctl bind-task $DEV -- sh -c 'echo "binding $SVMD_BINDING PASID $SVMD_PASID"'
status=$?
if [ $status = 0 ] && grep -q '^binding [0-9]* PASID [0-9]*' "$tmp/out"; then
	pass bind-allowed "alice: svmctl bind-task $DEV -- CMD: exit 0, $(oneline <"$tmp/out")"
else
	fail bind-allowed "alice: exit $status: $(oneline <"$tmp/err")"
fi
as bob svmctl bind-task $DEV -- true
status=$?
if [ $status = 77 ] && grep -q "50-system-test.policy:2" "$tmp/err"; then
	pass bind-denied "bob: exit 77, $(oneline <"$tmp/err")"
else
	fail bind-denied "bob: exit $status: $(cat "$tmp/out" "$tmp/err" | oneline)"
fi

# 7. The audit records in the journal, with their MESSAGE_IDs and SVMD_* fields.
if journal_has MESSAGE_ID=$ID_GRANT _SYSTEMD_UNIT=svmd.service SVMD_EVENT=grant \
	SVMD_UID="$alice" SVMD_DEVICE=$DEV SVMD_RULE=$POLICY:1 SVMD_RESULT=ok; then
	pass journal-grant "MESSAGE_ID=$ID_GRANT: $(journal_one MESSAGE_ID=$ID_GRANT)"
else
	fail journal-grant "no grant record for alice (uid $alice)"
fi
if journal_has MESSAGE_ID=$ID_DENY _SYSTEMD_UNIT=svmd.service SVMD_EVENT=deny \
	SVMD_UID="$bob" SVMD_RULE=$POLICY:2 SVMD_ERRNO=13; then
	pass journal-deny "MESSAGE_ID=$ID_DENY: $(journal_one MESSAGE_ID=$ID_DENY)"
else
	fail journal-deny "no deny record for bob (uid $bob) naming $POLICY:2"
fi
if journal_has MESSAGE_ID=$ID_RELEASE _SYSTEMD_UNIT=svmd.service SVMD_EVENT=release \
	SVMD_UID="$alice" "SVMD_REASON=session ended"; then
	pass journal-release "MESSAGE_ID=$ID_RELEASE: $(journal_one MESSAGE_ID=$ID_RELEASE)"
else
	fail journal-release "no release record for alice's binding"
fi
journalctl --update-catalog >/dev/null 2>&1
ids=$(journalctl --list-catalog 2>/dev/null | grep -c -e $ID_GRANT -e $ID_DENY -e $ID_RELEASE \
	-e $ID_RELOAD -e 16b6a755e559466fa4b4a6a88139053c)
subject=$(journalctl -b -q -x MESSAGE_ID=$ID_GRANT 2>/dev/null | grep 'Subject:' | tail -n 1 |
	sed 's/^[^S]*Subject: //')
if [ "$ids" = 5 ] && [ "$subject" = "svmd granted bind-task on $DEV to uid $alice" ]; then
	pass catalog "5 entries in the journal catalog; journalctl -x: Subject: $subject"
else
	fail catalog "$ids of 5 entries in the catalog; Subject: '$subject'"
fi

# 8. The D-Bus face, for an unprivileged caller.
as alice busctl introspect $NAME $OBJPATH
if grep -q '^\.BindTask[[:space:]]*method' "$tmp/out" &&
	grep -q '^\.ListDevices[[:space:]]*method' "$tmp/out"; then
	pass introspect "alice: busctl introspect $NAME $OBJPATH: $(grep -c '^\.' "$tmp/out") members," \
		"$(grep -c '^\.[A-Za-z]*[[:space:]]*method' "$tmp/out") methods"
else
	fail introspect "$(oneline <"$tmp/err")"
fi

# 9. D-Bus activation, with the socket stopped too.
timeout $T systemctl stop svmd.socket svmd.service 2>"$tmp/err"
before="svmd.socket $(state svmd.socket), svmd.service $(state svmd.service)"
as alice busctl call $NAME $OBJPATH $NAME ListDevices
status=$?
if [ "$before" = "svmd.socket inactive, svmd.service inactive" ] && [ $status = 0 ] &&
	grep -q "\"$DEV\"" "$tmp/out" && [ "$(state svmd.service)" = active ]; then
	pass dbus-activation "with $before, alice's busctl call ListDevices started svmd.service" \
		"(PID $(main_pid)): $(cut -c1-60 "$tmp/out")..."
else
	fail dbus-activation "before: $before; busctl exit $status: $(oneline <"$tmp/err");" \
		"svmd.service $(state svmd.service)"
fi

# 10. systemctl reload: refused for a broken policy (the old one stays), applied for a good one.
pid=$(main_pid)
cp $POLICY "$tmp/policy.orig"
printf 'allow bind-task user=alice device=%s pasid=auto max=2\nallow bind-tsk user=bob\n' \
	$DEV >$POLICY
timeout $T systemctl reload svmd.service >"$tmp/out" 2>"$tmp/err"
status=$?
as bob svmctl bind-task $DEV -- true
bob_status=$?
if [ $status != 0 ] && [ $bob_status = 77 ] && [ "$(main_pid)" = "$pid" ] &&
	journal_has MESSAGE_ID=$ID_RELOAD _SYSTEMD_UNIT=svmd.service SVMD_RESULT=error; then
	pass reload-refused "systemctl reload exit $status for a typo, svmd (PID $pid) kept" \
		"the old policy: $(journal_one MESSAGE_ID=$ID_RELOAD SVMD_RESULT=error)"
else
	fail reload-refused "systemctl reload exit $status; bob exit $bob_status; PID $pid ->" \
		"$(main_pid)"
fi
# A name no file knows sends the lookup on to nss-systemd (varlink to systemd), inside the
# sandbox: the last check finds any system call the filter refused.
printf 'allow bind-task user=%s device=%s pasid=auto max=2\n' alice $DEV bob $DEV >$POLICY
printf 'deny open-device user=svmd-no-such-user\n' >>$POLICY
timeout $T systemctl reload svmd.service >"$tmp/out" 2>"$tmp/err"
status=$?
# No waiting: the reload is done when systemctl returns.
as bob svmctl bind-task $DEV -- true
bob_status=$?
gen=$(timeout $T busctl get-property $NAME $OBJPATH $NAME PolicyGeneration 2>/dev/null |
	awk '{print $2}')
if [ $status = 0 ] && [ $bob_status = 0 ] && [ "$(main_pid)" = "$pid" ] &&
	[ "$(state svmd.service)" = active ] &&
	journal_has MESSAGE_ID=$ID_RELOAD _SYSTEMD_UNIT=svmd.service SVMD_RESULT=ok \
		SVMD_GENERATION="$gen"; then
	pass reload "systemctl reload: bob's bind then succeeded; same PID $pid, policy" \
		"generation $gen: $(journal_one MESSAGE_ID=$ID_RELOAD SVMD_RESULT=ok)"
else
	fail reload "systemctl reload exit $status ($(oneline <"$tmp/err")); bob exit" \
		"$bob_status; PID $pid -> $(main_pid); generation ${gen:-unknown}"
fi

# 10b. Restart survival (svmd(8), RESTART, CRASH AND UPGRADE): clients of alice hold bindings
# over the socket and the bus, leased and not, some of another process of theirs; svmd is
# restarted 20 times and killed with SIGKILL 20 times (Restart=on-failure brings it back). After
# each round every live client still sees its bindings with their ids and PASIDs and binds and
# unbinds over the same connection; the client killed during the gap is released; svmd's fds
# and those systemd keeps for it match what the live bindings need; the journal has the
# adoption record of the new svmd.
RC=/usr/local/libexec/svmd-restart-client
ID_ADOPT=5f1c0c3a8e6b4c2f9d7a1e4b3c2d1a09
DEV2=0000:3c:00.0
N_CLIENTS=24
# What the clients write goes where alice may write.
rc=$(mktemp -d /tmp/svmd-restart.XXXXXX)
chown alice: "$rc"
cp $POLICY "$tmp/policy.before-restart"
printf 'allow bind-task user=alice device=* pasid=auto targets=same-user max=200\n' >$POLICY
timeout $T systemctl reload svmd.service >/dev/null 2>&1
uid=$alice gid=$(id -g alice)
# A socket connection costs svmd its fd and, on kernels without SO_PEERPIDFD (before 6.5), the
# pin on the peer; a bus client the pin; each task binding the bound process's pidfd; a lease
# svmd's end.
case $(uname -r) in
[0-5].* | 6.[0-4].*) per_socket=2 ;;
*) per_socket=1 ;;
esac
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
need() {
	total=0
	for k in $live; do
		total=$((total + $(cat "$tmp/need$k")))
	done
	echo $total
}
# The idle counts: the least of a few looks, as a systemctl call just made may still hold a
# connection to PID 1 for a moment.
least() {
	k=0 min=""
	while [ $k -lt 5 ]; do
		v=$(nfds "$1")
		{ [ -z "$min" ] || [ "$v" -lt "$min" ]; } && min=$v
		sleep 0.1
		k=$((k + 1))
	done
	echo "$min"
}
base_svmd=$(least "$(main_pid)")
base_pid1=$(least 1)
live=""
# Client number $1: every second one on the bus, every third leased, every fourth binding a
# process of its own besides itself.
start_client() {
	opts="" n=$per_socket binds=1
	[ $(($1 % 2)) = 0 ] && opts="--bus" n=1
	[ $(($1 % 3)) = 0 ] && opts="$opts --lease" n=$((n + 1))
	[ $(($1 % 4)) = 0 ] && opts="$opts --other" binds=2
	echo $((n + binds)) >"$tmp/need$1"
	echo $binds >"$tmp/binds$1"
	# shellcheck disable=SC2086 # opts are words
	SVMD_DEVICE2=$DEV2 setpriv --reuid="$uid" --regid="$gid" --init-groups $RC $opts $DEV \
		"$rc/c$1" >/dev/null 2>"$rc/c$1.err" &
	echo $! >"$tmp/pid$1"
	live="$live $1"
}
i=1
while [ $i -le $N_CLIENTS ]; do
	start_client $i
	i=$((i + 1))
done
# Bound, every one of them.
ready() {
	for k in $live; do
		[ "$(grep -c '^bound ' "$rc/c$k" 2>/dev/null)" = "$(cat "$tmp/binds$k")" ] || return 1
	done
}
i=0
while ! ready && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ids_of() { sed -n 's/^bound \([0-9]*\):\([0-9]*\)$/\1 \2/p' "$rc/c$1"; }
expected_list() {
	for k in $live; do ids_of $k; done | sort -n
}
listed() { timeout $T svmctl list 2>/dev/null | awk 'NF >= 8 && $1 ~ /^[0-9]+$/ {print $1, $4}' | sort -n; }
start_list=$(expected_list | oneline)
next_client=$N_CLIENTS
j=0
while start_fds=$(($(nfds "$(main_pid)") - base_svmd)) && start_pid1=$(($(nfds 1) - base_pid1)) &&
	[ "$start_fds" != "$(need)" ] && [ $j -lt 20 ]; do
	sleep 0.1
	j=$((j + 1))
done

# One round: kill a client in the gap, restart (restart) or crash (crash) svmd, then check.
# Prints "ok DETAIL" or "bad DETAIL".
round() {
	kind=$1 victim=$2
	old=$(main_pid)
	t0=$(date +%s%N)
	if [ "$kind" = restart ]; then
		timeout 30 systemctl restart svmd.service &
		restarting=$!
		# The old svmd has left (its state written); the new one may be adopting.
		j=0
		while kill -0 "$old" 2>/dev/null && [ $j -lt 200 ]; do
			sleep 0.02
			j=$((j + 1))
		done
		kill -9 "$(cat "$tmp/pid$victim")"
		wait $restarting
	else
		kill -9 "$old"
		kill -9 "$(cat "$tmp/pid$victim")"
	fi
	live=$(echo "$live" | tr ' ' '\n' | grep -vx "$victim" | tr '\n' ' ')
	j=0
	while { [ "$(state svmd.service)" != active ] || [ "$(main_pid)" = "$old" ] ||
		[ "$(main_pid)" = 0 ]; } && [ $j -lt 250 ]; do
		sleep 0.02
		j=$((j + 1))
	done
	gap=$((($(date +%s%N) - t0) / 1000000))
	new=$(main_pid)
	if [ "$(state svmd.service)" != active ] || [ "$new" = "$old" ]; then
		echo "bad $kind: svmd.service $(state svmd.service), MainPID $old -> $new"
		return
	fi
	kept=$(for i in $live; do cat "$tmp/binds$i"; done | awk '{n += $1} END {print n + 0}')
	# The victim's session may still look alive when the new svmd adopts (its bus name or
	# socket not gone yet): then it ends right after, and the list below shows it gone.
	also=$((kept + $(cat "$tmp/binds$victim")))
	journal_has MESSAGE_ID=$ID_ADOPT _PID="$new"
	got=$(journalctl -b -q -o verbose MESSAGE_ID=$ID_ADOPT _PID="$new" 2>/dev/null |
		sed -n 's/^ *SVMD_KEPT_BINDINGS=//p' | tail -n 1)
	if [ -z "$got" ] || [ "$got" -lt "$kept" ] || [ "$got" -gt "$also" ]; then
		echo "bad $kind: no adoption record of PID $new keeping $kept:" \
			"$(journal_one MESSAGE_ID=$ID_ADOPT)"
		return
	fi
	# Every live client answers over its own connection: its bindings listed as made, a
	# new bind and unbind.
	for i in $live; do
		kill -USR1 "$(cat "$tmp/pid$i")"
	done
	# (five seconds for them all)
	j=0
	for i in $live; do
		while [ "$(grep -c '^ok \|^bad' "$rc/c$i")" -lt "$(($(grep -c '^ok \|^bad' \
			"$rc/c$i.seen" 2>/dev/null || echo 0) + 1))" ] && [ $j -lt 100 ]; do
			sleep 0.05
			j=$((j + 1))
		done
		cp "$rc/c$i" "$rc/c$i.seen"
		last=$(grep '^ok \|^bad' "$rc/c$i" | tail -n 1)
		case $last in
		ok*) ;;
		*)
			echo "bad $kind: client $i: ${last:-no answer} ($(oneline <"$rc/c$i.err"))"
			return
			;;
		esac
	done
	# A victim whose end svmd learns after the adoption (its bus name leaving) goes within
	# moments.
	want=$(expected_list | oneline)
	j=0
	while got=$(listed | oneline) && [ "$want" != "$got" ] && [ $j -lt 40 ]; do
		sleep 0.05
		j=$((j + 1))
	done
	if [ "$want" != "$got" ]; then
		echo "bad $kind: svmctl list '$got', the live clients hold '$want'"
		return
	fi
	# PID 1 closes the connections of the systemctl calls above when it gets to them: a count
	# that stays above what the bindings need for two seconds is a leak, a passing one is not.
	j=0
	while fds=$(($(nfds "$new") - base_svmd)) && pid1=$(($(nfds 1) - base_pid1)) &&
		{ [ "$fds" != "$(need)" ] || [ "$pid1" != "$(need)" ]; } && [ $j -lt 20 ]; do
		sleep 0.1
		j=$((j + 1))
	done
	if [ "$fds" != "$(need)" ] || [ "$pid1" != "$(need)" ]; then
		echo "bad $kind: fds beyond the idle svmd's: svmd $fds, systemd's store $pid1;" \
			"the live bindings need $(need)"
		return
	fi
	echo "ok $kind: gap ${gap} ms, kept $kept bindings, fds $fds (store $pid1)"
}
# Twenty rounds of each; a client dies in each (they are started again below as needed).
run_rounds() {
	kind=$1
	result="" max_gap=0 r=1
	while [ $r -le 20 ]; do
		victim=$(echo $live | awk '{print $1}')
		round "$kind" "$victim" >"$tmp/round"
		line=$(cat "$tmp/round")
		# One more client, bound by the svmd that just adopted the others.
		next_client=$((next_client + 1))
		start_client $next_client
		k=0
		while ! ready && [ $k -lt 50 ]; do
			sleep 0.1
			k=$((k + 1))
		done
		case $line in
		ok*) ;;
		*)
			result="round $r: $line"
			break
			;;
		esac
		g=$(echo "$line" | sed -n 's/.*gap \([0-9]*\) ms.*/\1/p')
		[ "${g:-0}" -gt $max_gap ] && max_gap=$g
		last_ok=$line
		r=$((r + 1))
	done
	[ -z "$result" ] && result="ok 20 rounds, longest gap $max_gap ms; last: $last_ok"
	echo "$result"
}
# The shipped unit as it is: its start limit (100 starts a minute) lets twenty restarts in a
# row and then twenty crashes through.
if [ "$start_fds" = "$(need)" ] && [ -n "$start_list" ]; then
	run_rounds restart >"$tmp/rounds"
	restart_result=$(cat "$tmp/rounds")
else
	restart_result="bad before the rounds: svmd fds $start_fds, store $start_pid1, need $(need)"
	restart_result="$restart_result (clients: $start_list; $(cat "$rc"/*.err | oneline))"
fi
case $restart_result in
ok*) pass restart-keeps "$N_CLIENTS clients (socket and bus, leased, other processes)," \
	"systemctl restart: ${restart_result#ok }" ;;
*) fail restart-keeps "$restart_result" ;;
esac
case $restart_result in
ok*)
	run_rounds crash >"$tmp/rounds"
	crash_result=$(cat "$tmp/rounds")
	;;
*) crash_result="not run: the restart rounds failed" ;;
esac
case $crash_result in
ok*) pass crash-keeps "kill -9 and Restart=on-failure: ${crash_result#ok }" ;;
*) fail crash-keeps "$crash_result" ;;
esac
for i in $live; do kill "$(cat "$tmp/pid$i")" 2>/dev/null; done
wait 2>/dev/null

# Requests during a restart: a socket client listing in a loop and a bus call made while svmd
# is down both succeed (they wait for the next svmd).
setpriv --reuid="$uid" --regid="$gid" --init-groups sh -c '
	i=0 bad=0
	while [ $i -lt 200 ]; do
		svmctl list >/dev/null 2>>"$1" || bad=$((bad + 1))
		i=$((i + 1))
	done
	echo "$bad" >"$2"' sh "$rc/loop.err" "$rc/loop.bad" &
looper=$!
old=$(main_pid)
systemctl kill --signal=SIGSTOP svmd.service
timeout 30 systemctl restart svmd.service &
restarting=$!
sleep 0.3
timeout 30 setpriv --reuid="$uid" --regid="$gid" --init-groups svmctl --bus devices \
	>"$tmp/busdev" 2>"$tmp/busdev.err" &
buscall=$!
systemctl kill --signal=SIGCONT svmd.service 2>/dev/null
wait $restarting
wait $buscall
bus_status=$?
wait $looper
if [ "$(cat "$rc/loop.bad" 2>/dev/null)" = 0 ] && [ $bus_status = 0 ] &&
	grep -q "^$DEV " "$tmp/busdev" && [ "$(main_pid)" != "$old" ]; then
	pass restart-no-error "200 socket requests across a restart, none failed; a bus call" \
		"made during it waited and listed $(grep -c '^0000:' "$tmp/busdev") devices"
else
	fail restart-no-error "socket failures: $(cat "$rc/loop.bad" 2>/dev/null)" \
		"($(head -c 200 "$rc/loop.err" | oneline)); bus call exit $bus_status" \
		"($(cat "$tmp/busdev" "$tmp/busdev.err" | oneline)); PID $old -> $(main_pid)"
fi

# A state file svmd cannot trust (corrupt; from a later version): the next svmd starts clean,
# releases what the store held and says why.
# A client of alice's bound, its output in $1: $client its pid, $id its binding; then svmd
# stopped (SIGSTOP) with its state written, $old its pid.
bound_then_stopped() {
	SVMD_DEVICE2=$DEV2 setpriv --reuid="$uid" --regid="$gid" --init-groups $RC $DEV "$1" \
		>/dev/null 2>&1 &
	client=$!
	j=0
	while ! grep -q '^bound ' "$1" 2>/dev/null && [ $j -lt 50 ]; do
		sleep 0.1
		j=$((j + 1))
	done
	id=$(sed -n 's/^bound \([0-9]*\):.*/\1/p' "$1")
	old=$(main_pid)
	systemctl kill --signal=SIGSTOP svmd.service
}
# svmd ($old) killed; $new the svmd systemd started after it.
killed_then_restarted() {
	kill -9 "$old"
	j=0
	while { [ "$(state svmd.service)" != active ] || [ "$(main_pid)" = "$old" ]; } &&
		[ $j -lt 250 ]; do
		sleep 0.02
		j=$((j + 1))
	done
	new=$(main_pid)
}
bad_state() {
	what=$1
	bound_then_stopped "$rc/s$what"
	if [ "$what" = corrupt ]; then
		# In the file or, made since it was written, in its journal.
		sed -i 's/^binding \([0-9]*\) /binding 9\1 /' /run/svmd/state/state \
			/run/svmd/state/journal
	else
		sed -i 's/^svmd-state [0-9]*$/svmd-state 99/' /run/svmd/state/state
	fi
	killed_then_restarted
	rec=$(journal_has MESSAGE_ID=$ID_ADOPT _PID="$new" && journal_one MESSAGE_ID=$ID_ADOPT _PID="$new")
	# Its connection was closed with everything else the store held: asked, it finds so.
	kill -USR1 $client
	j=0
	while ! grep -q '^bad\|^ok' "$rc/s$what" && [ $j -lt 50 ]; do
		sleep 0.1
		j=$((j + 1))
	done
	gone=$(grep -q '^bad' "$rc/s$what" && echo "disconnected" || echo "still connected")
	kill $client 2>/dev/null
	wait $client 2>/dev/null
	next=$(setpriv --reuid="$uid" --regid="$gid" --init-groups timeout $T svmctl bind-task \
		$DEV -- sh -c 'echo $SVMD_BINDING' 2>/dev/null)
	listed=$(timeout $T svmctl list 2>&1 | oneline)
	case $rec in
	"State not adopted: "*)
		if [ "$listed" = "No bindings." ] && [ -n "$next" ] && [ "$gone" = disconnected ]; then
			pass "state-$what" "binding $id's svmd killed with its state $what: $rec;" \
				"the client was $gone, a new bind got $next"
			return
		fi
		;;
	esac
	fail "state-$what" "record '${rec}', list '$listed', client $gone, new bind '${next}'"
}
bad_state corrupt
bad_state future

# The state an older svmd wrote (version 1: the end line sums the text itself) is adopted: the
# client's binding stays, over the same connection.
bound_then_stopped "$rc/v1"
/usr/local/libexec/svmd-state-v1 /run/svmd/state
v1=$?
header=$(head -n 1 /run/svmd/state/state)
killed_then_restarted
rec=$(journal_has MESSAGE_ID=$ID_ADOPT _PID="$new" && journal_one MESSAGE_ID=$ID_ADOPT _PID="$new")
kept=$(journalctl -b -q -o verbose MESSAGE_ID=$ID_ADOPT _PID="$new" 2>/dev/null |
	sed -n 's/^ *SVMD_KEPT_BINDINGS=//p' | tail -n 1)
kill -USR1 $client
j=0
while ! grep -q '^bad\|^ok' "$rc/v1" && [ $j -lt 50 ]; do
	sleep 0.1
	j=$((j + 1))
done
answer=$(grep '^bad\|^ok' "$rc/v1" | tail -n 1)
listed=$(timeout $T svmctl list 2>&1 | awk -v b="$id" '$1 == b' | wc -l)
kill $client 2>/dev/null
wait $client 2>/dev/null
if [ $v1 = 0 ] && [ "$header" = "svmd-state 1" ] && [ -n "$id" ] && [ "${kept:-0}" -ge 1 ] &&
	[ "$listed" = 1 ] && [ "${answer#ok}" != "$answer" ]; then
	pass state-v1 "binding $id's svmd killed with its state rewritten as version 1: $rec;" \
		"the client answered '$answer' over its connection"
else
	fail state-v1 "rewrite exit $v1 ('$header'), binding '${id}', record '${rec}', kept" \
		"'${kept}', listed $listed, client '${answer}'"
fi
# Requests in flight when svmd is killed: two clients of alice's (one socket connection each)
# list, bind and unbind as fast as svmd answers while svmd is killed with SIGKILL ten times;
# none of their calls fails (the next svmd answers what the last one was serving, once).
loopers=
for i in 1 2; do
	rm -f "$rc/loop$i"
	SVMD_DEVICE2=$DEV2 setpriv --reuid="$uid" --regid="$gid" --init-groups $RC --loop $DEV \
		"$rc/loop$i" >/dev/null 2>&1 &
	loopers="$loopers $!"
done
j=0
while [ "$(cat "$rc/loop1" "$rc/loop2" 2>/dev/null | grep -c '^bound ')" != 2 ] && [ $j -lt 50 ]; do
	sleep 0.1
	j=$((j + 1))
done
kills=0
while [ $kills -lt 10 ] && ! grep -q '^bad' "$rc/loop1" "$rc/loop2"; do
	sleep 0.3
	old=$(main_pid)
	killed_then_restarted
	[ "$new" != "$old" ] || break
	kills=$((kills + 1))
done
sleep 0.5
kill $loopers 2>/dev/null
wait $loopers 2>/dev/null
r1=$(tail -n 1 "$rc/loop1" 2>/dev/null) r2=$(tail -n 1 "$rc/loop2" 2>/dev/null)
if [ $kills = 10 ] && [ "${r1#loop ok }" != "$r1" ] && [ "${r2#loop ok }" != "$r2" ]; then
	pass crash-in-flight "svmd killed 10 times under two busy clients: no call failed" \
		"(${r1#loop ok } and ${r2#loop ok } rounds of list, bind, unbind)"
else
	fail crash-in-flight "$kills kills; client 1: '$r1', client 2: '$r2'"
fi

cp "$tmp/policy.before-restart" $POLICY
timeout $T systemctl reload svmd.service >/dev/null 2>&1

# Alice binds with `svmctl bind-task --hold` in the background: $hold is its pid, $binding the
# binding (empty if none came within 5 s), its output in $tmp/hold.
hold_binding() {
	# Emptied first: the client empties it only once it runs, and the wait below must not
	# read a line an earlier client left.
	: >"$tmp/hold"
	setpriv --reuid="$alice" --regid="$(id -g alice)" --init-groups svmctl bind-task $DEV \
		--hold >"$tmp/hold" 2>&1 &
	hold=$!
	i=0
	while ! grep -q '^Bound .*holding it' "$tmp/hold" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	binding=$(sed -n 's/^Bound .* as binding \([0-9]*\) .*/\1/p' "$tmp/hold")
}

# 11. systemctl stop releases a binding its client still holds.
uid=$alice gid=$(id -g alice)
hold_binding
pid=$(main_pid)
timeout $T systemctl stop svmd.service 2>"$tmp/err"
stop_status=$?
result="$(prop Result), exit status $(prop ExecMainStatus)"
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null
timeout $T svmctl list >"$tmp/out" 2>"$tmp/err"
list_status=$?
if [ -n "$binding" ] && [ $stop_status = 0 ] && [ "$result" = "success, exit status 0" ] &&
	journal_has MESSAGE_ID=$ID_RELEASE _SYSTEMD_UNIT=svmd.service _PID="$pid" \
		SVMD_BINDING="$binding" SVMD_UID="$alice" "SVMD_REASON=svmd shutting down" &&
	[ $list_status = 0 ] && [ "$(cat "$tmp/out")" = "No bindings." ]; then
	pass stop-releases "alice held binding $binding; systemctl stop: $result," \
		"$(journal_one MESSAGE_ID=$ID_RELEASE SVMD_BINDING="$binding" _PID="$pid");" \
		"svmd restarted (PID $(main_pid)): No bindings."
else
	fail stop-releases "binding '${binding:-none}' ($(oneline <"$tmp/hold")); stop exit" \
		"$stop_status, $result; list exit $list_status: $(cat "$tmp/out" "$tmp/err" | oneline)"
fi

# 11b. The svmd that socket activation started since goes on above the stopped one's ids: an old
# id never names a new binding (its state directory survived the stop).
uid=$alice gid=$(id -g alice)
next=$(setpriv --reuid="$uid" --regid="$gid" --init-groups timeout $T svmctl bind-task $DEV \
	-- sh -c 'echo $SVMD_BINDING' 2>"$tmp/err")
state=$(stat -c '%U %a' /run/svmd/state 2>&1)
if [ -n "$binding" ] && [ -n "$next" ] && [ "$next" -gt "$binding" ] 2>/dev/null; then
	pass ids-continue "after the stop a new binding is $next (before it: $binding);" \
		"/run/svmd/state: $state, next-id $(cat /run/svmd/state/next-id 2>&1)"
else
	fail ids-continue "before the stop ${binding:-none}, after it '${next}'" \
		"($(oneline <"$tmp/err")); /run/svmd/state: $state"
fi

# 12. The exposure score systemd computes for the loaded unit is the unit file's own.
unit_file=$(prop FragmentPath)
score() { sed -n 's/.*Overall exposure level for svmd.service: \([0-9.]*\) .*/\1/p'; }
online=$(timeout 30 systemd-analyze security svmd.service 2>&1 | score)
offline=$(timeout 30 systemd-analyze security --offline=true "$unit_file" 2>&1 | score)
if [ -n "$online" ] && [ "$online" = "$offline" ]; then
	pass security-score "systemd-analyze security svmd.service: $online, --offline=true" \
		"$unit_file: $offline"
else
	fail security-score "online '${online}' vs offline '${offline}' ($unit_file)"
fi

# 13. Nothing svmd did under systemd hit its own seccomp filter.
refused=$(journalctl -b -q -o cat _SYSTEMD_UNIT=svmd.service 2>/dev/null | grep 'seccomp: refused')
if [ -z "$refused" ]; then
	pass no-seccomp-refusals "no 'seccomp: refused' from svmd in this boot's journal"
else
	fail no-seccomp-refusals "$(echo "$refused" | sort -u | oneline)"
fi

# 14. The udev rule as installed: it runs the installed svmd, which gives group svmd the nodes
# of the devices in Device= only (a nspawn container has no VFIO nodes of its own: the rule
# under udevd with a real kernel's nodes is make check-vm's udev-* checks), and never the
# container node /dev/vfio/vfio.
rule=""
for d in /usr/lib/udev/rules.d /lib/udev/rules.d; do
	[ -f "$d/60-svmd.rules" ] && rule=$d/60-svmd.rules && break
done
programs=$(sed -n 's/.*PROGRAM="\([^ "]*\).*/\1/p' "$rule" 2>/dev/null | sort -u | oneline)
mkdir -p "$tmp/sys/kernel/iommu_groups/7/devices/0000:3b:00.0" \
	"$tmp/sys/kernel/iommu_groups/8/devices/0000:3c:00.0"
printf '[Daemon]\nBackend=auto\nDevice=0000:3b:00.0\n' >"$tmp/udev.conf"
ask() {
	/usr/sbin/svmd --config="$tmp/udev.conf" --sysfs-root="$tmp/sys" --udev-match="$1" \
		>/dev/null 2>&1
	echo $?
}
mine=$(ask group:7) other=$(ask group:8) cdev=$(ask cdev:/devices/pci0000:3a/0000:3c:00.0/vfio-dev/vfio1)
here_sim=$(/usr/sbin/svmd --udev-match=iommu >/dev/null 2>&1; echo $?)
if [ -n "$rule" ] && [ "$programs" = /usr/sbin/svmd ] && [ -x /usr/sbin/svmd ] &&
	! grep -q 'KERNEL=="vfio"' "$rule" && [ "$mine" = 0 ] && [ "$other" = 1 ] &&
	[ "$cdev" = 1 ] && [ "$here_sim" = 1 ]; then
	pass udev-rule "$rule runs $programs; a managed device's group is svmd's (exit 0), an" \
		"unmanaged group and cdev are not (exit 1), /dev/vfio/vfio is not named," \
		"and this Backend=sim machine gives svmd no /dev/iommu (exit 1)"
else
	fail udev-rule "rule '${rule:-none}' runs '${programs}'; exits: managed group $mine," \
		"other group $other, other cdev $cdev, iommu here $here_sim (want 0 1 1 1)"
fi

# 15. A program built against the installed libsvmclient-dev with pkg-config binds through the
# installed svmd.
cp $SHARE/pkgconfig-client.c "$tmp/"
# shellcheck disable=SC2046 # pkg-config's words
if cc -o "$tmp/pkgconfig-client" "$tmp/pkgconfig-client.c" $(pkg-config --cflags --libs \
	svmclient) >"$tmp/cc" 2>&1; then
	chmod 0755 "$tmp" "$tmp/pkgconfig-client"
	as alice "$tmp/pkgconfig-client" $DEV
	client_status=$?
else
	client_status="not built: $(oneline <"$tmp/cc")"
fi
flags=$(pkg-config --cflags --libs svmclient 2>&1)
case $(cat "$tmp/out" 2>/dev/null) in
"bound "*" listed unbound")
	[ "$client_status" = 0 ] &&
		pass pkgconfig-client "cc \$(pkg-config --cflags --libs svmclient) ($flags):" \
			"alice's program $(cat "$tmp/out"), linked to" \
			"$(ldd "$tmp/pkgconfig-client" | awk '$1 == "libsvmclient.so.0" {print $3}')" ||
		fail pkgconfig-client "exit $client_status: $(cat "$tmp/out" "$tmp/err" | oneline)"
	;;
*) fail pkgconfig-client "exit $client_status: $(cat "$tmp/out" "$tmp/err" 2>/dev/null | oneline)" ;;
esac

# 16. An upgrade keeps svmd running; apt-get remove svmd stops it: the binding a client holds is
# released (svmd says so in the journal), no svmd runs, nothing listens; its conffile stays until
# a purge.
pid1_before=$(nfds 1)
hold_binding
pid=$(main_pid)
# An upgrade (here the same version again, which runs the same maintainer scripts) leaves the
# running svmd and its bindings alone: debian/rules says why.
timeout 120 apt-get install -y -q --reinstall $DEBS/svmd_*.deb >"$tmp/apt" 2>&1
apt_status=$?
listed=$(timeout $T svmctl list 2>&1 | awk -v b="$binding" '$1 == b' | wc -l)
if [ $apt_status = 0 ] && [ -n "$binding" ] && [ "$(main_pid)" = "$pid" ] && [ "$listed" = 1 ] &&
	kill -0 $hold 2>/dev/null && [ "$(state svmd.socket)" = active ]; then
	pass package-upgrade "apt-get install --reinstall svmd while alice held binding $binding:" \
		"svmd not restarted (PID $pid), the binding still listed, svmd.socket active"
else
	fail package-upgrade "apt-get exit $apt_status ($(tail -n 2 "$tmp/apt" | oneline));" \
		"binding '${binding}' listed $listed, PID $pid -> $(main_pid)," \
		"socket $(state svmd.socket), hold: $(oneline <"$tmp/hold")"
fi
timeout 120 apt-get remove -y -q svmd >"$tmp/apt" 2>&1
apt_status=$?
i=0
while kill -0 $hold 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill $hold 2>/dev/null
wait $hold 2>/dev/null
running=$(pgrep -x svmd | oneline)
if [ $apt_status = 0 ] && [ -n "$binding" ] && [ -z "$running" ] &&
	[ ! -e /run/svmd/svmd.sock ] && [ ! -e /usr/sbin/svmd ] && [ -f /etc/svmd/svmd.conf ] &&
	journal_has MESSAGE_ID=$ID_RELEASE _PID="$pid" SVMD_BINDING="$binding" \
		"SVMD_REASON=svmd shutting down"; then
	pass package-remove "alice held binding $binding; apt-get remove svmd: no svmd running," \
		"no socket, $(journal_one MESSAGE_ID=$ID_RELEASE SVMD_BINDING="$binding" _PID="$pid");" \
		"svmd.conf kept; PID 1 fds $pid1_before -> $(nfds 1)"
else
	fail package-remove "apt-get exit $apt_status ($(tail -n 2 "$tmp/apt" | oneline));" \
		"binding '${binding}', svmd running '${running}', $(ls /run/svmd 2>&1 | oneline)," \
		"hold: $(oneline <"$tmp/hold")"
fi

# 17. apt-get purge removes svmd's configuration; a policy file the administrator wrote stays
# (dpkg keeps what it did not install, and says so).
timeout 120 apt-get purge -y -q svmd >"$tmp/apt" 2>&1
apt_status=$?
status_abbrev=$(dpkg-query -W -f '${db:Status-Abbrev}' svmd 2>/dev/null | tr -d ' ')
if [ $apt_status = 0 ] && [ ! -e /etc/svmd/svmd.conf ] && [ "${status_abbrev:-un}" = un ] &&
	[ -f /etc/svmd/policy.d/50-system-test.policy ] && [ ! -e /run/svmd ]; then
	pass package-purge "apt-get purge svmd: status '${status_abbrev:-none}', /etc/svmd/svmd.conf" \
		"and /run/svmd gone, left: $(find /etc/svmd -type f | oneline)"
else
	fail package-purge "apt-get exit $apt_status ($(tail -n 2 "$tmp/apt" | oneline)); status" \
		"'${status_abbrev}', /etc/svmd: $(find /etc/svmd 2>&1 | oneline);" \
		"/run/svmd: $(ls /run/svmd 2>&1 | oneline)"
fi

# 18. Installed again: the socket is back, nothing failed, and with the test's settings again a
# bind works.
failed_before=$(failed_units | oneline)
apt_install $DEBS/svmd_*.deb
apt_status=$?
conf=$(grep -c '^#Backend=auto' /etc/svmd/svmd.conf 2>/dev/null)
sock=$(state svmd.socket) service=$(state svmd.service)
install -m 0644 $SHARE/svmd.conf /etc/svmd/svmd.conf
next=$(setpriv --reuid="$alice" --regid="$(id -g alice)" --init-groups timeout $T svmctl \
	bind-task $DEV -- sh -c 'echo $SVMD_BINDING' 2>"$tmp/err")
if [ $apt_status = 0 ] && [ "$conf" = 1 ] && [ "$sock" = active ] && [ "$service" = inactive ] &&
	[ "$(failed_units | oneline)" = "$failed_before" ] && [ -n "$next" ]; then
	pass package-reinstall "apt-get install svmd again: the package's svmd.conf, socket" \
		"active, service inactive, no failed unit; then alice bound $next"
else
	fail package-reinstall "apt-get exit $apt_status ($(tail -n 2 "$tmp/apt" | oneline));" \
		"default svmd.conf $conf, socket $sock, service $service, failed" \
		"'$(failed_units | oneline)'; bind '${next}' ($(oneline <"$tmp/err"))"
fi

rm -rf "$tmp"
echo "SYSTEM-DONE pass=$n_pass fail=$n_fail"
