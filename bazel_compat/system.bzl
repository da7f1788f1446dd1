"""@trialog_system: Debian's libraries and code generators, found through their pkg-config files.

Nothing is downloaded or built. Each installed pkg-config module M becomes an empty cc_library
`M` carrying M's own link flags (`Libs:`) and -D flags (`Cflags:`), with a dependency on each
module in its `Requires:`; Bazel gathers the transitive flags at link time, as `pkg-config
--libs` would (shared linking: `Requires.private`/`Libs.private` are not used). This is the
Bazel counterpart of the CMake imported targets the CMake build uses.

The .pc files are read here rather than by running pkg-config per module: Debian's pkgconf 1.8
walks abseil's dependency graph without memoising it, and takes 2 s of CPU for `grpc++` alone.

Headers come from /usr/include, which the auto-configured C++ toolchain already searches and
treats as built-in, so the targets need no `hdrs`. Bazel does not track them: after upgrading a
-dev package, run `bazel clean`.

Targets:
  every absl_<x> module (CMake absl::<x>) and every module reachable from the list below
  protobuf grpc++ rocksdb gtest gtest_main gmock gmock_main benchmark, benchmark_main and grpc++_reflection (no .pc)
  nlohmann_json, sodium (libsodium), microhttpd (libmicrohttpd), threads (-pthread)
  CLI11 (header-only), libcurl (witness client), zlib
  protoc grpc_cpp_plugin   the executables (symlinks), for genrule `tools`

A module that is not installed still gets its target; building anything that depends on it
fails with a message naming the missing pkg-config module.
"""

# Modules wanted beside the absl_* ones.
_WANTED = [
    "CLI11",
    "benchmark",
    "gmock",
    "gmock_main",
    "grpc++",
    "gtest",
    "gtest_main",
    "libcurl",
    "libmicrohttpd",
    "libsodium",
    "nlohmann_json",
    "protobuf",
    "rocksdb",
    "zlib",
]

# Libraries Debian ships without a .pc file: target -> (link flags, module it extends).
_NO_PC = {
    "benchmark_main": (["-lbenchmark_main"], "benchmark"),
    "grpc++_reflection": (["-lgrpc++_reflection"], "grpc++"),
}

# Shorter names, as aliases.
_ALIASES = {"microhttpd": "libmicrohttpd", "sodium": "libsodium"}

# Flags that only repeat the compiler's and linker's defaults.
_SYSTEM_FLAGS = ["-I/usr/include", "-L/usr/lib", "-L/usr/lib/x86_64-linux-gnu", "-L/lib", "-L/lib/x86_64-linux-gnu"]

_OPERATORS = ["=", "<", ">", "<=", ">=", "!="]

def _search_path(rctx):
    """pkg-config's search path: $PKG_CONFIG_PATH, then $PKG_CONFIG_LIBDIR or the default."""
    dirs = []
    env = rctx.os.environ
    if env.get("PKG_CONFIG_PATH"):
        dirs += env["PKG_CONFIG_PATH"].split(":")
    if env.get("PKG_CONFIG_LIBDIR"):
        dirs += env["PKG_CONFIG_LIBDIR"].split(":")
    else:
        result = rctx.execute(["pkg-config", "--variable", "pc_path", "pkg-config"])
        if result.return_code != 0:
            fail("pkg-config --variable pc_path pkg-config failed: " + result.stderr)
        dirs += result.stdout.strip().split(":")
    return [rctx.path(d) for d in dirs if d]

def _expand(value, variables):
    for _ in range(16):
        if "${" not in value:
            break
        for k, v in variables.items():
            value = value.replace("${" + k + "}", v)
    return value

def _split(value):
    """Splits flags like a shell (and pkg-config): whitespace separates, quotes group, \\ escapes."""
    tokens, current, quote, escaped, started = [], "", "", False, False
    for c in value.elems():
        if escaped:
            current, escaped = current + c, False
        elif c == "\\" and quote != "'":
            escaped, started = True, True
        elif quote:
            if c == quote:
                quote = ""
            else:
                current += c
        elif c == '"' or c == "'":
            quote, started = c, True
        elif c == " " or c == "\t":
            if started:
                tokens.append(current)
            current, started = "", False
        else:
            current, started = current + c, True
    if started:
        tokens.append(current)
    return tokens

def _parse_pc(rctx, path):
    """The Requires modules, Libs and Cflags of one .pc file."""
    variables = {"pcfiledir": str(path.dirname), "pc_sysrootdir": ""}
    fields = {}
    text = rctx.read(path).replace("\\\n", " ")
    for line in text.splitlines():
        line = line.partition("#")[0].strip()
        if not line:
            continue
        for i in range(len(line)):
            c = line[i]
            if c == "=" or c == ":":
                key, value = line[:i].strip(), line[i + 1:].strip()
                if c == "=":
                    variables[key] = _expand(value, variables)
                else:
                    fields[key] = _expand(value, variables)
                break
            if not (c.isalnum() or c in "_."):
                break
    requires = []
    skip = False
    for token in fields.get("Requires", "").replace(",", " ").split(" "):
        if not token:
            continue
        if skip:
            skip = False
        elif token in _OPERATORS:
            skip = True
        else:
            requires.append(token)
    return struct(
        requires = requires,
        libs = [f for f in _split(fields.get("Libs", "")) if f not in _SYSTEM_FLAGS],
        cflags = [f for f in _split(fields.get("Cflags", "")) if f not in _SYSTEM_FLAGS],
    )

def _starlark_list(items):
    return "[" + ", ".join(['"%s"' % i.replace("\\", "\\\\").replace('"', '\\"') for i in items]) + "]"

def _missing(name, what):
    """A target whose use fails at build time, saying what is missing."""
    return """\
genrule(
    name = "{name}_missing",
    outs = ["{name}_missing.h"],
    cmd = "echo '{what}: run scripts/install-deps.sh' >&2; exit 1",
)
cc_library(name = "{name}", hdrs = [":{name}_missing.h"])
""".format(name = name, what = what)

def _trialog_system_repository_impl(rctx):
    if not rctx.which("pkg-config"):
        fail("pkg-config is not installed: run scripts/install-deps.sh")
    dirs = _search_path(rctx)

    # module -> path of its .pc file (the first one on the search path wins).
    found = {}
    for d in reversed(dirs):
        if d.exists:
            for f in d.readdir():
                if f.basename.endswith(".pc"):
                    found[f.basename[:-len(".pc")]] = f

    todo = list(_WANTED) + sorted([m for m in found if m.startswith("absl_")])
    parsed = {}

    # Breadth-first over Requires; Starlark has no while, and the graph is finite.
    for _ in range(10000):
        if not todo:
            break
        m = todo.pop()
        if m in parsed:
            continue
        if m not in found:
            parsed[m] = None
            continue
        parsed[m] = _parse_pc(rctx, found[m])
        todo += [r for r in parsed[m].requires if r not in parsed]

    out = [
        "# Generated by bazel_compat/system.bzl from the pkg-config files in",
        "# %s; do not edit." % ":".join([str(d) for d in dirs]),
        'package(default_visibility = ["//visibility:public"])',
        "",
        'cc_library(name = "threads", linkopts = ["-pthread"])',
        "",
    ]
    for alias, actual in sorted(_ALIASES.items()):
        out.append('alias(name = "%s", actual = ":%s")' % (alias, actual))
    out.append("")
    for m in sorted(parsed.keys()):
        pc = parsed[m]
        if pc == None:
            out.append(_missing(m, "pkg-config module %s is not installed" % m))
            continue
        defines = [f[2:] for f in pc.cflags if f.startswith("-D")]
        ignored = [f for f in pc.cflags if not f.startswith("-D")]
        if ignored:
            # The built-in /usr/include covers the headers trialog uses.
            out.append("# %s: Cflags not propagated: %s" % (m, " ".join(ignored)))
        out.append('cc_library(name = "%s", defines = %s, linkopts = %s, deps = %s)' % (
            m,
            _starlark_list(defines),
            _starlark_list(pc.libs),
            _starlark_list([":" + r for r in pc.requires]),
        ))
    for name, (linkopts, base) in sorted(_NO_PC.items()):
        if parsed.get(base) == None:
            out.append(_missing(name, "pkg-config module %s is not installed" % base))
        else:
            out.append('cc_library(name = "%s", linkopts = %s, deps = [":%s"])' % (name, _starlark_list(linkopts), base))
    out.append("")

    for tool in ["protoc", "grpc_cpp_plugin"]:
        path = rctx.which(tool)
        if path:
            rctx.symlink(path, tool)
            out.append('exports_files(["%s"])' % tool)
        else:
            rctx.file(tool, "#!/bin/sh\necho '%s not found on PATH: run scripts/install-deps.sh' >&2\nexit 1\n" % tool, executable = True)
            out.append('exports_files(["%s"])  # missing on this machine' % tool)
    rctx.file("BUILD.bazel", "\n".join(out) + "\n")
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

trialog_system_repository = repository_rule(
    implementation = _trialog_system_repository_impl,
    doc = "Debian's C++ libraries as link-only cc_library targets, from their pkg-config files.",
    environ = ["PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR"],
    local = True,
)
