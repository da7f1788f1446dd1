// Names for the threads trialog starts, so that `top -H`, `ps -L`, perf and
// gdb show which one does what (e.g. "tl-seq" for the sequencing thread)
// instead of the name of the thread that started it.

#ifndef TRIALOG_CORE_UTIL_THREAD_NAME_H_
#define TRIALOG_CORE_UTIL_THREAD_NAME_H_

#include "absl/strings/string_view.h"

namespace trialog {

// Names the calling thread `name`, cut to the 15 bytes Linux keeps. Best
// effort: a failure changes nothing else.
void NameThisThread(absl::string_view name);

}  // namespace trialog

#endif  // TRIALOG_CORE_UTIL_THREAD_NAME_H_
