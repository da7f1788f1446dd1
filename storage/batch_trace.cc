#include "storage/batch_trace.h"

#include <atomic>

namespace trialog::storage {
namespace {
std::atomic<BatchTrace*> installed{nullptr};
}  // namespace

void BatchTrace::Record(const BatchTimes& t) {
  absl::MutexLock lock(&mu_);
  if (batches_.size() < capacity_) batches_.push_back(t);
}

std::vector<BatchTimes> BatchTrace::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

void BatchTrace::RecordIndexWrite(absl::Time start, absl::Time end) {
  absl::MutexLock lock(&mu_);
  if (index_writes_.size() < capacity_) index_writes_.emplace_back(start, end);
}

std::vector<std::pair<absl::Time, absl::Time>> BatchTrace::index_writes() const {
  absl::MutexLock lock(&mu_);
  return index_writes_;
}

BatchTrace* BatchTrace::Installed() { return installed.load(std::memory_order_acquire); }

void BatchTrace::Install(BatchTrace* trace) { installed.store(trace, std::memory_order_release); }

}  // namespace trialog::storage
