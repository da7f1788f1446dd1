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
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/ledger/chain_verifier.h"
#include "core/merkle/merkle.h"

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


// ---------------------------------------------------------------------------
// Chain and Merkle checks alone, on every core: for each entry, the index
// and prev_leaf_hash read from the bytes where docs/FORMAT.md §2 fixes them
// (no protobuf parse), the leaf hash of the bytes, the chain link to the
// entry before, and the RFC 6962 root. No signatures, registry, stream
// versions or rules (VerifyEntries does those).
//
// Entries are copied into chunks of `chunk_entries` (a power of two) as the
// reader yields them; worker threads leaf-hash a chunk, check its internal
// links and hash its perfect subtree; the calling thread checks the link
// between chunks and folds the subtree roots in index order. The first bad
// entry reported is the lowest one, as ChainVerifier would report for these
// checks.

struct ChainScanOptions {
  int threads = 0;              // hashing threads; 0 = hardware concurrency
  size_t chunk_entries = 4096;  // rounded down to a power of two (>= 1)
  // Prefix sizes whose roots to report in ChainScanResult::roots (e.g. a
  // checkpoint's size); sizes beyond the good prefix are not reported.
  std::vector<uint64_t> roots_at;
  // Called now and then with (entries done, expected_entries or 0).
  std::function<void(uint64_t, uint64_t)> progress;
  uint64_t expected_entries = 0;
};

struct ChainScanResult {
  // The first problem: DATA_LOSS "entry N: ..." (index or prev_leaf_hash not
  // where FORMAT.md puts them, wrong index, broken chain link), or the
  // reader's error (read_error true).
  absl::Status status;
  uint64_t first_bad_index = 0;  // valid when !status.ok()
  bool read_error = false;
  uint64_t size = 0;        // entries that passed: always the prefix [0, size)
  std::string head;         // leaf hash of entry size - 1 (ZeroHash() when 0)
  std::string root;         // RFC 6962 root of the first `size` entries
  std::map<uint64_t, std::string> roots;  // root at each roots_at size <= size
};

// Scans every entry `reader` yields from index 0.
ChainScanResult ScanChain(const EntryReader& reader, const ChainScanOptions& options);

// Reads an entry's index and prev_leaf_hash from its bytes, laid out as
// docs/FORMAT.md §2 fixes them: [0x08 varint(index)] 0x12 0x20 hash[32]
// (field 1 absent for index 0). DATA_LOSS naming what is wrong otherwise.
// `prev` points into `bytes`.
absl::Status ReadEntryHeader(absl::string_view bytes, uint64_t* index, absl::string_view* prev);

// The right border of a Merkle tree grown by perfect subtrees: appending
// the root of a perfect subtree of 2^level leaves at a size that is a
// multiple of 2^level. Used to fold chunk roots computed in parallel.
class PerfectBorder {
 public:
  // REQUIRES: size() % (1 << level) == 0, hash is 32 bytes.
  void Append(uint32_t level, absl::string_view hash);
  uint64_t size() const { return size_; }
  // The same tree as a CompactTree (to append single leaves, or for Root()).
  merkle::CompactTree Tree() const;

 private:
  uint64_t size_ = 0;
  std::vector<std::string> border_;  // perfect nodes, left to right
};

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_PARALLEL_VERIFIER_H_
