#!/usr/bin/env python3
"""Seeds from ../shared/vectors for the note and proof fuzzers.

Usage: make_seeds.py VECTORS_DIR OUT_DIR
  OUT_DIR/note/   every note file and every note or checkpoint string in the
                  C2SP vector sets (note-vectors.json, checkpoint-body-parse-vectors.json)
  OUT_DIR/proof/  the transparency-dev inclusion and consistency test cases,
                  in proof_fuzzer.cc's layout (u64 a, u64 b, 32-byte hash,
                  32-byte root, proof hashes)
"""
import base64
import hashlib
import json
import os
import struct
import sys


def write(out_dir, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def b64(s):
    try:
        return base64.b64decode(s or "", validate=True)
    except Exception:
        return None


def main():
    vectors, out = sys.argv[1], sys.argv[2]
    note_dir = os.path.join(out, "note")
    proof_dir = os.path.join(out, "proof")
    os.makedirs(note_dir, exist_ok=True)
    os.makedirs(proof_dir, exist_ok=True)

    notes = 0
    files = os.path.join(vectors, "note", "files")
    for name in sorted(os.listdir(files)):
        with open(os.path.join(files, name), "rb") as f:
            write(note_dir, f.read())
            notes += 1
    for name in ("note-vectors.json", "checkpoint-body-parse-vectors.json"):
        with open(os.path.join(vectors, "note", name)) as f:
            for s in strings_in(json.load(f)):
                if "\n" in s or "+" in s:  # note texts, notes and keys
                    write(note_dir, s)
                    notes += 1

    proofs = 0
    base = os.path.join(vectors, "merkle", "transparency-dev-merkle-testdata")
    for kind in ("inclusion", "consistency"):
        for root, _, names in os.walk(os.path.join(base, kind)):
            for name in sorted(names):
                with open(os.path.join(root, name)) as f:
                    case = json.load(f)
                if kind == "inclusion":
                    a, b = case.get("leafIdx", 0), case.get("treeSize", 0)
                    first, second = b64(case.get("leafHash")), b64(case.get("root"))
                else:
                    a, b = case.get("size1", 0), case.get("size2", 0)
                    first, second = b64(case.get("root1")), b64(case.get("root2"))
                hashes = [b64(h) for h in (case.get("proof") or [])]
                if first is None or second is None or any(h is None for h in hashes):
                    continue
                if len(first) != 32 or len(second) != 32 or not (0 <= a < 2**64 and 0 <= b < 2**64):
                    continue
                write(proof_dir, struct.pack(">QQ", a, b) + first + second + b"".join(hashes))
                proofs += 1
    print(f"make_seeds: {notes} note seeds, {proofs} proof seeds from {vectors}")


if __name__ == "__main__":
    main()
