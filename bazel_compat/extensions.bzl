"""Bzlmod module extension (Bazel 6 and later): the same repositories as trialog_repositories().

UNTESTED: the only Bazel here is Debian's 4.2.3, which has no Bzlmod. It calls the repository
rules that bazel_compat/WORKSPACE uses and that are tested there. See README.md, "Bzlmod".

    trialog = use_extension("@trialog_bazel//:extensions.bzl", "trialog")
    trialog.paths(source_dir = "/src/trialog")   # optional; default: parent of bazel_compat/
    use_repo(trialog, "trialog")
"""

load("//:repositories.bzl", "trialog_source_repository", "trialog_vectors_repository")
load("//:system.bzl", "trialog_system_repository")

_paths = tag_class(attrs = {
    "source_dir": attr.string(doc = "Absolute path of the trialog checkout."),
    "vectors_dir": attr.string(doc = "Absolute path of shared/vectors."),
})

def _trialog_impl(mctx):
    source_dir, vectors_dir = "", ""
    for mod in mctx.modules:
        for tag in mod.tags.paths:
            source_dir = tag.source_dir or source_dir
            vectors_dir = tag.vectors_dir or vectors_dir
    trialog_source_repository(name = "trialog", source_dir = source_dir)
    trialog_system_repository(name = "trialog_system")
    trialog_vectors_repository(name = "trialog_vectors", source_dir = source_dir, vectors_dir = vectors_dir)

trialog = module_extension(
    implementation = _trialog_impl,
    tag_classes = {"paths": _paths},
)
