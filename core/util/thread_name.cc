#include "core/util/thread_name.h"

#include <pthread.h>

#include <string>

namespace trialog {

void NameThisThread(absl::string_view name) {
  // Linux: at most 16 bytes with the terminating NUL.
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace trialog
