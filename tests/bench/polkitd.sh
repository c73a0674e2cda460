#!/bin/sh
# make bench, row 2b: runs polkitd on the bench's private bus, with the bench's action file
# (org.svmd.bench.policy) and rules file (50-svmd-bench.rules, allowing USER only) added to the
# machine's own. polkitd has no option or environment variable for its directories (it reads
# /usr/share/polkit-1/actions, /etc/polkit-1/rules.d and /usr/share/polkit-1/rules.d), so
# instead of installing the two files on the machine for the run, this gives polkitd a private
# mount namespace in which copies of the first two directories, with the bench's files added,
# are bind-mounted over them: nothing outside WORKDIR changes, nothing is left behind if the
# bench is killed, and no other polkitd sees the bench's rules. /usr/share/polkit-1/rules.d is
# left as it is: the rules the machine's packages ship are evaluated too, as they would be.
# polkitd drops to the polkitd user itself; it replaces this script (same pid) and exits when
# its bus goes away. Needs root (mounts, and polkitd's change of user).
#   Usage: polkitd.sh WORKDIR BUS_ADDRESS USER   (run from the top of the tree)
set -eu
work=$1 bus=$2 user=$3
polkitd=/usr/lib/polkit-1/polkitd
actions=/usr/share/polkit-1/actions
rules=/etc/polkit-1/rules.d
here=$(cd "$(dirname "$0")" && pwd)
fail() {
	echo "polkitd.sh: $*" >&2
	exit 1
}
[ -x "$polkitd" ] || fail "$polkitd is missing: install polkitd (make bench does, as root)"
[ "$(id -u)" = 0 ] || fail "needs root (private mount namespace; polkitd changes to its user)"
getent passwd polkitd >/dev/null || fail "no polkitd user (reinstall polkitd)"
{ [ -d "$actions" ] && [ -d "$rules" ]; } || fail "$actions or $rules is missing (reinstall polkitd)"

dir=$work/polkit
rm -rf "$dir"
mkdir -p "$dir/actions" "$dir/rules.d"
# The machine's own actions and local rules, then the bench's.
for f in "$actions"/*.policy "$rules"/*.rules; do
	case $f in
	*.policy) [ ! -e "$f" ] || cp "$f" "$dir/actions/" ;;
	*) [ ! -e "$f" ] || cp "$f" "$dir/rules.d/" ;;
	esac
done
cp "$here/org.svmd.bench.policy" "$dir/actions/"
sed "s/@BENCH_USER@/$user/g" "$here/50-svmd-bench.rules" >"$dir/rules.d/50-svmd-bench.rules"
chmod 0644 "$dir"/actions/* "$dir"/rules.d/*
chown -R polkitd:root "$dir/rules.d"
chmod 0700 "$dir/rules.d"

echo "polkitd.sh: $polkitd on $bus, actions $dir/actions, rules $dir/rules.d and" \
	"/usr/share/polkit-1/rules.d"
export DBUS_SYSTEM_BUS_ADDRESS="$bus"
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount --propagation private sh -c \
	'mount --bind "$1" "$2" && mount --bind "$3" "$4" && exec "$5" --no-debug' \
	polkitd-ns "$dir/actions" "$actions" "$dir/rules.d" "$rules" "$polkitd"
