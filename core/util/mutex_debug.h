//
// Debian 12 builds abseil without NDEBUG, so every absl::Mutex acquisition in
// its libabsl_synchronization records lock-order edges in a process-wide graph
// (deadlock detection) under one global spin lock. Under trialogd's append load
// that bookkeeping showed up as several percent of server CPU and a contention
// point between gRPC threads.

#ifndef TRIALOG_CORE_UTIL_MUTEX_DEBUG_H_
#define TRIALOG_CORE_UTIL_MUTEX_DEBUG_H_

namespace trialog {

// Turns abseil's Mutex deadlock detection off for this process unless the
// environment variable TRIALOG_MUTEX_DEADLOCK_DETECTION is set to "1".
// Call once at the top of main(), before any thread starts. Unit tests do not
// call it, so in-process tests keep the detection; setting the variable keeps
// it in the spawned binaries too (e.g. for a debugging run of the suite).
void DisableMutexDeadlockDetectionUnlessAsked();

}  // namespace trialog

#endif  // TRIALOG_CORE_UTIL_MUTEX_DEBUG_H_
