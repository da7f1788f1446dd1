#include "core/ledger/parallel_verifier.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"

namespace trialog::ledger {
namespace {

struct PendingSignature {
  uint64_t index;
  std::string message;    // prefix || envelope bytes
  std::string signature;
  std::string public_key;
  std::string principal_id;
};

// Verifies all pending signatures on `threads` threads; returns the lowest
// failing position in `pending`, or pending.size() when all verify.
size_t VerifyChunk(const std::vector<PendingSignature>& pending, int threads) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> first_bad{pending.size()};
  auto work = [&] {
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= pending.size()) return;
      const PendingSignature& p = pending[i];
      if (!crypto::Verify(p.public_key, p.message, p.signature)) {
        size_t cur = first_bad.load();
        while (i < cur && !first_bad.compare_exchange_weak(cur, i)) {
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return first_bad.load();
}

}  // namespace

ParallelVerifyResult VerifyEntries(const EntryReader& reader, ChainVerifier& verifier,
                                   const ParallelVerifyOptions& options) {
  ParallelVerifyResult result;
  int threads = options.threads > 0 ? options.threads
                                    : std::max(1u, std::thread::hardware_concurrency());
  std::vector<PendingSignature> pending;
  pending.reserve(options.chunk_entries);
  uint64_t done = 0;

  // Flushes pending signatures. A bad signature at index i outranks any
  // later structural failure, so it is reported instead of it.
  auto flush = [&]() -> bool {
    if (pending.empty()) return true;
    size_t bad = VerifyChunk(pending, threads);
    result.signatures_checked += pending.size();
    if (bad < pending.size()) {
      const PendingSignature& p = pending[bad];
      result.first_bad_index = p.index;
      result.status = absl::UnauthenticatedError(absl::StrCat(
          "entry ", p.index, ": signature by ", p.principal_id,
          " does not verify under the key the ledger held for that principal at this point"));
      pending.clear();
      return false;
    }
    pending.clear();
    return true;
  };

  absl::Status read_status = reader(verifier.size(), [&](absl::string_view bytes) -> bool {
    const uint64_t index = verifier.size();
    absl::StatusOr<ParsedEntry> parsed = ParseEntry(bytes);
    if (parsed.ok() && options.check_signatures) {
      absl::StatusOr<std::string> key = verifier.SignerKey(*parsed);
      if (key.ok()) {
        pending.push_back(PendingSignature{
            index, EnvelopeSigningMessage(parsed->entry.signed_envelope().envelope()),
            parsed->entry.signed_envelope().signature(), *std::move(key),
            parsed->envelope.actor().principal_id()});
      }
    }
    absl::Status s = parsed.ok() ? verifier.AddParsed(*parsed) : verifier.Add(bytes);
    if (!s.ok()) {
      // Signatures of earlier entries may still be pending: they come first.
      if (!pending.empty() && pending.back().index == index) pending.pop_back();
      if (!flush()) return false;
      result.status = s;
      result.first_bad_index = index;
      return false;
    }
    if (pending.size() >= options.chunk_entries && !flush()) return false;
    ++done;
    if (options.progress && done % 4096 == 0) options.progress(done, options.expected_entries);
    return true;
  });
  if (result.status.ok() && !flush()) {
    // A signature failed in the last chunk: result already filled in.
  }
  if (!read_status.ok() && result.status.ok()) {
    result.read_error = true;
    result.first_bad_index = verifier.size();
    result.status = read_status;
  }
  if (options.progress) options.progress(done, options.expected_entries);
  return result;
}

}  // namespace trialog::ledger
