#!/usr/bin/env bash
# Checks that bazel_compat/trialog.BUILD mirrors the CMake build: every trialog_library,
# trialog_test and trialog_binary of every CMakeLists.txt (and proto/'s add_library targets)
# exists in @trialog with the same .cc sources and the same trialog-internal dependencies.
# Imported dependencies (absl::, PkgConfig::, ...) are not compared: a missing one fails the
# Bazel link. Deps a BUILD entry marks missing_in_cmake are reported as notes, not drift. Needs bazel (scripts/install-bazel.sh). Exit 0 if in sync, 1 with a list if not.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/bazel_compat"
query=$(mktemp)
trap 'rm -f "$query"' EXIT
bazel query --color=no --curses=no --output=build 'kind("cc_(library|test|binary) rule", @trialog//:*)' \
  >"$query" 2>/dev/null
/usr/bin/python3 - "$root" "$query" <<'EOF'
import os, re, sys

root, query = sys.argv[1], sys.argv[2]
cmake = {}  # name -> (kind, srcs relative to root, internal deps)
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    dirnames[:] = [d for d in dirnames
                   if not (d.startswith(".") or d.startswith("build") or d.startswith("bazel")
                           or (rel == "." and d == "bazel_compat"))]
    if "CMakeLists.txt" not in filenames:
        continue
    text = re.sub(r"#[^\n]*", "", open(os.path.join(dirpath, "CMakeLists.txt")).read())
    prefix = "" if rel == "." else rel + "/"
    for m in re.finditer(r"\btrialog_(library|test|binary)\(\s*([\w-]+)([^)]*)\)", text):
        kind, name, args = m.group(1), m.group(2), m.group(3).split()
        lists, key = {}, None
        for a in args:
            if re.fullmatch(r"[A-Z]+", a):
                key = a
                lists.setdefault(key, [])
            elif key:
                lists[key].append(a)
        srcs = {prefix + s for s in lists.get("SRCS", []) if s.endswith(".cc")}
        deps = {d for d in lists.get("DEPS", []) if "::" not in d}
        cmake[name] = (kind, srcs, deps)
    for m in re.finditer(r"\badd_library\(\s*([\w-]+)", text):
        cmake.setdefault(m.group(1), ("library", None, None))

bazel = {}
for block in re.split(r"\n(?=\S)", open(query).read()):
    m = re.match(r"(cc_\w+)\(\s*name = \"([^\"]+)\"", block)
    if not m:
        continue
    def labels(attr):
        a = re.search(r"\n\s*%s = \[([^\]]*)\]" % attr, block)
        return re.findall(r"\"([^\"]+)\"", a.group(1)) if a else []
    srcs = {l.split(":", 1)[1] for l in labels("srcs") if l.endswith(".cc")}
    deps = {l.split(":", 1)[1] for l in labels("deps") if l.startswith("@trialog//:")}
    missing = {t.split("=", 1)[1] for t in labels("tags") if t.startswith("cmake-missing-dep=")}
    bazel[m.group(2)] = (m.group(1), srcs, deps, missing)

problems = []
for name, (kind, srcs, deps) in sorted(cmake.items()):
    if name not in bazel:
        problems.append("%s (trialog_%s) is missing from bazel_compat/trialog.BUILD" % (name, kind))
        continue
    if srcs is None:
        continue
    _, bsrcs, bdeps, missing = bazel[name]
    if srcs != bsrcs:
        problems.append("%s: sources differ: CMake only %s, Bazel only %s"
                        % (name, sorted(srcs - bsrcs), sorted(bsrcs - srcs)))
    for d in sorted(missing):
        if d in deps:
            problems.append("%s: CMake now lists %s: drop it from missing_in_cmake" % (name, d))
        else:
            print("bazel-check-targets: note: %s needs %s, which its CMake DEPS omit "
                  "(it includes its headers)" % (name, d))
    bdeps = bdeps - (missing - deps)
    if deps != bdeps:
        problems.append("%s: trialog deps differ: CMake only %s, Bazel only %s"
                        % (name, sorted(deps - bdeps), sorted(bdeps - deps)))
for p in problems:
    print("bazel-check-targets: " + p)
print("bazel-check-targets: %d CMake targets, %d Bazel targets, %d problems"
      % (len(cmake), len(bazel), len(problems)))
sys.exit(1 if problems else 0)
EOF
