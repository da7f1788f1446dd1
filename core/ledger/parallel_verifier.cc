#include "core/ledger/parallel_verifier.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"

namespace trialog::ledger {
namespace {

struct PendingSignature {
  uint64_t index;
  std::string message;  // prefix || envelope bytes
  std::string signature;
  std::string public_key;
  std::string principal_id;
};

// A run of signatures, verified by whichever threads get to it. Items are
// claimed in small batches through `next`; `done` counts finished items.
struct Chunk {
  std::vector<PendingSignature> items;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<size_t> first_bad{SIZE_MAX};  // lowest failing position

  bool finished() const { return done.load(std::memory_order_acquire) == items.size(); }
};

constexpr size_t kClaim = 16;  // items claimed at a time

// Verifies items of `c` until none is left to claim. Returns true if it
// finished the chunk's last item.
bool Work(Chunk& c) {
  bool finished_last = false;
  for (;;) {
    const size_t begin = c.next.fetch_add(kClaim, std::memory_order_relaxed);
    if (begin >= c.items.size()) return finished_last;
    const size_t end = std::min(c.items.size(), begin + kClaim);
    for (size_t i = begin; i < end; ++i) {
      const PendingSignature& p = c.items[i];
      if (!crypto::Verify(p.public_key, p.message, p.signature)) {
        size_t cur = c.first_bad.load();
        while (i < cur && !c.first_bad.compare_exchange_weak(cur, i)) {
        }
      }
    }
    const size_t n = end - begin;
    if (c.done.fetch_add(n, std::memory_order_acq_rel) + n == c.items.size()) finished_last = true;
  }
}

// Signature checking overlapped with the caller's parsing: worker threads
// verify queued chunks in order while the caller prepares the next one;
// the caller helps when it is ahead by `max_in_flight` chunks.
class SignaturePipeline {
 public:
  SignaturePipeline(int workers, size_t max_in_flight) : max_in_flight_(max_in_flight) {
    for (int i = 0; i < workers; ++i) pool_.emplace_back([this] { WorkerLoop(); });
  }
  ~SignaturePipeline() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : pool_) t.join();
  }

  void Push(std::vector<PendingSignature> items) {
    auto c = std::make_shared<Chunk>();
    c->items = std::move(items);
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(c);
    }
    cv_.notify_all();
  }

  // Helps until at most `limit` chunks are unfinished; then pops finished
  // chunks from the front. Returns the first failure found (in index
  // order), or nullptr.
  const PendingSignature* Drain(size_t limit) {
    for (;;) {
      std::shared_ptr<Chunk> front;
      size_t unfinished = 0;
      {
        std::lock_guard<std::mutex> l(mu_);
        while (!queue_.empty() && queue_.front()->finished()) {
          std::shared_ptr<Chunk> c = queue_.front();
          queue_.pop_front();
          checked_ += c->items.size();
          if (c->first_bad.load() != SIZE_MAX) {
            failed_ = c;
            return &c->items[c->first_bad.load()];
          }
        }
        for (const auto& c : queue_) unfinished += !c->finished();
        if (unfinished <= limit) return nullptr;
        for (const auto& c : queue_) {
          if (c->next.load(std::memory_order_relaxed) < c->items.size()) {
            front = c;
            break;
          }
        }
      }
      if (front) {
        Work(*front);
      } else {
        // Every item is claimed; wait for the workers to finish them.
        std::unique_lock<std::mutex> l(mu_);
        done_cv_.wait(l, [&] { return queue_.empty() || queue_.front()->finished(); });
      }
    }
  }

  const PendingSignature* DrainAll() { return Drain(0); }
  size_t max_in_flight() const { return max_in_flight_; }
  uint64_t checked() const { return checked_; }

 private:
  void WorkerLoop() {
    for (;;) {
      std::shared_ptr<Chunk> c;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] {
          if (stop_) return true;
          for (const auto& q : queue_) {
            if (q->next.load(std::memory_order_relaxed) < q->items.size()) return true;
          }
          return false;
        });
        if (stop_) return;
        for (const auto& q : queue_) {
          if (q->next.load(std::memory_order_relaxed) < q->items.size()) {
            c = q;
            break;
          }
        }
      }
      if (c && Work(*c)) {
        std::lock_guard<std::mutex> l(mu_);
        done_cv_.notify_all();
      }
    }
  }

  const size_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::shared_ptr<Chunk>> queue_;
  std::shared_ptr<Chunk> failed_;  // keeps a returned failure alive
  bool stop_ = false;
  uint64_t checked_ = 0;
  std::vector<std::thread> pool_;
};

}  // namespace

ParallelVerifyResult VerifyEntries(const EntryReader& reader, ChainVerifier& verifier,
                                   const ParallelVerifyOptions& options) {
  ParallelVerifyResult result;
  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t chunk_entries = std::max<size_t>(1, options.chunk_entries);
  // threads - 1 workers; the calling thread parses and helps when ahead.
  SignaturePipeline pipeline(options.check_signatures ? threads - 1 : 0, /*max_in_flight=*/2);
  std::vector<PendingSignature> pending;
  pending.reserve(chunk_entries);
  uint64_t done = 0;

  auto signature_failure = [&](const PendingSignature* p) {
    result.first_bad_index = p->index;
    result.status = absl::UnauthenticatedError(absl::StrCat(
        "entry ", p->index, ": signature by ", p->principal_id,
        " does not verify under the key the ledger held for that principal at this point"));
  };
  // Queues the pending signatures; with `all`, waits for every queued one.
  // False (result filled in) when one of them failed.
  auto push = [&](bool all) -> bool {
    if (!pending.empty()) {
      pipeline.Push(std::move(pending));
      pending = {};
      pending.reserve(chunk_entries);
    }
    const PendingSignature* bad = all ? pipeline.DrainAll() : pipeline.Drain(pipeline.max_in_flight());
    if (bad != nullptr) signature_failure(bad);
    return bad == nullptr;
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
      if (!push(/*all=*/true)) return false;
      result.status = s;
      result.first_bad_index = index;
      return false;
    }
    if (pending.size() >= chunk_entries && !push(/*all=*/false)) return false;
    ++done;
    if (options.progress && done % 4096 == 0) options.progress(done, options.expected_entries);
    return true;
  });
  if (result.status.ok()) push(/*all=*/true);  // a failure in the last chunks fills result in
  result.signatures_checked = pipeline.checked();
  if (!read_status.ok() && result.status.ok()) {
    result.read_error = true;
    result.first_bad_index = verifier.size();
    result.status = read_status;
  }
  if (options.progress) options.progress(done, options.expected_entries);
  return result;
}

}  // namespace trialog::ledger
