#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Checks svmctl --json output against the schemas svmctl(1) documents (JSON OUTPUT).
# Usage: check-json.py KIND < output; KIND is a command name or "error". Exit 0 when every
# line of stdout is one JSON object (or array) of that schema, else 1 with why.
import json
import sys

S, I, B, N = str, int, bool, type(None)

BINDING = {"id": I, "kind": S, "device": S, "pasid": I, "owner_uid": I, "owner_user": S,
           "owner_pid": I, "target_pid": I, "leased": B, "created_usec": I}
DEVICE = {"device": S, "iommu_group": I, "group_devices": I, "pasid_bits": I, "model": S,
          "kinds": [S], "pci_id": S, "why_not": {S: S}}
SCHEMAS = {
    "error": {"error": S, "errno": I, "reason": S, "rule": (S, N)},
    "devices": [DEVICE],
    "list": [BINDING],
    "status": {"version": S, "backend": S, "svm": S, "devices": I,
               "policy": {"generation": I, "rules": I, "files": [S]}, "clients": I,
               "bindings": I, "uptime_usec": I},
    "show": {S: S},
    "policy": {"generation": I, "rules": [{"file": S, "line": I, "rule": S}]},
    "explain": {"allowed": B, "rules": [{"file": S, "line": I, "rule": S, "matched": B,
                                          "why": S}], "text": S},
    "reload": {"generation": I, "rules": I, "files": I, "warnings": I,
               "no_longer_granted": I, "revoked": I, "text": S},
    "unbind": {"released": I},
    "hold": {"id": I, "pasid": I, "device": S},
}
KINDS = {"task", "pgtable", "pasid-table", "device", "map"}


def check(value, schema, where):
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise ValueError(f"{where}: not an array")
        for i, v in enumerate(value):
            check(v, schema[0], f"{where}[{i}]")
        return
    if isinstance(schema, dict) and list(schema) == [S]:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: not an object")
        for k, v in value.items():
            check(v, schema[S], f"{where}.{k}")
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: not an object")
        if set(value) != set(schema):
            raise ValueError(f"{where}: keys {sorted(value)}, documented {sorted(schema)}")
        for k, s in schema.items():
            check(value[k], s, f"{where}.{k}")
        return
    types = schema if isinstance(schema, tuple) else (schema,)
    # bool is an int in Python: keep them apart
    if not any(type(value) is t for t in types):
        raise ValueError(f"{where}: {value!r} is not {'/'.join(t.__name__ for t in types)}")


def main():
    kind = sys.argv[1]
    lines = [l for l in sys.stdin.read().split("\n") if l]
    if not lines:
        print("no output", file=sys.stderr)
        return 1
    try:
        for n, line in enumerate(lines):
            value = json.loads(line)
            check(value, SCHEMAS[kind], f"{kind}:{n + 1}")
            if kind == "devices":
                for d in value:
                    if not set(d["kinds"]) <= KINDS:
                        raise ValueError(f"unknown kinds {d['kinds']}")
    except (ValueError, KeyError) as e:
        print(f"{e}\n{lines}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
