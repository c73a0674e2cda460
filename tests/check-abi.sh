#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# libsvmclient's exported names: the functions client/svmclient.h declares, the version script's
# list (client/libsvmclient.sym), what the built library exports ($BUILD/libsvmclient.so.0) and
# the Debian symbols file (debian/libsvmclient0.symbols) must all be the same set, and every
# export must carry the version node. Fails naming the difference.
set -eu

BUILD=${BUILD:-build}
lib=$BUILD/libsvmclient.so.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declarations: a line that starts with a type and names svm_NAME( (comments do not start so);
# the header's static inline wrappers are the caller's, not the library's.
sed -e '/^static /d' -n -e 's/^[a-z][a-z0-9_ *]*[ *]\(svm_[a-z0-9_]*\)(.*/\1/p' \
	client/svmclient.h | sort -u >"$tmp/header"
sed -n 's/^[[:space:]]*\(svm_[a-z0-9_]*\);$/\1/p' client/libsvmclient.sym | sort >"$tmp/script"
nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sort >"$tmp/versioned"
sed 's/@.*//' "$tmp/versioned" | sort >"$tmp/exported"
sed -n 's/^ \(svm_[a-z0-9_]*\)@SVMCLIENT_0 .*/\1/p' debian/libsvmclient0.symbols | sort \
	>"$tmp/symbols"

status=0
compare() {
	if ! cmp -s "$tmp/header" "$tmp/$1"; then
		echo "check-abi: $2 and client/svmclient.h differ (< header only, > $2 only):"
		diff "$tmp/header" "$tmp/$1" | grep '^[<>]' | sed 's/^/  /'
		status=1
	fi
}
compare script client/libsvmclient.sym
compare exported "$lib"
compare symbols debian/libsvmclient0.symbols
if grep -v '@@SVMCLIENT_0$' "$tmp/versioned" | grep -q .; then
	echo "check-abi: exports of $lib outside the SVMCLIENT_0 node:" \
		"$(grep -v '@@SVMCLIENT_0$' "$tmp/versioned" | tr '\n' ' ')"
	status=1
fi
if nm -D --defined-only "$lib" | awk '$2 != "T" && $2 != "A"' | grep -q .; then
	echo "check-abi: $lib exports data: $(nm -D --defined-only "$lib" | awk '$2 != "T" && $2 != "A"')"
	status=1
fi
[ $status = 0 ] && echo "check-abi: $(wc -l <"$tmp/header") functions: header, version script," \
	"library and symbols file agree"
exit $status
