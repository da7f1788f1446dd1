#!/usr/bin/python3
"""Independent structural checks of a trialog HTML report (report_test.cc).

Parses the report with Python's html.parser and checks it against
EXPECTED.json, which the C++ test computed from the signed envelopes:

  * swimmer plot: one lane per treated subject with the expected days on
    treatment, bar width = days x the plot's px-per-day, a response marker
    at each post-baseline scan day, an AE triangle at each treatment-emergent
    adverse event with its worst grade, lane colour = its BOR's legend colour;
  * waterfall plot: one bar per subject with an evaluable post-baseline
    assessment, sorted by change (descending), change as expected, height =
    |change| x px-per-percent, above the zero line for increases and below
    for decreases, colour = its BOR's legend colour;
  * the ORR line agrees with the bars' BORs and the evaluable count;
  * adverse events by term and grade as expected;
  * one audit-trail row per entry in index order, the corrections,
    signatures and voids highlighted, every e-signature manifested.

Usage: report_check.py REPORT.html EXPECTED.json
Exit status 0 when everything holds; 1 with one line per problem otherwise.
"""

import html.parser
import json
import re
import sys

problems = []


def problem(msg):
    problems.append(msg)


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], ""

    def cls(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)


VOID = {"meta", "br", "img", "hr", "input", "link", "rect", "circle", "path", "line"}


class Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text += data


def find(root, pred):
    return [n for n in root.iter() if pred(n)]


def by_id(root, ident):
    r = find(root, lambda n: n.attrs.get("id") == ident)
    return r[0] if r else None


def legend_colours(svg):
    return {k.attrs["data-response"]: k.attrs["fill"] for k in find(svg, lambda n: "legend-key" in n.cls())}


def close(a, b, tol):
    return abs(a - b) <= tol


def check_swimmer(root, x):
    svg = by_id(root, "swimmer")
    if svg is None:
        return problem("swimmer: no <svg id=swimmer>")
    px = float(svg.attrs["data-px-per-day"])
    x0 = float(svg.attrs["data-x0"])
    colours = legend_colours(svg)
    lanes = {l.attrs["data-subject"]: l for l in find(svg, lambda n: "lane" in n.cls())}
    want = {l["subject"]: l for l in x["lanes"]}
    if set(lanes) != set(want):
        problem("swimmer: lanes %s, expected %s" % (sorted(lanes), sorted(want)))
    order = [l.attrs["data-days"] for l in find(svg, lambda n: "lane" in n.cls())]
    if [int(d) for d in order] != sorted((int(d) for d in order), reverse=True):
        problem("swimmer: lanes not sorted by days on treatment")
    for s, w in want.items():
        lane = lanes.get(s)
        if lane is None:
            continue
        days = int(lane.attrs["data-days"])
        if days != w["days"]:
            problem("swimmer %s: %d days, expected %d" % (s, days, w["days"]))
        bars = find(lane, lambda n: "bar" in n.cls())
        if len(bars) != 1:
            problem("swimmer %s: %d bars" % (s, len(bars)))
            continue
        bar = bars[0]
        if not close(float(bar.attrs["width"]), w["days"] * px, 0.02) or not close(float(bar.attrs["x"]), x0, 0.01):
            problem("swimmer %s: bar x=%s width=%s, expected x=%.2f width %.2f"
                    % (s, bar.attrs["x"], bar.attrs["width"], x0, w["days"] * px))
        if lane.attrs["data-bor"] != w["bor"]:
            problem("swimmer %s: BOR %s, expected %s" % (s, lane.attrs["data-bor"], w["bor"]))
        if bar.attrs["fill"] != colours.get(w["bor"], bar.attrs["fill"]):
            problem("swimmer %s: colour %s is not the legend's for %s" % (s, bar.attrs["fill"], w["bor"]))
        resp = find(lane, lambda n: "resp" in n.cls())
        days_drawn = sorted(int(r.attrs["data-day"]) for r in resp)
        if days_drawn != sorted(w["responses"]):
            problem("swimmer %s: response markers on days %s, expected %s" % (s, days_drawn, sorted(w["responses"])))
        for r in resp:
            if not close(float(r.attrs["cx"]), x0 + int(r.attrs["data-day"]) * px, 0.02):
                problem("swimmer %s: response marker at cx=%s for day %s" % (s, r.attrs["cx"], r.attrs["data-day"]))
        aes = sorted((int(a.attrs["data-day"]), int(a.attrs["data-grade"])) for a in find(lane, lambda n: "ae" in n.cls()))
        want_aes = sorted((a["day"], a["grade"]) for a in w["aes"])
        if aes != want_aes:
            problem("swimmer %s: AE markers %s, expected %s" % (s, aes, want_aes))
        for a in find(lane, lambda n: "ae" in n.cls()):
            m = re.match(r"M([0-9.]+) ", a.attrs["d"])
            if not m or not close(float(m.group(1)), x0 + int(a.attrs["data-day"]) * px, 0.02):
                problem("swimmer %s: AE marker path %s for day %s" % (s, a.attrs["d"], a.attrs["data-day"]))


def check_waterfall(root, x):
    svg = by_id(root, "waterfall")
    if svg is None:
        return problem("waterfall: no <svg id=waterfall>")
    px = float(svg.attrs["data-px-per-percent"])
    zero = float(svg.attrs["data-zero-y"])
    colours = legend_colours(svg)
    bars = find(svg, lambda n: "wf-bar" in n.cls())
    want = {b["subject"]: b for b in x["bars"]}
    got = [b.attrs["data-subject"] for b in bars]
    if sorted(got) != sorted(want):
        problem("waterfall: bars %s, expected %s" % (sorted(got), sorted(want)))
    changes = [int(b.attrs["data-change-x10"]) for b in bars]
    if changes != sorted(changes, reverse=True):
        problem("waterfall: bars not sorted by change")
    refs = {int(r.attrs["data-percent"]): float(r.attrs["y1"]) for r in find(svg, lambda n: "reference" in n.cls())}
    for pct in (20, -30):
        if pct not in refs or not close(refs[pct], zero - pct * px, 0.02):
            problem("waterfall: reference line %+d%% missing or misplaced" % pct)
    for b in bars:
        s = b.attrs["data-subject"]
        w = want.get(s)
        if w is None:
            continue
        change = int(b.attrs["data-change-x10"]) / 10.0
        if not close(change, w["best_change"], 0.051):
            problem("waterfall %s: change %.1f%%, expected %.2f%%" % (s, change, w["best_change"]))
        y, h = float(b.attrs["y"]), float(b.attrs["height"])
        if not close(h, abs(change) * px, 0.02):
            problem("waterfall %s: height %.2f for %.1f%% (expected %.2f)" % (s, h, change, abs(change) * px))
        if change >= 0 and not close(y + h, zero, 0.02):
            problem("waterfall %s: an increase must stand on the zero line" % s)
        if change < 0 and not close(y, zero, 0.02):
            problem("waterfall %s: a decrease must hang from the zero line" % s)
        if b.attrs["data-bor"] != w["bor"]:
            problem("waterfall %s: BOR %s, expected %s" % (s, b.attrs["data-bor"], w["bor"]))
        if b.attrs["fill"] != colours.get(w["bor"]):
            problem("waterfall %s: colour %s is not the legend's %s for %s"
                    % (s, b.attrs["fill"], colours.get(w["bor"]), w["bor"]))


def check_tables(root, x):
    orr = by_id(root, "orr")
    if orr is None:
        problem("summary: no ORR")
    else:
        responders = sum(1 for l in x["lanes"] if l["bor"] in ("RESPONSE_CR", "RESPONSE_PR"))
        m = re.match(r"(\d+)/(\d+) = ([0-9.]+)% \(95% CI ([0-9.]+)% to ([0-9.]+)%", orr.all_text())
        if not m:
            problem("summary: ORR text %r" % orr.all_text())
        else:
            n, d = int(m.group(1)), int(m.group(2))
            if n != responders or d != x["evaluable"]:
                problem("summary: ORR %d/%d, expected %d/%d" % (n, d, responders, x["evaluable"]))
            if not close(float(m.group(3)), 100.0 * n / d, 0.051):
                problem("summary: ORR estimate %s%%" % m.group(3))
            if not (float(m.group(4)) < float(m.group(3)) < float(m.group(5))):
                problem("summary: CI does not contain the estimate")

    rows = find(root, lambda n: n.tag == "tr" and "ae-term" in n.cls())
    got = {}
    for r in rows:
        cells = [c for c in r.children if c.tag == "td"]
        grades = [int(cells[g].all_text()) for g in range(1, 6)]
        got[r.attrs["data-term"]] = [int(cells[7].all_text())] + grades
    want = {t: c for t, c in x["ae_terms"].items()}
    if got != want:
        problem("adverse events: %s, expected %s" % (got, want))

    trail = by_id(root, "audit-trail")
    rows = [r for r in find(trail, lambda n: n.tag == "tr" and "data-index" in n.attrs)]
    indexes = [int(r.attrs["data-index"]) for r in rows]
    if indexes != list(range(x["entries"])):
        problem("audit trail: rows for %d entries, not 0..%d in order" % (len(indexes), x["entries"] - 1))
    for kind, key in (("correction", "corrections"), ("signature", "signatures"), ("void-entry", "voids")):
        n = sum(1 for r in rows if kind in r.cls())
        if n != x[key]:
            problem("audit trail: %d %s rows, expected %d" % (n, kind, x[key]))
    for r in rows:
        if "correction" in r.cls():
            t = r.all_text()
            if "\u2192" not in t or "Correction of entry" not in t:
                problem("audit trail: correction row %s lacks old -> new" % r.attrs["data-index"])
        if "signature" in r.cls() and "meaning:" not in r.all_text():
            problem("audit trail: signature row %s lacks its manifestation" % r.attrs["data-index"])
    manif = find(root, lambda n: n.tag == "tr" and "manifestation" in n.cls())
    if len(manif) != x["signatures"]:
        problem("signatures: %d manifestations, expected %d" % (len(manif), x["signatures"]))
    ver = by_id(root, "verification")
    if ver is None or x["checkpoint_root"] not in ver.all_text() or "Verified" not in ver.all_text():
        problem("verification: result or checkpoint root missing")


def main():
    report, expected = sys.argv[1:3]
    x = json.load(open(expected))
    p = Parser()
    p.feed(open(report, encoding="utf-8").read())
    check_swimmer(p.root, x)
    check_waterfall(p.root, x)
    check_tables(p.root, x)
    for m in problems[:40]:
        print(m)
    if problems:
        print("%d problems" % len(problems))
        return 1
    print("ok: %d lanes, %d waterfall bars, %d AE terms, %d audit rows"
          % (len(x["lanes"]), len(x["bars"]), len(x["ae_terms"]), x["entries"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
