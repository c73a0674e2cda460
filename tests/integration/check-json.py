#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Checks svmctl --json output against the schemas svmctl(1) documents (JSON OUTPUT).
# Usage: check-json.py KIND < output: every line is one JSON value (--json, --json=short);
#        check-json.py KIND [--short FILE] [--pretty FILE]: FILE holds --json=short's or
#        --json=pretty's output (indented documents, one after another); with both, the two
#        must be the same documents (but for what changes from one run to the next).
# KIND is a command name or "error". Exit 0 when all is as documented, else 1 with why.
import argparse
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
    "invalidate": {"id": I, "invalidated": I},
    "monitor": {"time": S, "event": S, "op": S, "device": (S, N), "pasid": I, "binding": (I, N),
                "uid": I, "pid": I, "generation": I, "error": I, "ended": (S, N), "reason": S},
    "hold": {"id": I, "pasid": I, "device": S},
    "ended": {"id": I, "ended": S, "reason": S, "by_uid": (I, N), "generation": (I, N),
              "exit_status": (I, N), "signal": (S, N)},
}
# What --hold and -- CMD print: the binding, then how it ended (CMD's output is not here:
# the tests send it elsewhere).
SEQUENCES = {"held": ["hold", "ended"]}
ENDED = {"unbind", "revoked", "process-exited", "lease-closed", "shutdown", "session-ended",
         "unmap", "undelivered", "disconnected", "exited", "killed", "released"}
KINDS = {"task", "pgtable", "pasid-table", "device", "map"}
# What differs between two runs of the same command.
VOLATILE = {"status": {"uptime_usec"}, "held": {"id"}, "monitor": {"time"}}


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


def short_documents(text):
    """--json=short: one document a line, nothing else."""
    lines = [l for l in text.split("\n") if l]
    if not text.endswith("\n") and text:
        raise ValueError("the last document has no newline")
    return [json.loads(l) for l in lines]


def pretty_documents(text):
    """--json=pretty: documents one after another, each laid out as json.dumps(indent=2)
    lays it out (a member or element a line, two spaces a level) and ended by a newline."""
    docs, pos, dec = [], 0, json.JSONDecoder()
    while pos < len(text):
        value, end = dec.raw_decode(text, pos)
        got = text[pos:end].split("\n")
        want = json.dumps(value, indent=2, ensure_ascii=False).split("\n")
        # svmctl writes bytes that are not UTF-8 as \u00XX, so compare the layout, not bytes
        indent = [len(l) - len(l.lstrip(" ")) for l in got]
        if len(got) != len(want) or indent != [len(l) - len(l.lstrip(" ")) for l in want]:
            raise ValueError(f"not laid out one member a line, two spaces a level:\n"
                             f"{text[pos:end]}")
        if text[end:end + 1] != "\n":
            raise ValueError(f"document {len(docs) + 1} is not ended by a newline")
        docs.append(value)
        pos = end + 1
    return docs


def check_all(kind, docs, form):
    if not docs:
        raise ValueError(f"{form}: no output")
    if kind in SEQUENCES:
        if len(docs) != len(SEQUENCES[kind]):
            raise ValueError(f"{form}: {len(docs)} documents, not {len(SEQUENCES[kind])}")
        for n, (value, k) in enumerate(zip(docs, SEQUENCES[kind])):
            check(value, SCHEMAS[k], f"{form} {k}:{n + 1}")
        ended = docs[-1]
        if ended["ended"] not in ENDED:
            raise ValueError(f"unknown ended {ended['ended']!r}")
        if ended["id"] != docs[0]["id"]:
            raise ValueError("the end is not the binding's")
        if (ended["by_uid"] is None) != (ended["ended"] != "unbind"):
            raise ValueError("by_uid is for unbind alone")
        if (ended["generation"] is None) != (ended["ended"] != "revoked"):
            raise ValueError("generation is for revoked alone")
        if ended["exit_status"] is not None and ended["signal"] is not None:
            raise ValueError("CMD both exited and was killed")
        return
    for n, value in enumerate(docs):
        check(value, SCHEMAS[kind], f"{form} {kind}:{n + 1}")
        if kind == "monitor" and value["event"] not in {"grant", "deny", "fail", "release",
                                                         "reload"}:
            raise ValueError(f"unknown event {value['event']!r}")
        if kind == "devices":
            for d in value:
                if not set(d["kinds"]) <= KINDS:
                    raise ValueError(f"unknown kinds {d['kinds']}")


def steady(value, kind):
    if isinstance(value, dict):
        return {k: steady(v, kind) for k, v in value.items()
                if k not in VOLATILE.get(kind, ())}
    if isinstance(value, list):
        return [steady(v, kind) for v in value]
    return value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=sorted(set(SCHEMAS) | set(SEQUENCES)))
    ap.add_argument("--short")
    ap.add_argument("--pretty")
    args = ap.parse_args()
    texts = {}
    try:
        if not args.short and not args.pretty:
            texts["short"] = sys.stdin.read()
            check_all(args.kind, short_documents(texts["short"]), "short")
            return 0
        docs = {}
        for form, path, parse in (("short", args.short, short_documents),
                                  ("pretty", args.pretty, pretty_documents)):
            if path:
                with open(path, encoding="utf-8") as f:
                    texts[form] = f.read()
                docs[form] = parse(texts[form])
                check_all(args.kind, docs[form], form)
        if len(docs) == 2 and steady(docs["short"], args.kind) != steady(docs["pretty"],
                                                                        args.kind):
            raise ValueError("--json=short and --json=pretty are not the same documents")
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        print(f"{e}\n{texts}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
