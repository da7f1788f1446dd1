#include "tools/export/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/note.h"
#include "core/trial/state_machine.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "tools/export/event_json.h"
#include "tools/export/timestamps.h"

namespace trialog::exporter {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err, what);
}

absl::Status WriteSynced(const fs::path& path, absl::string_view contents) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("creating ", path.string()));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoError(err, absl::StrCat("writing ", path.string()));
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError(err, absl::StrCat("syncing ", path.string()));
  }
  if (close(fd) != 0) return ErrnoError(errno, absl::StrCat("closing ", path.string()));
  return absl::OkStatus();
}

absl::Status SyncDirectory(const fs::path& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("opening ", dir.string()));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return ErrnoError(err, absl::StrCat("syncing ", dir.string()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, absl::StrCat("reading ", path.string()));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", path.string(), " failed"));
  return out.str();
}

std::string WithoutNewline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

absl::Status Mismatch(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("bundle: ", what));
}

}  // namespace

const std::string& OpenedBundle::file(absl::string_view name) const {
  static const std::string* empty = new std::string();
  auto it = files.find(std::string(name));
  return it == files.end() ? *empty : it->second;
}

std::string BundleReadme(const Manifest& m, absl::string_view ledger_vkey,
                         absl::string_view exporter_vkey) {
  const bool disclosure = m.kind == kKindSubjectDisclosure;
  std::string out = absl::StrCat(
      disclosure ? "trialog per-subject disclosure" : "trialog ledger export bundle", "\n\n",
      "Ledger:      ", m.origin, "\n", "Trial:       ", m.trial_id, "\n");
  if (disclosure) absl::StrAppend(&out, "Subject:     ", m.subject_id, "\n");
  absl::StrAppend(
      &out, "Checkpoint:  size ", m.checkpoint_size, ", root ", Base64Encode(m.checkpoint_root), "\n",
      "Entries:     ", m.entries, " (indexes ", m.first_index, " to ", m.last_index, ")\n",
      "Created:     ", m.created, "\n", "Ledger key:  ", ledger_vkey, "\n", "Exporter key: ",
      exporter_vkey, "\n\n",
      "Files\n"
      "  manifest.note    what this bundle holds, with the size and SHA-256 of every other file,\n"
      "                   signed (C2SP signed note) by the exporter key\n"
      "  exporter.vkey    the exporter's verifier key\n"
      "  checkpoint.note  the ledger's signed checkpoint (C2SP tlog-checkpoint)\n"
      "  ledger.vkey      the ledger's verifier key\n"
      "  entries.bin      the entries' exact bytes, each after a 4-byte big-endian length\n"
      "  events.jsonl     every entry as one line of JSON, for reading\n");
  if (disclosure) {
    absl::StrAppend(&out,
                    "  proofs.bin       an RFC 6962 inclusion proof of every entry under the "
                    "checkpoint\n");
  }
  absl::StrAppend(
      &out, "\nVerify it offline, trusting only keys you obtained independently:\n\n",
      "  trialog verify --bundle DIR --key <ledger verifier key> [--exporter-key <exporter key>]\n\n",
      "Without trialog: docs/EXPORT.md of the trialog sources describes every byte (SHA-256,\n"
      "Ed25519, RFC 6962 Merkle trees and C2SP signed notes are all it takes).\n");
  if (disclosure) {
    absl::StrAppend(&out,
                    "\nThis disclosure holds one subject's entries only (with the ledger's "
                    "administrative and\ntrial-level entries). It proves each entry is in the "
                    "signed ledger; it cannot show that\nthe rest of the trial keeps the "
                    "protocol's rules. Only a full ledger bundle can.\n");
  }
  return out;
}

absl::Status WriteBundleDirectory(const std::string& dir, Manifest manifest,
                                  const std::map<std::string, std::string>& files,
                                  const note::NoteSigner& exporter) {
  std::error_code ec;
  const fs::path target(dir);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec) || !fs::is_empty(target, ec)) {
      return absl::AlreadyExistsError(absl::StrCat(dir, " already exists and is not an empty directory"));
    }
  }
  manifest.files.clear();
  for (const auto& [name, contents] : files) manifest.files.push_back(DescribeFile(name, contents));
  TRIALOG_ASSIGN_OR_RETURN(std::string text, FormatManifest(manifest));
  TRIALOG_ASSIGN_OR_RETURN(std::string note, note::SignNote(text, {&exporter}));

  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const fs::path tmp = parent / absl::StrCat(".", target.filename().string(), ".tmp-", getpid());
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
  }
  auto cleanup = [&](absl::Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };
  for (const auto& [name, contents] : files) {
    if (absl::Status s = WriteSynced(tmp / name, contents); !s.ok()) return cleanup(s);
  }
  if (absl::Status s = WriteSynced(tmp / std::string(kManifestFile), note); !s.ok()) return cleanup(s);
  if (absl::Status s = WriteSynced(tmp / std::string(kExporterKeyFile),
                                   absl::StrCat(exporter.verifier_key(), "\n"));
      !s.ok()) {
    return cleanup(s);
  }
  if (absl::Status s = SyncDirectory(tmp); !s.ok()) return cleanup(s);
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    return cleanup(ErrnoError(errno, absl::StrCat("renaming ", tmp.string(), " to ", dir)));
  }
  return SyncDirectory(parent);
}

absl::Status WriteLedgerBundle(const ExportInput& input, const note::NoteSigner& exporter,
                               const std::string& dir, const BundleWriteOptions& options) {
  std::vector<std::string> bytes;
  bytes.reserve(input.entries.size());
  std::string jsonl;
  for (const ledger::ParsedEntry& e : input.entries) {
    bytes.push_back(e.bytes);
    TRIALOG_ASSIGN_OR_RETURN(std::string line, EventJsonLine(e));
    absl::StrAppend(&jsonl, line, "\n");
  }
  TRIALOG_ASSIGN_OR_RETURN(std::string entries_bin, EncodeEntriesFile(bytes));

  Manifest m;
  m.kind = std::string(kKindLedgerBundle);
  m.origin = input.checkpoint.origin;
  m.trial_id = input.trial_id;
  m.checkpoint_size = input.checkpoint.size;
  m.checkpoint_root = input.checkpoint.root_hash;
  m.entries = input.entries.size();
  m.first_index = 0;
  m.last_index = input.entries.size() - 1;
  m.head = input.entries.back().leaf_hash;
  m.created = UtcTimestamp(options.created_unix_micros != 0 ? options.created_unix_micros
                                                            : absl::ToUnixMicros(absl::Now()));
  std::map<std::string, std::string> files;
  files[std::string(kCheckpointFile)] = input.checkpoint_note;
  files[std::string(kLedgerKeyFile)] = absl::StrCat(input.ledger_vkey, "\n");
  files[std::string(kEntriesFile)] = std::move(entries_bin);
  files[std::string(kEventsFile)] = std::move(jsonl);
  files[std::string(kReadmeFile)] = BundleReadme(m, input.ledger_vkey, exporter.verifier_key());
  return WriteBundleDirectory(dir, std::move(m), files, exporter);
}

absl::StatusOr<OpenedBundle> OpenBundle(const std::string& dir, const BundleTrust& trust) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  OpenedBundle b;
  b.dir = dir;
  const fs::path root(dir);
  if (!fs::exists(root / std::string(kManifestFile), ec)) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no manifest.note: not a trialog bundle"));
  }
  if (!fs::exists(root / std::string(kExporterKeyFile), ec)) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no exporter.vkey"));
  }
  TRIALOG_ASSIGN_OR_RETURN(std::string manifest_note, ReadWhole(root / std::string(kManifestFile)));
  TRIALOG_ASSIGN_OR_RETURN(std::string exporter_file, ReadWhole(root / std::string(kExporterKeyFile)));
  b.exporter_vkey = WithoutNewline(exporter_file);
  if (trust.exporter_vkey) {
    absl::StatusOr<note::Verifier> pinned = note::ParseVerifierKey(*trust.exporter_vkey);
    if (!pinned.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("exporter key: ", pinned.status().message()));
    }
    if (b.exporter_vkey != *trust.exporter_vkey) {
      return absl::UnauthenticatedError(absl::StrCat("exporter.vkey holds \"", b.exporter_vkey,
                                                     "\", not the pinned exporter key"));
    }
    b.exporter_key = *pinned;
    b.exporter_key_pinned = true;
  } else {
    absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(b.exporter_vkey);
    if (!key.ok() || exporter_file != absl::StrCat(b.exporter_vkey, "\n")) {
      return absl::DataLossError(absl::StrCat(
          "exporter.vkey is not a verifier key followed by a newline",
          key.ok() ? "" : absl::StrCat(": ", key.status().message())));
    }
    b.exporter_key = *key;
  }
  if (exporter_file != absl::StrCat(b.exporter_vkey, "\n")) {
    return absl::DataLossError("exporter.vkey must be the key followed by one newline");
  }
  absl::StatusOr<note::OpenedNote> opened = note::OpenNote(manifest_note, {b.exporter_key});
  if (!opened.ok()) {
    if (opened.status().code() == absl::StatusCode::kUnauthenticated) {
      return absl::UnauthenticatedError(
          absl::StrCat("manifest.note: ", opened.status().message(), " (exporter key ",
                       b.exporter_key.name, ")"));
    }
    return absl::DataLossError(absl::StrCat("manifest.note: ", opened.status().message()));
  }
  absl::StatusOr<Manifest> manifest = ParseManifest(opened->text);
  if (!manifest.ok()) return absl::DataLossError(std::string(manifest.status().message()));
  b.manifest = *std::move(manifest);

  // The directory holds exactly the covered files plus the two above.
  for (const fs::directory_entry& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name == kManifestFile || name == kExporterKeyFile) continue;
    if (!e.is_regular_file()) {
      return Mismatch(absl::StrCat("\"", name, "\" is not a regular file"));
    }
    if (b.manifest.Find(name) == nullptr) {
      return Mismatch(absl::StrCat("file \"", name, "\" is not covered by the manifest"));
    }
  }
  if (ec) return absl::DataLossError(absl::StrCat("listing ", dir, ": ", ec.message()));
  for (const ManifestFile& f : b.manifest.files) {
    if (!fs::is_regular_file(root / f.name, ec)) {
      return Mismatch(absl::StrCat("file \"", f.name, "\" listed in the manifest is missing"));
    }
    TRIALOG_ASSIGN_OR_RETURN(std::string contents, ReadWhole(root / f.name));
    if (f.name != kEntriesFile) {
      if (contents.size() != f.size) {
        return Mismatch(absl::StrCat(f.name, " has ", contents.size(), " bytes, the manifest says ", f.size));
      }
      if (crypto::Sha256(contents) != f.sha256) {
        return Mismatch(absl::StrCat(f.name, ": SHA-256 ", HexEncode(crypto::Sha256(contents)),
                                     " differs from the manifest's ", HexEncode(f.sha256)));
      }
    }
    b.files[f.name] = std::move(contents);
  }
  std::vector<absl::string_view> required = {kCheckpointFile, kLedgerKeyFile, kEntriesFile, kEventsFile};
  if (b.manifest.kind == kKindSubjectDisclosure) required.push_back(kProofsFile);
  for (absl::string_view name : required) {
    if (b.manifest.Find(name) == nullptr) {
      return Mismatch(absl::StrCat("a ", b.manifest.kind, " must hold ", name));
    }
  }
  return b;
}

absl::Status CheckBundleContents(const OpenedBundle& b, const std::vector<ledger::ParsedEntry>& entries,
                                 const note::Checkpoint& checkpoint) {
  const Manifest& m = b.manifest;
  const std::string& entries_file = b.file(kEntriesFile);
  const ManifestFile* listed = m.Find(kEntriesFile);
  if (listed == nullptr) return Mismatch("entries.bin is not listed");
  if (entries_file.size() != listed->size || crypto::Sha256(entries_file) != listed->sha256) {
    return Mismatch(absl::StrCat("entries.bin: size ", entries_file.size(), " / SHA-256 ",
                                 HexEncode(crypto::Sha256(entries_file)),
                                 " differ from the manifest's ", listed->size, " / ",
                                 HexEncode(listed->sha256)));
  }
  if (m.origin != checkpoint.origin || m.checkpoint_size != checkpoint.size ||
      m.checkpoint_root != checkpoint.root_hash) {
    return Mismatch("the manifest's origin, checkpoint size or root is not the checkpoint's");
  }
  if (entries.empty()) return Mismatch("entries.bin holds no entries");
  if (m.kind == kKindLedgerBundle &&
      (entries.size() != checkpoint.size || entries.front().entry.index() != 0)) {
    return Mismatch(absl::StrCat("a ledger bundle holds entries 0..", checkpoint.size - 1,
                                 " of its checkpoint; entries.bin holds ", entries.size()));
  }
  if (m.entries != entries.size()) {
    return Mismatch(absl::StrCat("the manifest says ", m.entries, " entries, entries.bin holds ",
                                 entries.size()));
  }
  if (m.first_index != entries.front().entry.index() || m.last_index != entries.back().entry.index()) {
    return Mismatch(absl::StrCat("the manifest says indexes ", m.first_index, "..", m.last_index,
                                 ", entries.bin holds ", entries.front().entry.index(), "..",
                                 entries.back().entry.index()));
  }
  if (m.head != entries.back().leaf_hash) {
    return Mismatch("the manifest's head is not the leaf hash of the last entry");
  }
  if (m.trial_id != entries.front().envelope.trial_id()) {
    return Mismatch(absl::StrCat("the manifest names trial ", m.trial_id, ", the entries ",
                                 entries.front().envelope.trial_id()));
  }
  // events.jsonl: one line per entry, each a rendering of it.
  const std::string& jsonl = b.file(kEventsFile);
  if (!jsonl.empty() && jsonl.back() != '\n') return Mismatch("events.jsonl does not end with a newline");
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(jsonl).substr(0, jsonl.empty() ? 0 : jsonl.size() - 1), '\n');
  if (jsonl.empty()) lines.clear();
  if (lines.size() != entries.size()) {
    return Mismatch(absl::StrCat("events.jsonl has ", lines.size(), " lines for ", entries.size(),
                                 " entries"));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    TRIALOG_RETURN_IF_ERROR(CheckEventLine(lines[i], entries[i]));
  }
  return absl::OkStatus();
}

BundleVerification VerifyLedgerBundle(const std::string& dir, absl::string_view ledger_vkey,
                                      const BundleTrust& trust, int threads) {
  BundleVerification v;
  auto fail = [&](ledger::Finding f, std::string message) {
    v.finding = f;
    v.message = std::move(message);
    return v;
  };
  absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(ledger_vkey);
  if (!key.ok()) return fail(ledger::Finding::kUnreadable, absl::StrCat("ledger key: ", key.status().message()));
  absl::StatusOr<OpenedBundle> b = OpenBundle(dir, trust);
  if (!b.ok()) return fail(ledger::Finding::kUnreadable, std::string(b.status().message()));
  v.manifest = b->manifest;
  v.exporter_key_name = b->exporter_key.name;
  v.exporter_key_pinned = b->exporter_key_pinned;
  if (b->manifest.kind != kKindLedgerBundle) {
    return fail(ledger::Finding::kUnreadable,
                absl::StrCat("this is a ", b->manifest.kind, ", not a ledger bundle"));
  }
  if (WithoutNewline(b->file(kLedgerKeyFile)) != ledger_vkey) {
    return fail(ledger::Finding::kCheckpointSignature,
                absl::StrCat("the bundle was exported for ledger key \"",
                             WithoutNewline(b->file(kLedgerKeyFile)), "\", not the pinned one"));
  }
  std::vector<ledger::ParsedEntry> parsed;
  uint64_t count = 0;
  absl::Status scan = ForEachEntryRecord(b->file(kEntriesFile), [&](uint64_t, absl::string_view) {
    ++count;
    return true;
  });
  const std::string& entries_file = b->file(kEntriesFile);
  ledger::EntryReader reader = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    return ForEachEntryRecord(entries_file, [&](uint64_t n, absl::string_view bytes) {
      if (n < from) return true;
      if (absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(bytes); p.ok()) {
        parsed.push_back(*std::move(p));
      }
      return sink(bytes);
    });
  };
  trial::TrialStateMachine rules;
  ledger::AuditOptions options;
  options.verify.threads = threads;
  options.domain = {&rules};
  v.audit = ledger::AuditLedger(reader, count, b->file(kCheckpointFile), *key, options);
  if (v.audit.finding != ledger::Finding::kOk) {
    v.first_bad_index = v.audit.first_bad_index;
    return fail(v.audit.finding, v.audit.message);
  }
  if (!scan.ok()) return fail(ledger::Finding::kUnreadable, std::string(scan.message()));
  if (absl::Status s = CheckBundleContents(*b, parsed, v.audit.checkpoint); !s.ok()) {
    return fail(ledger::Finding::kUnreadable, std::string(s.message()));
  }
  return fail(ledger::Finding::kOk,
              absl::StrCat(v.audit.message, "; bundle manifest signed by ", v.exporter_key_name,
                           v.exporter_key_pinned ? " (pinned key)" : " (key from the bundle, not pinned)",
                           "; every file matches it"));
}

}  // namespace trialog::exporter
