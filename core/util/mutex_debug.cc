#include "core/util/mutex_debug.h"

#include <cstdlib>
#include <cstring>

#include "absl/synchronization/mutex.h"

namespace trialog {

void DisableMutexDeadlockDetectionUnlessAsked() {
  const char* asked = std::getenv("TRIALOG_MUTEX_DEADLOCK_DETECTION");
  if (asked != nullptr && std::strcmp(asked, "1") == 0) return;
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace trialog
