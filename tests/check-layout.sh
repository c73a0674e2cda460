#!/bin/sh
# The shape HACKING.md promises, checked on every `make check`: the kernel's uAPI is spoken only by
# the backends (and the codec and the sandbox that need its numbers), the request recipes stay
# small, no function in daemon/ runs over 80 lines, and no error path unwinds with goto.
set -u
cd "$(dirname "$0")/.."
status=0
fail() {
	echo "layout: FAIL: $*"
	status=1
}

# 1. Who includes kernel uAPI definitions: the project's own (seed-abi.h, vfio-abi.h,
# iommufd-abi.h, iommufd-test-abi.h) or the system's (<linux/...>).
allowed="daemon/backend-vfio.c daemon/backend-iommufd.c daemon/iommufd-smmuv3.c daemon/iommufd-mock.c daemon/sim-kernel.c daemon/seed-abi.c
daemon/seed-abi.h daemon/vfio-abi.h daemon/iommufd-abi.h daemon/iommufd-test-abi.h
daemon/sandbox.c"
for f in $(grep -l -E '#include ("(seed|vfio|iommufd|iommufd-test)-abi\.h"|<linux/)' daemon/*.c daemon/*.h); do
	case " $(echo $allowed) " in
	*" $f "*) ;;
	*) fail "$f includes kernel uAPI definitions: only the backends may" ;;
	esac
done

# 2. The recipes.
n=$(wc -l <daemon/ops.c)
[ "$n" -lt 700 ] || fail "daemon/ops.c has $n lines (at most 699)"

# 3. Function length: from a line opening a definition at column 0 to its closing brace.
long=$(awk '
	/^[a-z].*\(/ && !/;$/ { name = $0; start = FNR; next }
	/^}/ && start { if (FNR - start > 80) printf "%s:%d: %d lines: %s\n", FILENAME, start, FNR - start, name; start = 0 }
' daemon/*.c)
[ -z "$long" ] || fail "functions over 80 lines:
$long"

# 4. Unwinding is done by cleanup locals.
gotos=$(grep -n -w goto daemon/*.c)
[ -z "$gotos" ] || fail "goto in daemon/:
$gotos"

[ "$status" = 0 ] && echo "layout: kernel uAPI only in the backends; ops.c $n lines; no function over 80 lines; no goto"
exit "$status"
