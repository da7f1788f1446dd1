// Full re-verification of a run of entries using every core: the chain,
// the registry and the domain rules are replayed in order on the calling
// thread (cheap), while Ed25519 signatures — the costly part — are checked
// in parallel by worker threads, chunk by chunk. The result is the same as
// feeding every entry to a ChainVerifier with signatures on, including
// which problem is reported first (the one at the lowest index).

#ifndef TRIALOG_CORE_LEDGER_PARALLEL_VERIFIER_H_
#define TRIALOG_CORE_LEDGER_PARALLEL_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/ledger/chain_verifier.h"

namespace trialog::ledger {

// Supplies entries in index order: calls `sink(bytes)` for each entry from
// `from` on, stopping early when sink returns false. Returns the reading
// error, if any (the caller reports it as unreadable input).
// An EntryReader's error carrying this payload (any value) says that the
// source's own checksums found an entry's stored bytes damaged (e.g. a
// RocksDB block checksum mismatch): the audit reports it as damage at the
// first entry not yet yielded, not as unreadable input.
inline constexpr char kEntryDamagedPayload[] = "trialog.dev/entry-damaged";

using EntryReader =
    std::function<absl::Status(uint64_t from, const std::function<bool(absl::string_view)>& sink)>;

struct ParallelVerifyOptions {
  int threads = 0;             // signature workers; 0 = hardware concurrency
  size_t chunk_entries = 2048; // entries per signature batch
  bool check_signatures = true;
  // Called now and then with (entries done, entries expected or 0).
  std::function<void(uint64_t, uint64_t)> progress;
  uint64_t expected_entries = 0;
};

struct ParallelVerifyResult {
  absl::Status status;          // first problem, as ChainVerifier::Add reports it
  uint64_t first_bad_index = 0; // valid when !status.ok() and the problem is an entry's
  bool read_error = false;      // the reader failed (not the data)
  uint64_t signatures_checked = 0;
};

// Feeds every entry from `reader` into `verifier`, from verifier.size() on.
// REQUIRES: `verifier` was built with check_signatures = false (signatures
// are checked here, in parallel). After a failure the verifier's state past
// first_bad_index is unspecified.
ParallelVerifyResult VerifyEntries(const EntryReader& reader, ChainVerifier& verifier,
                                   const ParallelVerifyOptions& options);

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_PARALLEL_VERIFIER_H_
