"""Repositories that bring trialog's sources, test vectors and Debian's libraries into Bazel.

Bazel sees nothing above its workspace root, and bazel_compat/ sits inside the source tree it
builds. So the sources are not part of this workspace: `trialog_repositories()` declares them as
an external repository `@trialog`, a tree of symlinks to the top-level entries of the source
checkout (everything except bazel_compat/ itself, build directories and dot-files) plus the
BUILD file `trialog.BUILD` from here. Every trialog target is `@trialog//:<CMake target name>`.

Used the same way by bazel_compat/WORKSPACE and by a downstream workspace; see README.md.
"""

load("//:system.bzl", "trialog_system_repository")

def _realpath(rctx, path):
    """Resolves symlinks (Bazel 4's path objects have no realpath)."""
    result = rctx.execute(["realpath", "-e", str(path)])
    if result.return_code != 0:
        fail("realpath %s failed: %s" % (path, result.stderr))
    return rctx.path(result.stdout.strip())

def _compat_dir(rctx):
    """The real directory of bazel_compat/ (this file's repository)."""
    return _realpath(rctx, rctx.path(Label("//:trialog.BUILD"))).dirname

def _source_dir(rctx):
    if rctx.attr.source_dir:
        return _realpath(rctx, rctx.path(rctx.attr.source_dir))
    return _compat_dir(rctx).dirname

def _is_skipped(name):
    return (name.startswith(".") or name.startswith("bazel-") or name.startswith("build") or
            name in ["out", "WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel", "BUILD", "BUILD.bazel"])

def _trialog_source_repository_impl(rctx):
    src = _source_dir(rctx)
    compat = _compat_dir(rctx)
    if not src.get_child("proto").exists or not src.get_child("core").exists:
        fail("%s does not look like a trialog checkout (no proto/ or core/)" % src)
    for entry in src.readdir():
        if _is_skipped(entry.basename) or str(_realpath(rctx, entry)) == str(compat):
            continue
        rctx.symlink(entry, entry.basename)

    # The BUILD file loads the macros from this repository; spell its name so that it
    # resolves from inside @trialog in every setup (main repository, external repository,
    # canonical name under Bzlmod).
    macros = str(Label("//:trialog.bzl"))
    if macros.startswith("//"):
        macros = "@" + macros
    rctx.template("BUILD.bazel", Label("//:trialog.BUILD"), {"@trialog_bazel//:trialog.bzl": macros})
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

trialog_source_repository = repository_rule(
    implementation = _trialog_source_repository_impl,
    doc = "The trialog source tree as a repository whose BUILD file is bazel_compat/trialog.BUILD.",
    attrs = {
        "source_dir": attr.string(doc = "Absolute path of the checkout; default: the parent of bazel_compat/."),
    },
    local = True,
)

def _trialog_vectors_repository_impl(rctx):
    if rctx.attr.vectors_dir:
        where = rctx.attr.vectors_dir
    elif rctx.os.environ.get("TRIALOG_VECTORS_DIR"):
        where = rctx.os.environ["TRIALOG_VECTORS_DIR"]
    else:
        where = str(_source_dir(rctx).dirname) + "/shared/vectors"
    vectors = rctx.path(where)
    if not vectors.exists or not vectors.get_child("README.md").exists:
        # Not fatal: only the tests need them, and they say which file is missing.
        # buildifier: disable=print
        print("trialog: no test vectors at %s; set TRIALOG_VECTORS_DIR" % where)
        rctx.file("BUILD.bazel", "filegroup(name = \"vectors\", srcs = [], visibility = [\"//visibility:public\"])\n")
    else:
        for entry in vectors.readdir():
            if entry.basename not in ["BUILD", "BUILD.bazel", "WORKSPACE", "tree"]:
                rctx.symlink(entry, entry.basename)
        rctx.symlink(vectors, "tree")
        rctx.file("BUILD.bazel", """\
# The shared test vectors (%s). Tests take :vectors as data and read them under tree/ in their
# runfiles: a symlink to the whole directory, so that paths canonicalised inside it stay inside
# it (each file in runfiles is a symlink of its own; std::filesystem::relative() between a file
# and a runfiles directory would lead out of the tree). The glob of every file makes Bazel
# rerun tests when a vector changes, which a directory input alone would not.
filegroup(
    name = "vectors",
    srcs = ["tree"] + glob(["**"], exclude = ["BUILD.bazel", "WORKSPACE", "tree/**"], allow_empty = True),
    visibility = ["//visibility:public"],
)
""" % where)
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

trialog_vectors_repository = repository_rule(
    implementation = _trialog_vectors_repository_impl,
    doc = "shared/vectors as a repository with one filegroup, :vectors.",
    attrs = {
        "vectors_dir": attr.string(doc = "Absolute path; default: $TRIALOG_VECTORS_DIR, else <checkout>/../shared/vectors."),
        "source_dir": attr.string(doc = "As for trialog_source_repository."),
    },
    environ = ["TRIALOG_VECTORS_DIR"],
    local = True,
)

def trialog_repositories(source_dir = "", vectors_dir = ""):
    """Declares @trialog, @trialog_system and @trialog_vectors (each unless already declared).

    Args:
      source_dir: absolute path of the trialog checkout; default: the parent of bazel_compat/.
      vectors_dir: absolute path of shared/vectors; default: $TRIALOG_VECTORS_DIR, else
        <checkout>/../shared/vectors.
    """
    if not native.existing_rule("trialog"):
        trialog_source_repository(name = "trialog", source_dir = source_dir)
    if not native.existing_rule("trialog_system"):
        trialog_system_repository(name = "trialog_system")
    if not native.existing_rule("trialog_vectors"):
        trialog_vectors_repository(name = "trialog_vectors", vectors_dir = vectors_dir, source_dir = source_dir)

    # trialog.bzl loads sh_test from @rules_shell (native in WORKSPACE builds up to Bazel 8,
    # gone from Bazel 9's native rules). A WORKSPACE build gets a local forwarder unless it
    # declares the real rules_shell first; under Bzlmod, MODULE.bazel depends on rules_shell.
    if not native.existing_rule("rules_shell"):
        _forwarding_rules_repository(name = "rules_shell", package = "shell", file = "sh_test.bzl", rules = ["sh_test"])

# Offline stubs for Bazel 4.2.3 ----------------------------------------------------------------
# Bazel's own @bazel_tools loads @rules_cc and @rules_java and depends on @remote_coverage_tools,
# and its default WORKSPACE suffix downloads them. With no network, these stand-ins forward every
# rule to the native one built into Bazel 4 (see shared/research/bazel.md).

_RULES_CC = [
    "cc_binary",
    "cc_import",
    "cc_library",
    "cc_proto_library",
    "cc_shared_library",
    "cc_test",
    "cc_toolchain",
    "cc_toolchain_suite",
    "fdo_prefetch_hints",
    "fdo_profile",
    "objc_import",
    "objc_library",
]
_RULES_JAVA = [
    "java_binary",
    "java_import",
    "java_library",
    "java_lite_proto_library",
    "java_package_configuration",
    "java_plugin",
    "java_proto_library",
    "java_runtime",
    "java_test",
    "java_toolchain",
]

def _forwarding_rules_repository_impl(rctx):
    lines = ["# Offline stand-in for %s: forwards to Bazel's native rules.\n" % rctx.name]
    for r in rctx.attr.rules:
        lines.append("def %s(**kwargs):\n    native.%s(**kwargs)\n" % (r, r))
    rctx.file(rctx.attr.package + "/" + rctx.attr.file, "\n".join(lines))
    rctx.file(rctx.attr.package + "/BUILD.bazel", "exports_files([\"%s\"])\n" % rctx.attr.file)
    rctx.file("BUILD.bazel", "")
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

_forwarding_rules_repository = repository_rule(
    implementation = _forwarding_rules_repository_impl,
    attrs = {
        "package": attr.string(),
        "rules": attr.string_list(),
        "file": attr.string(default = "defs.bzl"),
    },
)

def _coverage_tools_stub_impl(rctx):
    rctx.file("unsupported.sh", "#!/bin/sh\necho 'bazel coverage is not supported offline' >&2\nexit 1\n", executable = True)
    rctx.file("BUILD.bazel", """\
package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["unsupported.sh"])
sh_binary(name = "lcov_merger", srcs = ["unsupported.sh"])
""")
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

_coverage_tools_stub = repository_rule(implementation = _coverage_tools_stub_impl)

def trialog_offline_stubs():
    """Declares @rules_cc, @rules_java and @remote_coverage_tools stubs (each unless declared).

    Only for Bazel 4.2.3 without network (Debian's bazel-bootstrap). Call it before anything
    that declares the real ones; a Bazel that can download them should not call it.
    """
    if not native.existing_rule("rules_cc"):
        _forwarding_rules_repository(name = "rules_cc", package = "cc", rules = _RULES_CC)
    if not native.existing_rule("rules_java"):
        _forwarding_rules_repository(name = "rules_java", package = "java", rules = _RULES_JAVA)
    if not native.existing_rule("remote_coverage_tools"):
        _coverage_tools_stub(name = "remote_coverage_tools")
