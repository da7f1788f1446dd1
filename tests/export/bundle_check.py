#!/usr/bin/python3
"""An independent verifier of trialog export bundles, written from
docs/EXPORT.md and docs/FORMAT.md only (hashlib, PyNaCl, a hand-written
protobuf wire decoder; nothing of trialog's code), to show the documents
are enough for an outsider.

Checks, for a ledger bundle or a subject disclosure:
  * manifest.note is a C2SP signed note whose Ed25519 signature verifies
    under exporter.vkey (key id = SHA-256(name || 0x0A || 0x01 || pub)[:4]);
  * every file the manifest lists has its size and SHA-256, and no other
    file is present;
  * checkpoint.note verifies under the ledger verifier key given on the
    command line, and ledger.vkey holds that key;
  * entries.bin parses (magic, 4-byte big-endian lengths);
  * ledger bundle: entry i has index i, prev_leaf_hash = leaf hash of entry
    i-1 (32 zero bytes for entry 0), and the RFC 6962 root of all leaf
    hashes SHA-256(0x00 || entry) is the checkpoint's root;
    disclosure: every entry's proofs.bin audit path leads to that root;
  * every envelope signature (Ed25519 over "trialog/v1/envelope\\n" ||
    envelope) verifies under the key its principal was registered with
    (genesis first_admin, principal_registered, principal_key_rotated);
  * events.jsonl has one line per entry with its index, leaf hash and
    event id.

Usage: bundle_check.py DIR LEDGER_VKEY
Exit status 0 and "ok: ..." when everything holds; 1 and the problems otherwise.
"""

import base64
import hashlib
import json
import os
import struct
import sys

import nacl.exceptions
import nacl.signing

problems = []


def fail(msg):
    problems.append(msg)


def b64(s):
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        raise ValueError("non-canonical base64")
    return raw


def parse_vkey(text):
    name, hexid, key = text.split("+", 2)
    raw = b64(key)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 verifier key")
    kid = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    if kid.hex() != hexid:
        raise ValueError("key id mismatch")
    return name, kid, raw[1:]


def open_note(note, vkey):
    """Returns the text of `note` if a signature by vkey verifies."""
    name, kid, pub = vkey
    sep = note.rfind("\n\n")
    if sep < 0 or not note.endswith("\n"):
        raise ValueError("not a signed note")
    text, sigs = note[:sep + 1], note[sep + 2:]
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line")
        sig_name, sig = line[2:].split(" ")
        raw = b64(sig)
        if sig_name == name and raw[:4] == kid:
            try:
                nacl.signing.VerifyKey(pub).verify(text.encode(), raw[4:])
                return text
            except nacl.exceptions.BadSignatureError:
                raise ValueError("signature by %s does not verify" % name)
    raise ValueError("no signature by %s" % name)


def varint(b, pos):
    shift = value = 0
    while True:
        c = b[pos]
        pos += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return value, pos


def fields(b):
    out, pos = {}, 0
    while pos < len(b):
        key, pos = varint(b, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = varint(b, pos)
        elif wt == 2:
            n, pos = varint(b, pos)
            v, pos = b[pos:pos + n], pos + n
        elif wt == 1:
            v, pos = b[pos:pos + 8], pos + 8
        elif wt == 5:
            v, pos = b[pos:pos + 4], pos + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def one(f, n, default=None):
    return f[n][0] if n in f else default


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def root_from_path(index, size, leaf, path):
    """RFC 9162 2.1.3.2 inclusion verification."""
    if index >= size:
        raise ValueError("index >= size")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def main():
    d, ledger_vkey_text = sys.argv[1], sys.argv[2]
    exporter_vkey_text = open(os.path.join(d, "exporter.vkey")).read()
    if not exporter_vkey_text.endswith("\n"):
        fail("exporter.vkey lacks its newline")
    try:
        manifest = open_note(open(os.path.join(d, "manifest.note"), encoding="utf-8").read(),
                             parse_vkey(exporter_vkey_text.strip("\n")))
    except Exception as e:  # noqa: BLE001 - any failure is a finding
        fail("manifest.note: %s" % e)
        return report()
    lines = manifest.rstrip("\n").split("\n")
    if lines[0] != "trialog-export v1":
        fail("manifest: bad first line")
    m = {}
    files = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key == "file":
            name, size, sha = value.split(" ")
            files[name] = (int(size), sha)
        else:
            m[key] = value
    present = set(os.listdir(d)) - {"manifest.note", "exporter.vkey"}
    if present != set(files):
        fail("files %s differ from the manifest's %s" % (sorted(present), sorted(files)))
    for name, (size, sha) in files.items():
        data = open(os.path.join(d, name), "rb").read()
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            fail("%s: size or SHA-256 differs from the manifest" % name)
    if problems:
        return report()

    if open(os.path.join(d, "ledger.vkey")).read() != ledger_vkey_text + "\n":
        fail("ledger.vkey is not the given ledger key")
    ledger_key = parse_vkey(ledger_vkey_text)
    try:
        cp = open_note(open(os.path.join(d, "checkpoint.note"), encoding="utf-8").read(), ledger_key)
    except Exception as e:  # noqa: BLE001
        fail("checkpoint.note: %s" % e)
        return report()
    origin, size, root = cp.rstrip("\n").split("\n")[:3]
    size, root = int(size), b64(root)
    if origin != ledger_key[0] or m["origin"] != origin or int(m["checkpoint-size"]) != size \
            or b64(m["checkpoint-root"]) != root:
        fail("manifest and checkpoint disagree on origin, size or root")

    data = open(os.path.join(d, "entries.bin"), "rb").read()
    magic = b"TRIALOG-ENTRIES-V1\n"
    if not data.startswith(magic):
        fail("entries.bin: bad magic")
        return report()
    entries, pos = [], len(magic)
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        if n == 0 or pos + 4 + n > len(data):
            fail("entries.bin: bad record at byte %d" % pos)
            return report()
        entries.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    leaves = [leaf_hash(e) for e in entries]
    parsed = [fields(e) for e in entries]
    indexes = [one(f, 1, 0) for f in parsed]
    if len(entries) != int(m["entries"]) or indexes[0] != int(m["first-index"]) \
            or indexes[-1] != int(m["last-index"]) or leaves[-1].hex() != m["head"]:
        fail("manifest's entries, first/last index or head differ from entries.bin")

    if m["kind"] == "ledger-bundle":
        if indexes != list(range(size)):
            fail("a ledger bundle must hold entries 0..%d" % (size - 1))
        for i, f in enumerate(parsed):
            want = leaves[i - 1] if i else bytes(32)
            if one(f, 2) != want:
                fail("entry %d: prev_leaf_hash is not the leaf hash of entry %d" % (i, i - 1))
                break
        if mth(leaves) != root:
            fail("RFC 6962 root of entries.bin %s differs from the checkpoint's %s"
                 % (base64.b64encode(mth(leaves)).decode(), base64.b64encode(root).decode()))
    elif m["kind"] == "subject-disclosure":
        pdata = open(os.path.join(d, "proofs.bin"), "rb").read()
        if not pdata.startswith(b"TRIALOG-PROOFS-V1\n"):
            fail("proofs.bin: bad magic")
            return report()
        pos, proofs = 18, []
        while pos < len(pdata):
            index, tree, count = struct.unpack(">QQB", pdata[pos:pos + 17])
            pos += 17
            proofs.append((index, tree, [pdata[pos + 32 * k:pos + 32 * (k + 1)] for k in range(count)]))
            pos += 32 * count
        if len(proofs) != len(entries):
            fail("proofs.bin: %d proofs for %d entries" % (len(proofs), len(entries)))
        for (index, tree, path), lf, idx in zip(proofs, leaves, indexes):
            try:
                ok = index == idx and tree == size and root_from_path(index, size, lf, path) == root
            except ValueError:
                ok = False
            if not ok:
                fail("entry %d: inclusion proof does not lead to the checkpoint's root" % idx)
        for f in parsed:
            stream = fields(one(fields(one(f, 5)), 1)).get(2, [b""])[0].decode()
            if stream.startswith("subject/") and stream != "subject/" + m["subject"]:
                fail("a disclosure of %s holds an entry of %s" % (m["subject"], stream))
    else:
        fail("unknown kind %s" % m.get("kind"))

    # Envelope signatures under the registered keys.
    keys = {}
    signatures = 0
    for f, idx in zip(parsed, indexes):
        signed = fields(one(f, 5))
        env_bytes, sig = one(signed, 1), one(signed, 2)
        env = fields(env_bytes)
        actor = fields(one(env, 6, b""))
        principal = one(actor, 1, b"").decode()
        event = fields(one(env, 8, b""))
        if 1 in event:  # genesis: registers and is signed by the first admin
            admin = fields(one(fields(event[1][0]), 3))
            keys[one(admin, 1).decode()] = one(admin, 5)
        key = keys.get(principal)
        if key is None:
            fail("entry %d: signer %s has no registered key" % (idx, principal))
            continue
        try:
            nacl.signing.VerifyKey(key).verify(b"trialog/v1/envelope\n" + env_bytes, sig)
            signatures += 1
        except nacl.exceptions.BadSignatureError:
            fail("entry %d: envelope signature by %s does not verify" % (idx, principal))
        if 2 in event:
            reg = fields(event[2][0])
            keys[one(reg, 1).decode()] = one(reg, 5)
        if 4 in event:
            rot = fields(event[4][0])
            keys[one(rot, 1).decode()] = one(rot, 2)

    lines = open(os.path.join(d, "events.jsonl"), encoding="utf-8").read().splitlines()
    if len(lines) != len(entries):
        fail("events.jsonl: %d lines for %d entries" % (len(lines), len(entries)))
    for line, lf, idx, f in zip(lines, leaves, indexes, parsed):
        j = json.loads(line)
        env = fields(one(fields(one(f, 5)), 1))
        if j["index"] != idx or j["leaf_hash"] != lf.hex() or \
                base64.b64decode(j["envelope"]["event_id"]) != one(env, 3):
            fail("events.jsonl: line of entry %d does not describe it" % idx)
    if not problems:
        print("ok: %s of %d entries (indexes %d..%d), %d envelope signatures, root %s"
              % (m["kind"], len(entries), indexes[0], indexes[-1], signatures, base64.b64encode(root).decode()))
    return report()


def report():
    for p in problems[:30]:
        print(p)
    if problems:
        print("%d problems" % len(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
