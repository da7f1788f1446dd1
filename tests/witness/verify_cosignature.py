#!/usr/bin/env python3
"""Independent check of tlog-cosignature v1.0.1 cosignatures with PyNaCl.

Written from the spec text alone (not from trialog's C++):
  key ID  = SHA-256(<name> || "\\n" || 0x04 || 32-byte public key)[:4]
  line    = "\\u2014 " <name> " " base64(key ID || u64 timestamp (big-endian) || Ed25519 sig) "\\n"
  message = "cosignature/v1\\n" "time " <decimal timestamp> "\\n" || checkpoint text
The checkpoint text is the note up to and including the newline before the
last blank line.

usage: verify_cosignature.py NOTE_FILE NAME PUBKEY_HEX [NAME PUBKEY_HEX ...]
Prints "NAME TIMESTAMP" for every valid cosignature by a listed witness.
Exit 0 if every listed witness has a valid cosignature, 1 if one has none,
2 if a line by a listed witness does not verify (or the note is malformed).
"""
import base64
import hashlib
import sys

import nacl.exceptions
import nacl.signing


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    data = open(argv[1], "rb").read()
    cut = data.rfind(b"\n\n")
    if cut < 0:
        print("no blank line", file=sys.stderr)
        return 2
    text, sigs = data[: cut + 1], data[cut + 2 :]
    witnesses = {}
    for i in range(2, len(argv), 2):
        name, pub = argv[i], bytes.fromhex(argv[i + 1])
        kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
        witnesses[(name, kid)] = pub
    found = set()
    for line in sigs.decode("utf-8").split("\n")[:-1]:
        if not line.startswith("\u2014 "):
            print("bad signature line: %r" % line, file=sys.stderr)
            return 2
        name, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64, validate=True)
        pub = witnesses.get((name, raw[:4]))
        if pub is None:
            continue  # another signer (the ledger, or an unknown witness)
        if len(raw) != 4 + 8 + 64:
            print("%s: cosignature is %d bytes, not 76" % (name, len(raw)), file=sys.stderr)
            return 2
        ts = int.from_bytes(raw[4:12], "big")
        msg = b"cosignature/v1\ntime %d\n" % ts + text
        try:
            nacl.signing.VerifyKey(pub).verify(msg, raw[12:])
        except nacl.exceptions.BadSignatureError:
            print("%s: cosignature does not verify" % name, file=sys.stderr)
            return 2
        print("%s %d" % (name, ts))
        found.add(name)
    missing = [n for (n, _) in witnesses if n not in found]
    if missing:
        print("no cosignature by: %s" % ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
