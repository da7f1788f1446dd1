#include "core/ledger/parallel_verifier.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/batch.h"
#include "core/util/bytes.h"
#include "core/util/thread_name.h"

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
    for (int i = 0; i < workers; ++i) pool_.emplace_back([this] {
      NameThisThread("tl-verify");
      WorkerLoop();
    });
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
  BatchSignatureCache batches_seen;  // batch signatures already queued

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
      const v1::SignedEnvelope& se = parsed->entry.signed_envelope();
      if (key.ok() && IsBatchSigned(se)) {
        // One Ed25519 check per distinct batch (signature, key, root): the
        // first entry of a batch carries it, later ones only recompute the
        // root (AddParsed checks role and shape). A failure is reported at
        // the batch's first entry, the lowest index it affects.
        absl::StatusOr<std::string> message = BatchProofMessage(se, parsed->envelope);
        if (message.ok()) {
          std::string seen_key = absl::StrCat(se.batch_proof().signature(), *key, *message);
          if (!batches_seen.Contains(seen_key)) {
            batches_seen.Insert(std::move(seen_key));
            pending.push_back(PendingSignature{index, *std::move(message),
                                               se.batch_proof().signature(), *std::move(key),
                                               parsed->envelope.actor().principal_id()});
          }
        }
      } else if (key.ok()) {
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

// ---------------------------------------------------------------------------
// ScanChain

namespace trialog::ledger {
namespace {

std::string ChainBroken(uint64_t index, absl::string_view prev, absl::string_view expected) {
  return absl::StrCat("entry ", index, ": chain broken: prev_leaf_hash ", HexEncode(prev),
                      " != leaf hash of entry before it ", HexEncode(expected));
}

// A run of consecutive entries, copied out of the reader (whose views may
// not outlive the sink call), hashed by one thread.
struct ScanChunk {
  uint64_t first = 0;         // index of the first entry
  std::string data;           // entry bytes, back to back
  std::vector<size_t> ends;   // end offset of each entry in `data`
  // Filled in by Hash():
  std::string leaves;         // 32 bytes per good entry
  std::string first_prev;     // prev_leaf_hash of the first entry
  size_t bad = SIZE_MAX;      // position of the first bad entry in the chunk
  absl::Status bad_status;
  std::string subtree_root;   // when the chunk is full and has no bad entry
  std::atomic<bool> claimed{false};
  std::atomic<bool> done{false};

  void Reset(uint64_t first_index) {
    first = first_index;
    data.clear();
    ends.clear();
    leaves.clear();
    first_prev.clear();
    bad = SIZE_MAX;
    bad_status = absl::OkStatus();
    subtree_root.clear();
    claimed.store(false);
    done.store(false);
  }

  // Header checks, leaf hashes, links inside the chunk and, for a full
  // chunk of `capacity` (a power of two) entries, its subtree root.
  void Hash(size_t capacity) {
    const size_t n = ends.size();
    leaves.resize(n * merkle::kHashSize);
    size_t begin = 0;
    for (size_t j = 0; j < n; ++j) {
      const absl::string_view bytes(data.data() + begin, ends[j] - begin);
      begin = ends[j];
      const uint64_t expected = first + j;
      uint64_t index = 0;
      absl::string_view prev;
      absl::Status s = ReadEntryHeader(bytes, &index, &prev);
      if (!s.ok()) {
        bad = j;
        bad_status = absl::DataLossError(absl::StrCat("entry ", expected, ": ", s.message()));
        break;
      }
      if (index != expected) {
        bad = j;
        bad_status = absl::DataLossError(
            absl::StrCat("entry at position ", expected, " claims index ", index));
        break;
      }
      if (j == 0) {
        first_prev = std::string(prev);
      } else {
        const absl::string_view before(leaves.data() + (j - 1) * merkle::kHashSize, merkle::kHashSize);
        if (prev != before) {
          bad = j;
          bad_status = absl::DataLossError(ChainBroken(expected, prev, before));
          break;
        }
      }
      const std::string leaf = merkle::HashLeaf(bytes);
      std::memcpy(leaves.data() + j * merkle::kHashSize, leaf.data(), merkle::kHashSize);
    }
    if (bad != SIZE_MAX) {
      leaves.resize(bad * merkle::kHashSize);
    } else if (n == capacity) {
      // Fold pairs in place, level by level: node i of the next level is
      // written after nodes 2i and 2i+1 were read (and node i, if i > 0, was
      // read earlier for node i/2).
      std::string level = leaves;
      for (size_t m = n; m > 1; m /= 2) {
        for (size_t i = 0; i < m / 2; ++i) {
          merkle::HashChildrenTo(absl::string_view(level.data() + 2 * i * merkle::kHashSize, merkle::kHashSize),
                                 absl::string_view(level.data() + (2 * i + 1) * merkle::kHashSize,
                                                   merkle::kHashSize),
                                 level.data() + i * merkle::kHashSize);
        }
      }
      subtree_root = level.substr(0, merkle::kHashSize);
    }
  }

  absl::string_view Leaf(size_t j) const {
    return absl::string_view(leaves.data() + j * merkle::kHashSize, merkle::kHashSize);
  }
  size_t good() const { return bad == SIZE_MAX ? ends.size() : bad; }
};

// Hashing threads over chunks queued in index order.
class ScanPool {
 public:
  ScanPool(int workers, size_t capacity) : capacity_(capacity) {
    for (int i = 0; i < workers; ++i) pool_.emplace_back([this] {
      NameThisThread("tl-verify");
      WorkerLoop();
    });
  }
  ~ScanPool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : pool_) t.join();
  }

  void Push(std::unique_ptr<ScanChunk> c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(std::move(c));
    }
    work_cv_.notify_one();
  }

  size_t in_flight() {
    std::lock_guard<std::mutex> l(mu_);
    return queue_.size();
  }

  // Hashes an unclaimed chunk on the calling thread, or, if every chunk is
  // claimed, waits until the front one is done. No-op when empty.
  void HelpOrWait() {
    ScanChunk* c = nullptr;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (queue_.empty()) return;
      c = Claim();
      if (c == nullptr) {
        done_cv_.wait(l, [&] { return queue_.front()->done.load(); });
        return;
      }
    }
    Run(*c);
  }

  // The front chunk when it is done (removed from the queue), else null.
  std::unique_ptr<ScanChunk> PopDone() {
    std::lock_guard<std::mutex> l(mu_);
    if (queue_.empty() || !queue_.front()->done.load()) return nullptr;
    std::unique_ptr<ScanChunk> c = std::move(queue_.front());
    queue_.pop_front();
    return c;
  }

 private:
  // REQUIRES: mu_ held.
  ScanChunk* Claim() {
    for (const auto& q : queue_) {
      bool expected = false;
      if (!q->claimed.load() && q->claimed.compare_exchange_strong(expected, true)) return q.get();
    }
    return nullptr;
  }

  void Run(ScanChunk& c) {
    c.Hash(capacity_);
    {
      std::lock_guard<std::mutex> l(mu_);
      c.done.store(true);
    }
    done_cv_.notify_all();
  }

  void WorkerLoop() {
    for (;;) {
      ScanChunk* c = nullptr;
      {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait(l, [&] { return stop_ || (c = Claim()) != nullptr; });
        if (stop_ && c == nullptr) return;
      }
      Run(*c);
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::unique_ptr<ScanChunk>> queue_;
  bool stop_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace

absl::Status ReadEntryHeader(absl::string_view bytes, uint64_t* index, absl::string_view* prev) {
  size_t at = 0;
  *index = 0;
  if (!bytes.empty() && bytes[0] == 0x08) {
    // varint(index): at most 10 bytes, the 10th holding bit 63 only.
    uint64_t value = 0;
    int shift = 0;
    for (at = 1;; ++at) {
      if (at >= bytes.size()) return absl::DataLossError("entry bytes end inside the index varint");
      const uint8_t b = static_cast<uint8_t>(bytes[at]);
      if (shift == 63 && b > 1) return absl::DataLossError("index varint overflows 64 bits");
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    ++at;
    *index = value;
  }
  if (bytes.size() < at + 2 + merkle::kHashSize || bytes[at] != 0x12 || bytes[at + 1] != 0x20) {
    return absl::DataLossError(
        "prev_leaf_hash (0x12 0x20 + 32 bytes) is not where docs/FORMAT.md section 2 puts it "
        "(after the index): not a trialog entry, or damaged");
  }
  *prev = bytes.substr(at + 2, merkle::kHashSize);
  return absl::OkStatus();
}

void PerfectBorder::Append(uint32_t level, absl::string_view hash) {
  std::string h(hash);
  for (uint64_t index = size_ >> level; index & 1; index >>= 1) {
    merkle::HashChildrenTo(border_.back(), h, h.data());
    border_.pop_back();
  }
  border_.push_back(std::move(h));
  size_ += uint64_t{1} << level;
}

merkle::CompactTree PerfectBorder::Tree() const {
  // The border is exactly PerfectNodes(Range{0, size_}) by construction.
  return *merkle::CompactTree::FromBorder(size_, border_);
}

ChainScanResult ScanChain(const EntryReader& reader, const ChainScanOptions& options) {
  ChainScanResult result;
  result.head = ZeroHash();
  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  uint32_t level = 0;
  while ((size_t{2} << level) <= std::max<size_t>(1, options.chunk_entries)) ++level;
  const size_t capacity = size_t{1} << level;
  const size_t max_in_flight = static_cast<size_t>(threads) + 1;

  std::vector<uint64_t> roots_at = options.roots_at;
  std::sort(roots_at.begin(), roots_at.end());
  size_t next_root = 0;
  while (next_root < roots_at.size() && roots_at[next_root] == 0) {
    result.roots[0] = merkle::EmptyRoot();
    ++next_root;
  }

  PerfectBorder border;
  bool stop = false;
  bool partial_folded = false;
  merkle::CompactTree tail;  // the tree when the last folded chunk was partial
  std::vector<std::unique_ptr<ScanChunk>> spare;

  // Folds a hashed chunk (chunks come in index order). Sets `stop` at the
  // first bad entry.
  auto fold = [&](ScanChunk& c) {
    if (stop) return;
    size_t good = c.good();
    if (good > 0 && c.first_prev != result.head) {
      result.status = absl::DataLossError(ChainBroken(c.first, c.first_prev, result.head));
      result.first_bad_index = c.first;
      stop = true;
      return;
    }
    // Roots of requested prefixes ending inside this chunk.
    while (next_root < roots_at.size() && roots_at[next_root] <= c.first + good) {
      merkle::CompactTree t = border.Tree();
      for (uint64_t i = c.first; i < roots_at[next_root]; ++i) t.Append(c.Leaf(i - c.first));
      result.roots[roots_at[next_root]] = t.Root();
      ++next_root;
    }
    if (good == capacity) {
      border.Append(level, c.subtree_root);
    } else {
      tail = border.Tree();
      for (size_t j = 0; j < good; ++j) tail.Append(c.Leaf(j));
      partial_folded = true;
    }
    if (good > 0) result.head = std::string(c.Leaf(good - 1));
    result.size = c.first + good;
    if (c.bad != SIZE_MAX) {
      result.status = c.bad_status;
      result.first_bad_index = c.first + c.bad;
      stop = true;
    } else if (good < capacity) {
      stop = true;  // a partial chunk is the last one
    }
    if (options.progress) options.progress(result.size, options.expected_entries);
  };

  ScanPool pool(threads - 1, capacity);
  auto fold_done = [&] {
    while (std::unique_ptr<ScanChunk> c = pool.PopDone()) {
      fold(*c);
      spare.push_back(std::move(c));
    }
  };
  auto fresh = [&](uint64_t first) {
    std::unique_ptr<ScanChunk> c;
    if (spare.empty()) {
      c = std::make_unique<ScanChunk>();
    } else {
      c = std::move(spare.back());
      spare.pop_back();
    }
    c->Reset(first);
    return c;
  };

  std::unique_ptr<ScanChunk> cur = fresh(0);
  uint64_t next_index = 0;
  absl::Status read_status = reader(0, [&](absl::string_view bytes) -> bool {
    cur->data.append(bytes.data(), bytes.size());
    cur->ends.push_back(cur->data.size());
    ++next_index;
    if (cur->ends.size() < capacity) return true;
    pool.Push(std::move(cur));
    cur = fresh(next_index);
    fold_done();
    while (!stop && pool.in_flight() >= max_in_flight) {
      pool.HelpOrWait();
      fold_done();
    }
    return !stop;
  });
  if (!stop && !cur->ends.empty()) pool.Push(std::move(cur));
  while (!stop && pool.in_flight() > 0) {
    pool.HelpOrWait();
    fold_done();
  }

  result.root = partial_folded ? tail.Root() : border.Tree().Root();
  if (!read_status.ok() && result.status.ok()) {
    result.read_error = true;
    result.first_bad_index = result.size;
    result.status = read_status;
  }
  return result;
}

}  // namespace trialog::ledger
