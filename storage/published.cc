#include "storage/published.h"

#include <utility>

namespace trialog::storage {

std::string Published::root() const {
  absl::MutexLock lock(&mu_);
  return root_;
}

std::string Published::checkpoint() const {
  absl::MutexLock lock(&mu_);
  return checkpoint_;
}

void Published::Checkpoint(uint64_t* size, std::string* note) const {
  absl::MutexLock lock(&mu_);
  *size = checkpoint_size_;
  *note = checkpoint_;
}

absl::Status Published::health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

bool Published::WaitForSize(uint64_t at_least, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return closed_ || size_.load(std::memory_order_acquire) >= at_least;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return size_.load(std::memory_order_acquire) >= at_least;
}

void Published::Publish(uint64_t size, std::string root, std::string checkpoint) {
  absl::MutexLock lock(&mu_);
  root_ = std::move(root);
  checkpoint_ = std::move(checkpoint);
  checkpoint_size_ = size;
  size_.store(size, std::memory_order_release);
}

void Published::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (health_.ok()) health_ = std::move(status);
}

void Published::MarkClosed() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace trialog::storage
