#!/usr/bin/env python3
"""Sorts ThreadSanitizer report files (TSAN_OPTIONS log_path=) into trialog's
and third-party ones, for scripts/tsan.sh --server.

Debian's gRPC (C core and C++ library), protobuf and abseil-status are not
instrumented: their own threads hand calls, buffers and arenas to each other
through atomics TSan cannot see, so a trialogd under TSan reports hundreds of
races inside them. A report is trialog's (and fails the run) when either
racing access is made by trialog code: the access's top frame is a trialog::
function, or the top frame is an intercepted call (memcpy, free, ...) made
directly by one. Generated protobuf code (trialog::v1::) constructing or
parsing a request in memory gRPC allocated on its own thread counts as
third-party (gRPC's call arena hand-over). Every report that is not a data
race (lock-order inversion, mutex misuse, ...) is trialog's to look at.

Usage: tsan_triage.py REPORT_FILE...   (exit 1 when any report is trialog's)
"""
import collections
import re
import sys


def accesses(report):
    """(header, frames) of each access section of one report."""
    out, cur = [], None
    for line in report.splitlines()[1:]:
        if re.match(r"  (Read|Write|Previous|Atomic)", line):
            cur = []
            out.append((line.strip(), cur))
        elif re.match(r"  \S", line) or line.startswith("SUMMARY"):
            cur = None
        elif cur is not None and re.match(r"\s+#\d+ ", line):
            cur.append(line.strip())
    return out


def doer(frames):
    """The frame that made the access: the top one, or the caller of an
    interceptor (a top frame without a C++ scope, e.g. memcpy, free); through
    standard-library and abseil templates compiled into our binaries (not
    those in a shared library) up to the code that used them."""
    i = 0
    if "::" not in frames[0].split()[1] and len(frames) > 1:
        i = 1
    while i + 1 < len(frames) and ".so" not in frames[i] and re.match(
            r"#\d+ (?:void |bool )?(std::|__gnu_cxx::|absl::)", frames[i]):
        i += 1
    return frames[i]


def origin(frame):
    """The library a frame belongs to: its module, or for code compiled
    into our binaries from a library's headers, its namespace."""
    m = re.search(r"\((\S+?)\+0x", frame)
    mod = m.group(1) if m else "?"
    if ".so" in mod:
        return mod
    name = re.match(r"#\d+ (?:void |bool )?([A-Za-z_][\w:]*)", frame)
    scope = name.group(1).split("::")[0] if name else "?"
    return f"{scope} (inlined in {mod})"


def main(paths):
    ours, third, total = [], collections.Counter(), 0
    for path in paths:
        text = open(path, errors="replace").read()
        for report in text.split("==================\nWARNING: ThreadSanitizer: ")[1:]:
            total += 1
            kind = report.splitlines()[0].split(" (pid")[0]
            acc = [(h, f) for h, f in accesses(report) if f]
            if not kind.startswith("data race"):
                ours.append((path, kind, report))
                continue
            doers = [doer(f) for _, f in acc]
            if any(re.search(r"trialog::(?!v1::)", d) for d in doers):
                ours.append((path, kind, report))
            else:
                third[" <-> ".join(origin(d) for d in doers)] += 1
    print(f"tsan_triage: {total} reports, {len(ours)} with trialog code racing, "
          f"{sum(third.values())} inside uninstrumented libraries")
    for key, n in third.most_common(8):
        print(f"  {n:5d}  {key}")
    for path, kind, report in ours:
        print(f"== {path}: {kind}")
        print("\n".join(report.splitlines()[:60]))
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
