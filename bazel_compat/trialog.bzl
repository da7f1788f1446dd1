"""Macros mirroring cmake/trialog.cmake, so each CMake target is a few lines in trialog.BUILD.

All of trialog is one Bazel package (the root of @trialog): like CMake, it has one flat target
namespace, so `@trialog//:trialog_crypto` is CMake's `trialog_crypto`. Paths are given as in the
module's CMakeLists.txt: `dir` is the directory of that CMakeLists.txt, `srcs` are relative to it.
`deps` accept CMake spellings: another trialog target by name ("trialog_util"), or an imported
target ("absl::status", "PkgConfig::SODIUM", ...), or any Bazel label (":x", "@repo//:y").

Every target is tagged with its top-level area (proto, core, storage, server, client, tools;
tests under tests/<area>/ get <area>), and tests also with their CMake LABELS (unit by default),
so `--build_tag_filters` / `--test_tag_filters` select areas like ctest -L does.

The C++ rules come from @rules_cc: the offline stub on Bazel 4.2.3 (repositories.bzl), the real
rules_cc on a newer Bazel, where the native ones are on their way out. sh_test likewise comes
from @rules_shell (a forwarder that trialog_repositories() declares for WORKSPACE builds).
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("@rules_shell//shell:sh_test.bzl", "sh_test")

# The project's warnings (CMake TRIALOG_WARNINGS with TRIALOG_WERROR=ON) and language standard.
# The standard is also in .bazelrc; repeating it here keeps a downstream workspace that forgets
# the flag building trialog with the right one.
TRIALOG_COPTS = [
    "-std=c++20",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Wnon-virtual-dtor",
    "-Wno-unused-parameter",
    "-Werror",
]

# Generated protobuf/gRPC code: no warning flags, as in CMake.
GENERATED_COPTS = ["-std=c++20"]

_SYSTEM = "@trialog_system//:"

# CMake imported targets -> @trialog_system targets. absl::<x> maps to absl_<x> by rule.
CMAKE_IMPORTED = {
    "CLI11::CLI11": "CLI11",
    "CURL::libcurl": "libcurl",
    "GTest::gmock": "gmock",
    "GTest::gmock_main": "gmock_main",
    "GTest::gtest": "gtest",
    "GTest::gtest_main": "gtest_main",
    "PkgConfig::MHD": "libmicrohttpd",
    "PkgConfig::SODIUM": "libsodium",
    "RocksDB::rocksdb": "rocksdb",  # CMake's is the static archive; here the shared library.
    "RocksDB::rocksdb-shared": "rocksdb",
    "Threads::Threads": "threads",
    "ZLIB::ZLIB": "zlib",
    "benchmark::benchmark": "benchmark",
    "benchmark::benchmark_main": "benchmark_main",
    "gRPC::grpc++": "grpc++",
    "gRPC::grpc++_reflection": "grpc++_reflection",
    "nlohmann_json::nlohmann_json": "nlohmann_json",
    "protobuf::libprotobuf": "protobuf",
}

def _dep(d):
    """A CMake dependency name as a Bazel label."""
    if d.startswith(":") or d.startswith("@") or d.startswith("//"):
        return d
    if d.startswith("absl::"):
        return _SYSTEM + "absl_" + d[len("absl::"):]
    if "::" in d:
        if d not in CMAKE_IMPORTED:
            fail("unknown CMake imported target %s: add it to CMAKE_IMPORTED in bazel_compat/trialog.bzl" % d)
        return _SYSTEM + CMAKE_IMPORTED[d]
    return ":" + d

def _deps(deps, extra = []):
    """Labels for `deps` plus `extra`, each once (Bazel rejects duplicates)."""
    out = []
    for d in [_dep(d) for d in deps] + extra:
        if d not in out:
            out.append(d)
    return out

def _in_dir(dir, files):
    return [dir + "/" + f for f in files]

def _area(dir):
    parts = dir.split("/")
    if parts[0] == "tests" and len(parts) > 1:
        return parts[1]
    return parts[0]

def _runfiles_dir(label_or_repo):
    """Path of a repository's runfiles from a test's working directory (the main repository's)."""
    return "../" + label_or_repo

# Where a CMake build directory's binaries are, below the root of @trialog in runfiles:
# trialog_cmake_binaries() copies each binary to cmake_bin/<CMake dir>/<name>, so tests that
# build paths like TRIALOG_BINARY_DIR "/server/trialogd" find them where CMake puts them.
CMAKE_BIN = "cmake_bin"

def _vectors_data():
    return [str(Label("@trialog_vectors//:vectors"))]

def _path_values():
    """TRIALOG_*_DIR values: paths relative to a test's working directory in runfiles."""
    own_root = _runfiles_dir(native.repository_name().lstrip("@") or "__main__")
    return {
        "TRIALOG_BINARY_DIR": own_root + "/" + CMAKE_BIN,
        "TRIALOG_SOURCE_DIR": own_root,
        "TRIALOG_VECTORS_DIR": _runfiles_dir(Label("@trialog_vectors//:vectors").workspace_name) + "/tree",
    }

def _path_defines(names):
    # Bazel shell-tokenizes defines: the escaped quotes make the values C strings.
    values = _path_values()
    for n in names:
        if n not in values:
            fail("unknown path definition %s (one of %s)" % (n, sorted(values.keys())))
    return ['%s=\\"%s\\"' % (n, values[n]) for n in names]

def _missing_in_cmake(missing):
    """Tags that let scripts/bazel-check-targets.sh tell these deps from drift."""
    return ["cmake-missing-dep=" + d for d in missing]

def trialog_library(
        name,
        dir,
        srcs = None,
        hdrs = None,
        deps = [],
        missing_in_cmake = [],
        extra_srcs = [],
        public_paths = [],
        private_paths = [],
        data = [],
        **kwargs):
    """CMake trialog_library(NAME SRCS .. DEPS ..) for the CMakeLists.txt in `dir`.

    Args:
      name: the CMake target name.
      dir: directory of the CMakeLists.txt, relative to the checkout.
      srcs: .cc files relative to dir; default dir/*.cc without *_test.cc, *_main.cc, main.cc.
      hdrs: headers relative to dir; default dir/*.h.
      deps: CMake DEPS (see the top of this file).
      missing_in_cmake: trialog targets whose headers the sources include but CMake's DEPS
        omit (CMake puts the whole checkout on every include path; Bazel checks). Added to
        deps and tagged, so the check script reports them as such rather than as drift.
      extra_srcs: files relative to the checkout root (not dir) compiled with the library,
        typically headers of another directory that CMake finds on its include path (e.g.
        tools/trialog/*.h for tools/export's CLI glue).
      public_paths: names among TRIALOG_VECTORS_DIR, TRIALOG_SOURCE_DIR, TRIALOG_BINARY_DIR
        that CMake defines PUBLIC on the library (target_compile_definitions); they become
        `defines`, with the runfiles-relative values trialog_test uses.
      private_paths: the same for PRIVATE definitions (`local_defines`).
      data: runfiles the library's code opens (propagated to every test that links it).
      **kwargs: passed to cc_library.
    """
    if srcs == None:
        srcs = native.glob(
            [dir + "/*.cc"],
            exclude = [dir + "/*_test.cc", dir + "/*_main.cc", dir + "/main.cc"],
            allow_empty = True,
        )
    else:
        srcs = _in_dir(dir, srcs)
    if hdrs == None:
        hdrs = native.glob([dir + "/*.h"], allow_empty = True)
    else:
        hdrs = _in_dir(dir, hdrs)
    cc_library(
        name = name,
        srcs = srcs + extra_srcs,
        hdrs = hdrs,
        copts = TRIALOG_COPTS,
        defines = _path_defines(public_paths),
        local_defines = _path_defines(private_paths),
        data = data + (_vectors_data() if "TRIALOG_VECTORS_DIR" in public_paths + private_paths else []),
        deps = _deps(deps + missing_in_cmake),
        tags = [_area(dir)] + _missing_in_cmake(missing_in_cmake) + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_binary(name, dir, srcs, deps = [], extra_srcs = [], private_paths = [], data = [], **kwargs):
    """CMake trialog_binary(NAME SRCS .. DEPS ..). Headers beside the sources are sources too.

    Args:
      name: the CMake target name.
      dir: directory of the CMakeLists.txt, relative to the checkout.
      srcs: .cc files relative to dir.
      deps: CMake DEPS.
      extra_srcs: more files relative to the checkout root, e.g. the headers of a
        subdirectory (CMake's tools/CMakeLists.txt builds tools/trialog/*.cc).
      private_paths: TRIALOG_*_DIR definitions CMake gives the binary (see trialog_library);
        the values are relative to `bazel run`'s working directory in runfiles.
      data: runfiles, e.g. ":cmake_bin/server/trialogd" for TRIALOG_BINARY_DIR.
      **kwargs: passed to cc_binary.
    """
    cc_binary(
        name = name,
        srcs = _in_dir(dir, srcs) + native.glob([dir + "/*.h"], allow_empty = True) + extra_srcs,
        copts = TRIALOG_COPTS,
        local_defines = _path_defines(private_paths),
        data = data + (_vectors_data() if "TRIALOG_VECTORS_DIR" in private_paths else []),
        deps = _deps(deps),
        tags = [_area(dir)] + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_fuzz_binary(name, dir, srcs, sanitize = ["fuzzer", "address"], deps = [], **kwargs):
    """A libFuzzer target, like the ones CMake defines only when the compiler is clang.

    Tagged "manual", so wildcards (//..., @trialog//...) skip it; build it by name with clang:
    `CC=clang bazel build @trialog//:<name>`. Only the fuzz target's own sources get the
    fuzzer flags; list a library's sources in srcs to instrument them too (as CMake does for
    merkle_verify_fuzz).

    Args:
      name: the CMake target name.
      dir: directory of the CMakeLists.txt, relative to the checkout.
      srcs: sources relative to the checkout root (not to dir), since they may come from
        several directories.
      sanitize: the -fsanitize= list of the CMake target ("fuzzer" must be in it). With
        "undefined", UBSan stops at the first error, as CMake's -fno-sanitize-recover does.
      deps: CMake DEPS.
      **kwargs: passed to cc_binary.
    """
    flags = ["-fsanitize=" + ",".join(sanitize), "-fno-omit-frame-pointer"]
    if "undefined" in sanitize:
        flags.append("-fno-sanitize-recover=undefined")
    cc_binary(
        name = name,
        srcs = srcs + native.glob([dir + "/*.h"], allow_empty = True),
        copts = TRIALOG_COPTS + flags,
        # Bazel links with the C driver; UBSan's vptr checks need its C++ runtime as well.
        linkopts = flags + (["-fsanitize-link-c++-runtime"] if "undefined" in sanitize else []),
        deps = _deps(deps),
        tags = ["manual", "fuzz", _area(dir)] + kwargs.pop("tags", []),
        **kwargs
    )

_TIMEOUTS = [(60, "short"), (300, "moderate"), (900, "long")]

def trialog_test(
        name,
        dir,
        srcs,
        deps = [],
        labels = ["unit"],
        timeout = None,
        data = [],
        extra_srcs = [],
        missing_in_cmake = [],
        **kwargs):
    """CMake trialog_test(NAME SRCS .. DEPS .. [LABELS ..] [TIMEOUT s]), linked with gtest/gmock.

    The test sees the same compile definitions as under CMake, as paths relative to its working
    directory in the runfiles tree:
      TRIALOG_VECTORS_DIR  shared/vectors (@trialog_vectors//:vectors is a data dependency)
      TRIALOG_SOURCE_DIR   the root of @trialog: only files listed in `data` are there
      TRIALOG_BINARY_DIR   <root>/cmake_bin: the binaries the test runs, listed in `data` as
                           ":cmake_bin/<CMake dir>/<name>" (see trialog_cmake_binaries), sit
                           where CMake's build directory has them (server/trialogd, ...)

    Args:
      name: the CMake target name.
      dir: directory of the CMakeLists.txt, relative to the checkout (tests/<area>).
      srcs: .cc files relative to dir.
      deps: CMake DEPS.
      labels: CMake LABELS; also Bazel tags. "integration" makes the test size medium.
      timeout: CMake TIMEOUT in seconds (default 300, as there), rounded up to Bazel's
        short/moderate/long/eternal.
      data: more runfiles (labels), e.g. binaries the test runs, files it reads.
      extra_srcs: headers relative to the checkout root from other test directories (shared
        fixtures CMake finds on its include path).
      missing_in_cmake: as for trialog_library.
      **kwargs: passed to cc_test.
    """
    if timeout == None:
        timeout = 300  # cmake/trialog.cmake's default TIMEOUT
    bazel_timeout = "eternal"
    for limit, t in reversed(_TIMEOUTS):
        if timeout <= limit:
            bazel_timeout = t
    cc_test(
        name = name,
        # Headers beside the test (shared fixtures) are sources too; CMake needs no list.
        srcs = _in_dir(dir, srcs) + native.glob([dir + "/*.h"], allow_empty = True) + extra_srcs,
        copts = TRIALOG_COPTS,
        local_defines = _path_defines(["TRIALOG_VECTORS_DIR", "TRIALOG_SOURCE_DIR", "TRIALOG_BINARY_DIR"]),
        data = _vectors_data() + data,
        deps = _deps(deps + missing_in_cmake, [_SYSTEM + "gtest", _SYSTEM + "gmock", _SYSTEM + "gtest_main"]),
        size = "medium" if "integration" in labels else "small",
        timeout = bazel_timeout,
        tags = [_area(dir)] + labels + _missing_in_cmake(missing_in_cmake) + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_sh_test(name, dir, srcs, args = [], data = [], labels = ["unit"], timeout = None, **kwargs):
    """A CMake add_test() that runs a script (not a trialog_test): an sh_test.

    In `args`, "{source_dir}" and "{binary_dir}" become the runfiles paths TRIALOG_SOURCE_DIR
    and TRIALOG_BINARY_DIR have in trialog_test (relative to the test's working directory), so
    `COMMAND x.sh ${PROJECT_BINARY_DIR}` becomes args = ["{binary_dir}"].

    Args:
      name: the ctest name.
      dir: directory of the CMakeLists.txt (for the area tag).
      srcs: the executable script (a label; a checkout file must have its x bit).
      args: arguments, with the placeholders above.
      data: runfiles: the script's inputs, binaries as ":cmake_bin/<dir>/<name>".
      labels: CMake LABELS; "integration" makes the test size medium.
      timeout: CMake TIMEOUT in seconds (default 300).
      **kwargs: passed to sh_test.
    """
    values = _path_values()
    if timeout == None:
        timeout = 300
    bazel_timeout = "eternal"
    for limit, t in reversed(_TIMEOUTS):
        if timeout <= limit:
            bazel_timeout = t
    sh_test(
        name = name,
        srcs = srcs,
        args = [a.format(
            source_dir = values["TRIALOG_SOURCE_DIR"],
            binary_dir = values["TRIALOG_BINARY_DIR"],
        ) for a in args],
        data = data,
        size = "medium" if "integration" in labels else "small",
        timeout = bazel_timeout,
        tags = [_area(dir)] + labels + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_cmake_binaries(name, binaries):
    """Copies binaries to cmake_bin/<path>, the layout of a CMake build directory.

    Tests build paths such as TRIALOG_BINARY_DIR "/server/trialogd"; trialog_test points
    TRIALOG_BINARY_DIR at cmake_bin/, so a test lists ":cmake_bin/server/trialogd" in its
    `data`. A copy works because cc_binary links trialog's own libraries statically (only
    Debian's libraries are shared, from /usr/lib).

    Args:
      name: a filegroup of all the copies.
      binaries: {path below the CMake build directory: binary target}, e.g.
        {"server/trialogd": ":trialogd"}.
    """
    native.filegroup(
        name = name,
        srcs = [CMAKE_BIN + "/" + path for path in binaries],
    )
    for path, target in binaries.items():
        native.genrule(
            name = CMAKE_BIN + "_" + path.replace("/", "_"),
            srcs = [target],
            outs = [CMAKE_BIN + "/" + path],
            cmd = "cp $< $@",
            output_to_bindir = True,
            executable = True,
            tags = ["cmake_bin"],
        )

def _protoc_cmd(srcs, proto_root, flags):
    # protoc runs once for all files; -I is proto_root as the sandbox sees it, found by stripping
    # the file's path below proto_root from its exec path.
    first = srcs[0]
    rel = _below_root(first, proto_root)
    return ("root=$$(dirname $(execpath {first})); root=$${{root%/{reldir}}}; " +
            "$(execpath {protoc}) -I$$root {flags} {files}").format(
        first = first,
        reldir = rel.rpartition("/")[0],
        protoc = _SYSTEM + "protoc",
        flags = flags,
        files = " ".join(["$(execpath %s)" % s for s in srcs]),
    )

def _below_root(path, proto_root):
    """`path` relative to proto_root ("" is the checkout root)."""
    return path[len(proto_root) + 1:] if proto_root else path

def _out_dir(proto_root):
    return "$(RULEDIR)/" + proto_root if proto_root else "$(RULEDIR)"

def _check_root(srcs, proto_root):
    for s in srcs:
        if proto_root and not s.startswith(proto_root + "/"):
            fail("%s is not under proto_root %s" % (s, proto_root))

def _proto_inputs(proto_deps):
    """The .proto files of other trialog_proto_library targets, which protoc needs for imports."""
    return [_dep(d) + "_protos" for d in proto_deps]

def trialog_proto_library(name, srcs, proto_root, proto_deps = [], deps = [], **kwargs):
    """Message code (*.pb.{h,cc}) for `srcs`, generated by the system protoc.

    Like proto/CMakeLists.txt: imports and includes are relative to proto_root, so
    proto_root/trialog/v1/x.proto is included as "trialog/v1/x.pb.h". Also defines
    <name>_protos, a filegroup of `srcs` (and of proto_deps' files), and <name>_gen.

    Args:
      name: the CMake target name.
      srcs: .proto files, relative to the checkout.
      proto_root: the directory protoc's -I names (CMake --proto_path).
      proto_deps: other trialog_proto_library targets whose files `srcs` import.
      deps: further CMake DEPS.
      **kwargs: passed to cc_library.
    """
    _check_root(srcs, proto_root)

    # The generated files sit beside their .proto (below proto_root, like the sources), and
    # strip_include_prefix makes them includable as CMake's are ("trialog/v1/x.pb.h").
    # Generating them at the package root instead would put a directory trialog/ next to
    # the `trialog` binary's output file.
    stems = [s[:-len(".proto")] for s in srcs]
    hdrs = [s + ".pb.h" for s in stems]
    ccs = [s + ".pb.cc" for s in stems]
    native.filegroup(name = name + "_protos", srcs = srcs + _proto_inputs(proto_deps))
    native.genrule(
        name = name + "_gen",
        srcs = srcs + _proto_inputs(proto_deps),
        outs = hdrs + ccs,
        tools = [_SYSTEM + "protoc"],
        cmd = _protoc_cmd(srcs, proto_root, "--cpp_out=" + _out_dir(proto_root)),
        tags = ["proto"],
    )
    cc_library(
        name = name,
        srcs = ccs,
        hdrs = hdrs,
        strip_include_prefix = proto_root or None,
        copts = GENERATED_COPTS,
        deps = _deps(proto_deps + deps, [_SYSTEM + "protobuf"]),
        tags = ["proto"] + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_grpc_library(name, srcs, proto_root, proto_library, deps = [], **kwargs):
    """Service stubs (*.grpc.pb.{h,cc}) for `srcs`, generated by protoc and grpc_cpp_plugin.

    Args:
      name: the CMake target name.
      srcs: .proto files with services, relative to the checkout.
      proto_root: as for trialog_proto_library.
      proto_library: the trialog_proto_library holding `srcs` and what they import: the stubs
        include its headers, and protoc reads its .proto files.
      deps: further CMake DEPS.
      **kwargs: passed to cc_library.
    """
    _check_root(srcs, proto_root)

    # The generated files sit beside their .proto (below proto_root, like the sources), and
    # strip_include_prefix makes them includable as CMake's are ("trialog/v1/x.pb.h").
    # Generating them at the package root instead would put a directory trialog/ next to
    # the `trialog` binary's output file.
    stems = [s[:-len(".proto")] for s in srcs]
    hdrs = [s + ".grpc.pb.h" for s in stems]
    ccs = [s + ".grpc.pb.cc" for s in stems]
    native.genrule(
        name = name + "_gen",
        srcs = srcs + _proto_inputs([proto_library]),
        outs = hdrs + ccs,
        tools = [_SYSTEM + "protoc", _SYSTEM + "grpc_cpp_plugin"],
        cmd = _protoc_cmd(
            srcs,
            proto_root,
            "--grpc_out=" + _out_dir(proto_root) + " --plugin=protoc-gen-grpc=$(execpath %sgrpc_cpp_plugin)" % _SYSTEM,
        ),
        tags = ["proto"],
    )
    cc_library(
        name = name,
        srcs = ccs,
        hdrs = hdrs,
        strip_include_prefix = proto_root or None,
        copts = GENERATED_COPTS,
        # grpc++'s pkg-config flags include -labsl_synchronization, which the generated
        # code needs (absl::Mutex) and Debian's libgrpc++ does not pull in by itself.
        deps = _deps([proto_library] + deps, [_SYSTEM + "grpc++", _SYSTEM + "absl_synchronization"]),
        tags = ["proto"] + kwargs.pop("tags", []),
        **kwargs
    )

def trialog_test_suites(name, areas):
    """A test_suite `name` of every test in the package, and <area>_tests for each area (by tag).

    Args:
      name: name of the suite of all tests, e.g. "all_tests".
      areas: area names, e.g. ["core", "storage"].
    """
    for a in areas:
        native.test_suite(name = a + "_tests", tags = [a])
    native.test_suite(name = name)
