#!/usr/bin/python3
"""Interop: a Python client we did not write against the real trialogd.

Uses Debian's python3-grpcio, stubs generated from proto/trialog/v1 at build
time, and python3-nacl (libsodium) for Ed25519. Appends signed envelopes,
reads them back, and checks every receipt: leaf hash, the C2SP checkpoint's
Ed25519 signature under the verifier key trialogd prints, and the RFC 6962
inclusion proof (implemented here, independently of the C++ code).

Exit 0 = pass, 1 = fail, 77 = skipped (a Python module is missing).
"""
import argparse
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

try:
    import grpc
    import nacl.signing
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e} (install python3-grpcio python3-nacl)")
    sys.exit(77)

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print(f"FAIL: {what}", flush=True)


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2 verification algorithm."""
    if index >= size:
        raise ValueError("index >= size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def parse_verifier_key(vkey):
    name, key_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 verifier key"
    pub = raw[1:]
    want = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    assert want.hex() == key_id, "key id mismatch"
    return name, bytes.fromhex(key_id), nacl.signing.VerifyKey(pub)


def open_checkpoint(note, vkey):
    """C2SP signed note: text, blank line, signature lines '— name b64(id||sig)'."""
    name, key_id, verify_key = parse_verifier_key(vkey)
    text, sigs = note.split("\n\n", 1)
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        assert line.startswith("\u2014 "), "signature line must start with an em dash"
        signer, b64 = line[2:].split(" ")
        blob = base64.b64decode(b64)
        if signer == name and blob[:4] == key_id:
            verify_key.verify(text.encode(), blob[4:])  # raises on a bad signature
            ok = True
    assert ok, "no signature by the ledger key"
    origin, size, root = text.splitlines()[:3]
    assert origin == name, "origin is not the key name"
    return origin, int(size), base64.b64decode(root)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialogd", required=True)
    ap.add_argument("--stubs", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.stubs)
    from trialog.v1 import ledger_pb2, service_pb2, service_pb2_grpc  # noqa: E402

    tmp = tempfile.mkdtemp(prefix="trialog-interop-")
    env = dict(os.environ, TRIALOG_LEDGER_PASSPHRASE="interop passphrase")
    key_file = os.path.join(tmp, "ledger.key")
    subprocess.run([args.trialogd, "--new_ledger_key", f"--ledger_key_file={key_file}",
                    "--ledger_name=interop.test"], env=env, check=True)
    trial = "py-trial"
    vkey = subprocess.run([args.trialogd, "--print_verifier_key", f"--ledger_key_file={key_file}",
                           f"--trial_id={trial}"], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    ready = os.path.join(tmp, "ready")
    log = open(os.path.join(tmp, "trialogd.log"), "w")
    server = subprocess.Popen([args.trialogd, f"--data_dir={tmp}/data", "--listen=127.0.0.1:0",
                               "--plaintext", "--accept_new_trials",
                               f"--ledger_key_file={key_file}", f"--ready_file={ready}"],
                              env=env, stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while not os.path.exists(ready):
            assert server.poll() is None, open(log.name).read()
            assert time.time() < deadline, "trialogd not ready"
            time.sleep(0.02)
        port = dict(l.split("=") for l in open(ready).read().split())["grpc_port"]
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = service_pb2_grpc.LedgerServiceStub(channel)

        admin_key = nacl.signing.SigningKey.generate()
        inv_key = nacl.signing.SigningKey.generate()

        def actor(pid, role, site=""):
            return ledger_pb2.Actor(principal_id=pid, printed_name="Py " + pid, role=role,
                                    site_id=site)

        admin = actor("py-admin", 1)  # ROLE_SPONSOR_ADMIN
        inv = actor("py-inv", 2, "site-py")  # ROLE_INVESTIGATOR

        def sign(key, who, stream, fill):
            env_msg = ledger_pb2.Envelope(trial_id=trial, stream_id=stream,
                                          event_id=uuid.uuid4().bytes)
            env_msg.observed_at.unix_micros = int(time.time() * 1e6)
            env_msg.observed_at.utc_offset_minutes = 120
            env_msg.actor.CopyFrom(who)
            fill(env_msg.event)
            data = env_msg.SerializeToString()
            sig = key.sign(b"trialog/v1/envelope\n" + data).signature
            return ledger_pb2.SignedEnvelope(envelope=data, signature=sig)

        def genesis(ev):
            ev.genesis.ledger_origin = f"interop.test/{trial}"
            ev.genesis.trial_title = "interop"
            fa = ev.genesis.first_admin
            fa.principal_id, fa.printed_name, fa.role = admin.principal_id, admin.printed_name, 1
            fa.public_key = bytes(admin_key.verify_key)

        def register(ev):
            r = ev.principal_registered
            r.principal_id, r.printed_name, r.role, r.site_id = "py-inv", "Py py-inv", 2, "site-py"
            r.public_key = bytes(inv_key.verify_key)

        def note(text):
            def fill(ev):
                ev.trial.note.text = text
            return fill

        sent = []

        def verify_receipt(resp, sent_env):
            rc = resp.receipt
            check(rc.leaf_hash == leaf_hash(rc.entry) == resp.leaf_hash, "leaf hash")
            entry = ledger_pb2.Entry.FromString(rc.entry)
            check(entry.index == resp.index, "entry index")
            check(entry.signed_envelope.envelope == sent_env.envelope, "stored envelope bytes")
            check(entry.signed_envelope.signature == sent_env.signature, "stored signature")
            origin, size, root = open_checkpoint(rc.checkpoint.decode(), vkey)
            check(origin == f"interop.test/{trial}", "origin")
            check(rc.inclusion.tree_size == size and size > entry.index, "proof size")
            got = root_from_inclusion(rc.inclusion.index, size, rc.leaf_hash,
                                      list(rc.inclusion.hashes))
            check(got == root, f"inclusion proof of entry {entry.index} leads to signed root")

        g = sign(admin_key, admin, "principals", genesis)
        r = stub.Append(service_pb2.AppendRequest(trial_id=trial, signed_envelope=g), timeout=20)
        check(r.index == 0, "genesis at index 0")
        verify_receipt(r, g)
        sent.append(g)

        reg = sign(admin_key, admin, "principals", register)
        r = stub.Append(service_pb2.AppendRequest(trial_id=trial, signed_envelope=reg), timeout=20)
        verify_receipt(r, reg)
        sent.append(reg)

        batch = [sign(inv_key, inv, "subject/PY-1", note(f"note {i}")) for i in range(10)]
        br = stub.AppendBatch(service_pb2.AppendBatchRequest(trial_id=trial,
                                                             signed_envelopes=batch), timeout=20)
        check(len(br.results) == 10, "batch answered per envelope")
        for i, res in enumerate(br.results):
            check(res.code == 0, f"batch item {i}: {res.message}")
            check(res.response.stream_version == i + 1, "stream version")
            verify_receipt(res.response, batch[i])
        sent += batch

        # Idempotent retry: the same signed bytes give the same index.
        again = stub.Append(service_pb2.AppendRequest(trial_id=trial, signed_envelope=batch[3]),
                            timeout=20)
        check(again.duplicate and again.index == br.results[3].response.index, "idempotent")

        # Tampered signature: UNAUTHENTICATED, with a message.
        bad = ledger_pb2.SignedEnvelope()
        bad.CopyFrom(sign(inv_key, inv, "subject/PY-1", note("bad")))
        bad.signature = bytes([bad.signature[0] ^ 1]) + bad.signature[1:]
        try:
            stub.Append(service_pb2.AppendRequest(trial_id=trial, signed_envelope=bad), timeout=20)
            check(False, "tampered envelope accepted")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNAUTHENTICATED, f"tampered: {e.code()}")
            check(len(e.details()) > 0, "error message")

        # Read everything back.
        got = list(stub.Read(service_pb2.ReadRequest(trial_id=trial), timeout=20))
        check([x.index for x in got] == list(range(len(sent))), "read indexes 0..n-1")
        prev = b"\x00" * 32
        for x, s in zip(got, sent):
            e = ledger_pb2.Entry.FromString(x.entry)
            check(e.signed_envelope.envelope == s.envelope, f"read back entry {x.index}")
            check(e.prev_leaf_hash == prev, f"hash chain at {x.index}")
            prev = leaf_hash(x.entry)
        # The latest checkpoint's root equals the root of the leaves read.
        cp = stub.GetCheckpoint(service_pb2.GetCheckpointRequest(trial_id=trial), timeout=20)
        _, size, root = open_checkpoint(cp.checkpoint.decode(), vkey)
        leaves = [leaf_hash(x.entry) for x in got]

        def mth(hs):
            if len(hs) == 1:
                return hs[0]
            k = 1
            while k * 2 < len(hs):
                k *= 2
            return node_hash(mth(hs[:k]), mth(hs[k:]))
        check(size == len(leaves) and mth(leaves) == root, "checkpoint root over read entries")

        # Subscribe sees the same entries in order.
        sub = stub.Subscribe(service_pb2.SubscribeRequest(trial_id=trial), timeout=20)
        seen = []
        for x in sub:
            seen.append(x.index)
            if len(seen) == len(sent):
                sub.cancel()
                break
        check(seen == list(range(len(sent))), "subscribe")

        channel.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            code = -1
        check(code == 0, f"trialogd exit code {code}")
        log.close()
        if FAILED == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp} for inspection")
    print(f"{PASSED} passed, {FAILED} failed")
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
