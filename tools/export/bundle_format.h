// The byte formats of an export bundle's own files (docs/EXPORT.md §2 has
// the same grammar for outsiders):
//
//   entries.bin  = "TRIALOG-ENTRIES-V1\n" *record
//   record       = len(4) entry            ; len: big-endian uint32, 1..kMaxEntryBytes
//                                          ; entry: the stored entry bytes, verbatim
//   proofs.bin   = "TRIALOG-PROOFS-V1\n" *proof
//   proof        = index(8) tree_size(8) count(1) count*hash(32)
//                                          ; big-endian uint64s; count <= 64
//   manifest     = the text of a C2SP signed note, lines in this order:
//     "trialog-export v1"
//     "kind " ("ledger-bundle" / "subject-disclosure")
//     "origin " ORIGIN
//     "trial " TRIAL_ID
//     ["subject " SUBJECT_ID]              ; subject-disclosure only
//     "checkpoint-size " DECIMAL
//     "checkpoint-root " BASE64(32 bytes)
//     "entries " DECIMAL                   ; records in entries.bin
//     "first-index " DECIMAL               ; index of the first record
//     "last-index " DECIMAL                ; index of the last record
//     "head " HEX(32 bytes)                ; leaf hash of the last record
//     "created " UTC-TIMESTAMP             ; e.g. 2026-01-02T03:04:05.000000Z
//     1*("file " NAME " " SIZE " " HEX(SHA-256))   ; sorted by NAME, unique
//
// DECIMAL has no leading zeros; HEX is lower case; BASE64 is canonical
// padded standard base64. NAME is [A-Za-z0-9._-]{1,64}.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_TOOLS_EXPORT_BUNDLE_FORMAT_H_
#define TRIALOG_TOOLS_EXPORT_BUNDLE_FORMAT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::exporter {

inline constexpr absl::string_view kEntriesMagic = "TRIALOG-ENTRIES-V1\n";
inline constexpr absl::string_view kProofsMagic = "TRIALOG-PROOFS-V1\n";
inline constexpr absl::string_view kManifestHeader = "trialog-export v1";
inline constexpr absl::string_view kKindLedgerBundle = "ledger-bundle";
inline constexpr absl::string_view kKindSubjectDisclosure = "subject-disclosure";
// Larger than any entry a server accepts (envelopes <= 256 KiB).
inline constexpr uint32_t kMaxEntryBytes = 1u << 20;
inline constexpr size_t kMaxProofHashes = 64;

// File names inside a bundle directory.
inline constexpr absl::string_view kManifestFile = "manifest.note";
inline constexpr absl::string_view kExporterKeyFile = "exporter.vkey";
inline constexpr absl::string_view kCheckpointFile = "checkpoint.note";
inline constexpr absl::string_view kLedgerKeyFile = "ledger.vkey";
inline constexpr absl::string_view kEntriesFile = "entries.bin";
inline constexpr absl::string_view kProofsFile = "proofs.bin";
inline constexpr absl::string_view kEventsFile = "events.jsonl";
inline constexpr absl::string_view kReadmeFile = "README.txt";

// entries.bin of `entries` (each the exact stored bytes).
// REQUIRES: every entry is 1..kMaxEntryBytes bytes (else INVALID_ARGUMENT).
absl::StatusOr<std::string> EncodeEntriesFile(const std::vector<std::string>& entries);

// Calls `sink(record number, entry bytes)` for each record in order,
// stopping early when it returns false. DATA_LOSS naming the byte offset
// when the magic is wrong, a length is 0 or above kMaxEntryBytes, a record
// runs past the end of the file. The view passed to sink lives as long as
// `file`.
absl::Status ForEachEntryRecord(absl::string_view file,
                                const std::function<bool(uint64_t, absl::string_view)>& sink);
// All records (errors as ForEachEntryRecord).
absl::StatusOr<std::vector<std::string>> DecodeEntriesFile(absl::string_view file);

struct IndexedProof {
  uint64_t index = 0;
  uint64_t tree_size = 0;
  std::vector<std::string> hashes;  // 32 bytes each, leaf to root
};
// REQUIRES: at most kMaxProofHashes hashes of 32 bytes each (else INVALID_ARGUMENT).
absl::StatusOr<std::string> EncodeProofsFile(const std::vector<IndexedProof>& proofs);
// DATA_LOSS naming the byte offset on a bad magic, a count above
// kMaxProofHashes or a truncated record.
absl::StatusOr<std::vector<IndexedProof>> DecodeProofsFile(absl::string_view file);

struct ManifestFile {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // 32 raw bytes
};

struct Manifest {
  std::string kind;             // kKindLedgerBundle or kKindSubjectDisclosure
  std::string origin;
  std::string trial_id;
  std::string subject_id;       // subject-disclosure only
  uint64_t checkpoint_size = 0;
  std::string checkpoint_root;  // 32 raw bytes
  uint64_t entries = 0;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  std::string head;             // 32 raw bytes
  std::string created;          // UTC timestamp text
  std::vector<ManifestFile> files;  // sorted by name

  // The entry for `name`, or nullptr.
  const ManifestFile* Find(absl::string_view name) const;
};

// The manifest's note text (ends with "\n"). INVALID_ARGUMENT if a field
// would break the grammar (a newline in a value, a bad file name, unsorted
// or duplicate files, hashes of the wrong size, an unknown kind).
absl::StatusOr<std::string> FormatManifest(const Manifest& m);

// Strict parse of a manifest's note text. INVALID_ARGUMENT naming the line
// and what is wrong.
absl::StatusOr<Manifest> ParseManifest(absl::string_view text);

// A file entry for `contents`.
ManifestFile DescribeFile(absl::string_view name, absl::string_view contents);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_BUNDLE_FORMAT_H_
