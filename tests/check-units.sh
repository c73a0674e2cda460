#!/bin/sh
# The systemd units, checked as `make check` requires: systemd-analyze verify prints nothing
# for them, and the service's offline exposure score is at most 0.5.
set -u
BUILD=${BUILD:-build}
dir=$BUILD/units-check
max=0.5
rm -rf "$dir" && mkdir -p "$dir"

# As installed, but naming the binaries just built (verify checks that ExecStart exists).
sed -e "s|@SBINDIR@|$(cd "$BUILD" && pwd)|" -e "s|@BINDIR@|$(cd "$BUILD" && pwd)|" \
	systemd/svmd.service.in >"$dir/svmd.service"
cp systemd/svmd.socket "$dir/"

status=0
out=$(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no svmd.socket svmd.service 2>&1)
if [ -n "$out" ]; then
	echo "FAIL units: systemd-analyze verify says:"
	echo "$out" | sed 's/^/  /'
	status=1
else
	echo "units: systemd-analyze verify --man=no: clean"
fi

line=$(systemd-analyze security --offline=true "$dir/svmd.service" 2>&1 | grep 'Overall exposure level')
score=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
	echo "FAIL units: no exposure score from systemd-analyze security: $line"
	status=1
elif awk "BEGIN { exit !($score <= $max) }"; then
	echo "units: systemd-analyze security --offline=true svmd.service: $score (at most $max)"
else
	echo "FAIL units: exposure $score is above $max"
	systemd-analyze security --offline=true "$dir/svmd.service" | grep '✗' | sed 's/^/  /'
	status=1
fi
exit $status
