#!/bin/sh
# The checks of `make check-system`, run inside the booted Debian root by
# svmd-system-check.service (tests/system/run.sh installs both). svmd is installed as a package
# would be: svmd.socket enabled, svmd.service not started, /etc/svmd/svmd.conf saying
# Backend=sim, a policy granting alice a bind and denying bob. Prints "PASS name: detail" or
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

# 1. The svmd user comes from the shipped sysusers.d file, at boot (run.sh made sure the root
# had no such user before).
sysusers=$(systemctl show -p Result --value systemd-sysusers.service)
if line=$(getent passwd svmd) && [ "$(echo "$line" | cut -d: -f3)" -lt 1000 ] &&
	[ "$sysusers" = success ]; then
	pass sysusers "system user svmd (uid $(echo "$line" | cut -d: -f3)) made at boot by" \
		"systemd-sysusers from /usr/lib/sysusers.d/svmd.conf"
else
	fail sysusers "svmd: '${line:-no such user}'; systemd-sysusers.service: $sysusers"
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

# 11. systemctl stop releases a binding its client still holds.
uid=$alice gid=$(id -g alice)
setpriv --reuid="$uid" --regid="$gid" --init-groups svmctl bind-task $DEV --hold \
	>"$tmp/hold" 2>&1 &
hold=$!
i=0
while ! grep -q '^Bound' "$tmp/hold" && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
binding=$(sed -n 's/^Bound .* as binding \([0-9]*\) .*/\1/p' "$tmp/hold")
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

rm -rf "$tmp"
echo "SYSTEM-DONE pass=$n_pass fail=$n_fail"
