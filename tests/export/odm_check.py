#!/usr/bin/python3
"""Independent checks of a trialog ODM 1.3.2 export (tests/export/odm_test.cc).

Written against docs/EXPORT.md and the ODM 1.3.2 specification, not against
trialog's code: it reads the ledger entries from entries.bin with its own
protobuf wire-format decoder and hashlib, then checks that the ODM file

  * validates against the XSD (with Debian's python3-xmlschema, if --xsd),
  * is Transactional and Archival, references only defined users,
    locations, signature definitions, forms, item groups, items and codes,
  * gives every ItemData and every transaction an AuditRecord,
  * names in SourceID an entry index whose SHA-256(0x00 || entry) is the
    leaf hash it states, and covers every entry of the ledger,
  * dates every AuditRecord and Signature with that entry's recorded_at,
    written in the site's UTC offset,
  * has the corrections, voids, signatures and subjects EXPECTED lists
    (computed by the C++ test from the envelopes).

Usage: odm_check.py ODM.xml ENTRIES.bin EXPECTED.json [--xsd ODM1-3-2.xsd]
Exit status 0 when everything holds; 1 with one line per problem otherwise.
"""

import datetime
import hashlib
import json
import re
import struct
import sys
import xml.etree.ElementTree as ET

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
Q = "{http://www.cdisc.org/ns/odm/v1.3}"

problems = []


def problem(msg):
    problems.append(msg)


def read_entries(path):
    data = open(path, "rb").read()
    magic = b"TRIALOG-ENTRIES-V1\n"
    assert data.startswith(magic), "entries.bin magic"
    pos, out = len(magic), []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


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
    """Protobuf wire format: {field number: [values]} (varints and bytes)."""
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


def entry_facts(entry):
    """(recorded_at micros, site offset minutes, stream id) of an entry."""
    e = fields(entry)
    recorded = e.get(3, [0])[0]
    signed = fields(e[5][0])
    env = fields(signed[1][0])
    stream = env[2][0].decode()
    observed = fields(env.get(5, [b""])[0])
    z = observed.get(2, [0])[0]
    offset = (z >> 1) ^ -(z & 1)  # sint32 zigzag
    return recorded, offset, stream


def parse_dt(text):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError(text)
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    micros = int(((m.group(2) or ".0")[1:] + "000000")[:6])
    if m.group(3) == "Z":
        offset = 0
    else:
        sign = 1 if m.group(3)[0] == "+" else -1
        offset = sign * (int(m.group(3)[1:3]) * 60 + int(m.group(3)[4:6]))
    epoch = datetime.datetime(1970, 1, 1)
    local_micros = (base - epoch) // datetime.timedelta(microseconds=1) + micros
    return local_micros - offset * 60_000_000, offset


def main():
    args = sys.argv[1:]
    xsd = None
    if "--xsd" in args:
        i = args.index("--xsd")
        xsd = args[i + 1]
        del args[i:i + 2]
    odm_path, entries_path, expected_path = args
    expected = json.load(open(expected_path))
    entries = read_entries(entries_path)
    facts = [entry_facts(e) for e in entries]
    leaf = [hashlib.sha256(b"\x00" + e).hexdigest() for e in entries]

    if xsd:
        import xmlschema
        schema = xmlschema.XMLSchema(xsd)
        errors = list(schema.iter_errors(odm_path))
        for err in errors[:10]:
            problem("xmlschema: %s" % str(err).splitlines()[0])
        if errors:
            problem("xmlschema: %d validation errors" % len(errors))

    root = ET.parse(odm_path).getroot()
    if root.tag != Q + "ODM":
        problem("root is not ODM")
    for attr, want in (("FileType", "Transactional"), ("Archival", "Yes"), ("ODMVersion", "1.3.2")):
        if root.get(attr) != want:
            problem("ODM/@%s is %r, want %r" % (attr, root.get(attr), want))
    created, _ = parse_dt(root.get("CreationDateTime"))

    def oids(path, attr="OID"):
        return {e.get(attr) for e in root.iterfind(path, NS)}

    users = oids(".//odm:AdminData/odm:User")
    locations = oids(".//odm:AdminData/odm:Location")
    sigdefs = oids(".//odm:AdminData/odm:SignatureDef")
    mdv = root.find(".//odm:MetaDataVersion", NS)
    forms = {f.get("OID"): {r.get("ItemGroupOID") for r in f.iterfind("odm:ItemGroupRef", NS)}
             for f in mdv.iterfind("odm:FormDef", NS)}
    groups = {g.get("OID"): {r.get("ItemOID") for r in g.iterfind("odm:ItemRef", NS)}
              for g in mdv.iterfind("odm:ItemGroupDef", NS)}
    items = {i.get("OID"): i for i in mdv.iterfind("odm:ItemDef", NS)}
    codelists = {c.get("OID"): {x.get("CodedValue") for x in c}
                 for c in mdv.iterfind("odm:CodeList", NS)}
    event_forms = {r.get("FormOID") for r in mdv.iterfind("odm:StudyEventDef/odm:FormRef", NS)}
    if set(forms) != event_forms:
        problem("FormDefs %s differ from the StudyEventDef's FormRefs" % (set(forms) ^ event_forms))
    for user in root.iterfind(".//odm:AdminData/odm:User", NS):
        for ref in user.iterfind("odm:LocationRef", NS):
            if ref.get("LocationOID") not in locations:
                problem("User %s: unknown location %s" % (user.get("OID"), ref.get("LocationOID")))
    for oid, item in items.items():
        ref = item.find("odm:CodeListRef", NS)
        if ref is not None and ref.get("CodeListOID") not in codelists:
            problem("ItemDef %s: unknown code list" % oid)

    covered = set()
    stamps = {}  # entry index -> set of DateTimeStamp texts

    def check_refs(el, where):
        u = el.find("odm:UserRef", NS)
        loc = el.find("odm:LocationRef", NS)
        if u is None or u.get("UserOID") not in users:
            problem("%s: UserRef missing or unknown" % where)
        if loc is None or loc.get("LocationOID") not in locations:
            problem("%s: LocationRef missing or unknown (%s)" % (where, loc is not None and loc.get("LocationOID")))
        ts = el.find("odm:DateTimeStamp", NS)
        if ts is None:
            problem("%s: no DateTimeStamp" % where)
            return None
        utc, offset = parse_dt(ts.text)
        if utc > created:
            problem("%s: DateTimeStamp %s after CreationDateTime" % (where, ts.text))
        return ts.text, utc, offset

    def check_entry_time(index, stamp, where):
        recorded, offset, _ = facts[index]
        _, utc, off = stamp
        if utc != recorded or off != offset:
            problem("%s: DateTimeStamp %s is not entry %d's recorded_at %d at offset %d"
                    % (where, stamp[0], index, recorded, offset))

    for ar in root.iter(Q + "AuditRecord"):
        where = "AuditRecord %s" % (ar.get("ID") or "")
        stamp = check_refs(ar, where)
        if ar.get("EditPoint") not in ("Monitoring", "DataManagement", "DBAudit"):
            problem("%s: EditPoint %r" % (where, ar.get("EditPoint")))
        src = ar.find("odm:SourceID", NS)
        m = re.fullmatch(r"trialog:(.+);entry=(\d+);leaf=([0-9a-f]{64})", src.text if src is not None else "")
        if not m:
            problem("%s: SourceID %r" % (where, src is not None and src.text))
            continue
        index = int(m.group(2))
        if index >= len(entries) or leaf[index] != m.group(3):
            problem("%s: SourceID names entry %d with leaf %s, SHA-256(0x00||entry) differs"
                    % (where, index, m.group(3)))
            continue
        covered.add(index)
        if stamp:
            check_entry_time(index, stamp, where)

    signatures = 0
    for sig in root.iter(Q + "Signature"):
        signatures += 1
        m = re.fullmatch(r"SG\.(\d+)\.(\d+)", sig.get("ID") or "")
        where = "Signature %s" % sig.get("ID")
        if not m:
            problem("%s: bad ID" % where)
            continue
        stamp = check_refs(sig, where)
        ref = sig.find("odm:SignatureRef", NS)
        if ref is None or ref.get("SignatureOID") not in sigdefs:
            problem("%s: SignatureRef missing or unknown" % where)
        index = int(m.group(1))
        covered.add(index)
        if stamp:
            check_entry_time(index, stamp, where)

    # Clinical data structure and transactions.
    inserts = updates = removes = 0
    update_values = {}
    subjects = []
    for sd in root.iterfind(".//odm:ClinicalData/odm:SubjectData", NS):
        subjects.append(sd.get("SubjectKey"))
        if sd.get("TransactionType") and sd.find("odm:AuditRecord", NS) is None:
            problem("SubjectData %s: TransactionType without AuditRecord" % sd.get("SubjectKey"))
        for fd in sd.iter(Q + "FormData"):
            form = fd.get("FormOID")
            if form not in forms:
                problem("FormData %s: no FormDef" % form)
                continue
            if fd.get("TransactionType") == "Remove":
                removes += 1
                if fd.find("odm:AuditRecord", NS) is None:
                    problem("FormData %s Remove without AuditRecord" % form)
            for ig in fd.iterfind("odm:ItemGroupData", NS):
                group = ig.get("ItemGroupOID")
                if group not in forms[form]:
                    problem("%s: group %s not in its FormDef" % (form, group))
                    continue
                for it in ig.iterfind("odm:ItemData", NS):
                    oid = it.get("ItemOID")
                    if oid not in groups.get(group, ()):
                        problem("%s/%s: item %s not in the ItemGroupDef" % (form, group, oid))
                    if oid not in items:
                        problem("ItemData %s: no ItemDef" % oid)
                        continue
                    ar = it.find("odm:AuditRecord", NS)
                    if ar is None:
                        problem("ItemData %s: no AuditRecord" % oid)
                        continue
                    ref = items[oid].find("odm:CodeListRef", NS)
                    if ref is not None and it.get("Value") not in codelists.get(ref.get("CodeListOID"), ()):
                        problem("ItemData %s: value %r not in its code list" % (oid, it.get("Value")))
                    tt = it.get("TransactionType")
                    if tt == "Insert":
                        inserts += 1
                    elif tt == "Update":
                        updates += 1
                        src = ar.find("odm:SourceID", NS).text
                        index = int(re.search(r"entry=(\d+)", src).group(1))
                        update_values[index] = (oid, it.get("Value"), ar.findtext("odm:ReasonForChange", "", NS))
                    else:
                        problem("ItemData %s: TransactionType %r" % (oid, tt))

    if sorted(subjects) != sorted(expected["subjects"]):
        problem("subjects %s, expected %s" % (sorted(subjects), sorted(expected["subjects"])))
    if len(set(subjects)) != len(subjects):
        problem("a SubjectKey appears twice")
    if removes != len(expected["voids"]):
        problem("%d Remove transactions, expected %d" % (removes, len(expected["voids"])))
    if signatures != expected["signatures"]:
        problem("%d Signatures, expected %d" % (signatures, expected["signatures"]))
    want_updates = {c["index"]: c for c in expected["corrections"]}
    if set(update_values) != set(want_updates):
        problem("Update transactions at entries %s, expected %s" % (sorted(update_values), sorted(want_updates)))
    for index, (oid, value, reason) in update_values.items():
        c = want_updates.get(index)
        if not c:
            continue
        if value != c["new_value"]:
            problem("entry %d: Update value %r, expected %r" % (index, value, c["new_value"]))
        if not oid.endswith("." + c["field"]):
            problem("entry %d: Update of %s, expected field %s" % (index, oid, c["field"]))
        if c["reason"] not in reason:
            problem("entry %d: ReasonForChange %r lacks %r" % (index, reason, c["reason"]))
    if inserts < expected["min_inserts"]:
        problem("%d Insert ItemData, expected at least %d" % (inserts, expected["min_inserts"]))
    want_covered = set(expected.get("covered", range(len(entries))))
    if covered != want_covered:
        missing = sorted(want_covered - covered)[:10]
        problem("entries not in the ODM: %s (%d of %d)" % (missing, len(want_covered - covered), len(want_covered)))

    for p in problems[:50]:
        print(p)
    if problems:
        print("%d problems" % len(problems))
        return 1
    print("ok: %d subjects, %d inserts, %d updates, %d removes, %d signatures, %d entries covered"
          % (len(subjects), inserts, updates, removes, signatures, len(covered)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
