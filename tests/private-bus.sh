#!/bin/sh
# Starts a private system-like dbus-daemon in DIR for tests and the demo, with svmd's own bus
# policy (systemd/org.svmd.Broker1.conf) included, and prints its address. The daemon's pid
# goes to DIR/bus.pid. EXTRA_CONF, if given, is included too (make bench adds its naive server's
# policy).   Usage: private-bus.sh DIR [EXTRA_CONF]
set -eu
dir=$1
extra=${2:+<include>$2</include>}
here=$(cd "$(dirname "$0")/.." && pwd)
cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include>$here/systemd/org.svmd.Broker1.conf</include>
  $extra
</busconfig>
CONF
rm -f "$dir/bus.sock" "$dir/bus.address"
# dbus-daemon prints its address once it listens (the socket file exists a moment before that,
# when a connect is still refused): wait for the address, not for the file.
dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile --nosyslog --print-address=3 \
	>"$dir/bus.log" 2>&1 3>"$dir/bus.address" &
echo $! >"$dir/bus.pid"
for _ in $(seq 250); do [ -s "$dir/bus.address" ] && break; sleep 0.02; done
[ -s "$dir/bus.address" ] && [ -S "$dir/bus.sock" ] || { cat "$dir/bus.log" >&2; exit 1; }
chmod 0666 "$dir/bus.sock"
echo "unix:path=$dir/bus.sock"
