#!/bin/sh
# Creates the unprivileged users and group the integration tests run clients as. Needs root;
# without it the integration tests that switch users are reported as skipped.
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "svmd: not root: integration tests that run as other users will be skipped." >&2
	exit 0
fi
getent group svmd-testgrp >/dev/null || groupadd --system svmd-testgrp
for u in svmd-test1 svmd-test2; do
	getent passwd "$u" >/dev/null ||
		useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$u"
done
# svmd-test1 holds svmd-testgrp as a supplementary group (for group= rules).
usermod -a -G svmd-testgrp svmd-test1
