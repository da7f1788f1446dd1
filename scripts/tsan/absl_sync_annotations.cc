// Tells ThreadSanitizer about absl::Mutex and absl::CondVar when abseil itself
// is not instrumented (Debian's libabsl_synchronization.so is built without
// -fsanitize=thread, so its ABSL_TSAN_MUTEX_* annotations are compiled out and
// its lock-free fast paths and futex waits are invisible: every field guarded
// by an absl::Mutex would be reported as a race). Linked into every executable
// of a TRIALOG_TSAN build only (top-level CMakeLists.txt), never elsewhere.
//
// How: this object defines the exported entry points of absl::Mutex and
// absl::CondVar under their mangled names, so the executable's definitions
// interpose on the shared library's (for our code, for gRPC's grpc_core::Mutex
// and for abseil's own Notification/BlockingCounter, which call them through
// the PLT). Each wrapper calls the library's real function (dlsym RTLD_NEXT)
// between TSan's public mutex annotations, the same calls abseil makes when it
// is built with TSan:
//   lock:   __tsan_mutex_pre_lock  -> real -> __tsan_mutex_post_lock
//   unlock: __tsan_mutex_pre_unlock -> real -> __tsan_mutex_post_unlock
// so TSan sees acquire/release happens-before edges and the lock order
// (deadlock detection), and ignores the library's own memory accesses in
// between (condition evaluation by another thread included). Await and
// CondVar::Wait release and re-acquire the mutex inside the library; they are
// annotated as an unlock followed by a lock. A thread-local depth keeps nested
// entry points (LockWhenWithTimeout -> LockWhenWithDeadline, Notify -> Lock)
// from being annotated twice.
//
// Tied to abseil 20220623 as Debian 12 ships it (inline namespace debian3;
// mutex word bit 0x8 = held by a writer): a wrapper whose library symbol is
// missing aborts the process on first use rather than run unannotated.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/synchronization/internal/kernel_timeout.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// In the TSan runtime, not in LLVM 14's <sanitizer/tsan_interface.h>:
// ignore this thread's memory accesses (not its synchronisation) between.
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

namespace {

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Time;
using absl::synchronization_internal::KernelTimeout;

thread_local int depth = 0;

// The library's definition of `mangled` (the next one after this executable).
void* Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found: %s\n", mangled, dlerror());
    std::abort();
  }
  return fn;
}

// The mode the calling thread holds `mu` in (abseil 20220623: kMuWriter).
unsigned HeldFlags(const Mutex* mu) {
  const auto* word = reinterpret_cast<const std::atomic<intptr_t>*>(mu);
  return (word->load(std::memory_order_relaxed) & 0x8) != 0 ? 0u : __tsan_mutex_read_lock;
}

// RAII depth counter: only the outermost wrapped call annotates.
struct Outer {
  Outer() : outermost(depth++ == 0) {}
  ~Outer() { --depth; }
  const bool outermost;
};

template <typename F>
void AnnotatedLock(void* mu, unsigned flags, F real) {
  Outer o;
  if (o.outermost) __tsan_mutex_pre_lock(mu, flags);
  real();
  if (o.outermost) __tsan_mutex_post_lock(mu, flags, 0);
}

template <typename F>
bool AnnotatedTryLock(void* mu, unsigned flags, F real) {
  Outer o;
  flags |= __tsan_mutex_try_lock;
  if (o.outermost) __tsan_mutex_pre_lock(mu, flags);
  const bool ok = real();
  if (o.outermost) __tsan_mutex_post_lock(mu, ok ? flags : flags | __tsan_mutex_try_lock_failed, 0);
  return ok;
}

template <typename F>
void AnnotatedUnlock(void* mu, unsigned flags, F real) {
  Outer o;
  if (o.outermost) __tsan_mutex_pre_unlock(mu, flags);
  real();
  if (o.outermost) __tsan_mutex_post_unlock(mu, flags);
}

// Released and re-acquired inside the library (Await, CondVar::Wait).
template <typename F>
bool AnnotatedRelock(void* mu, unsigned flags, F real) {
  Outer o;
  if (o.outermost) __tsan_mutex_pre_unlock(mu, flags);
  const bool r = real();
  if (o.outermost) {
    __tsan_mutex_post_unlock(mu, flags);
    __tsan_mutex_pre_lock(mu, flags);
    __tsan_mutex_post_lock(mu, flags, 0);
  }
  return r;
}

#define TRIALOG_REAL(type, mangled) \
  static const auto real = reinterpret_cast<type>(Real(mangled))

}  // namespace

// The definitions below carry the library's mangled names (asm labels) and
// its calling convention: `this` first, references as pointers.
#define TRIALOG_ENTRY(ret, name, mangled, ...) \
  extern "C" __attribute__((visibility("default"), used)) ret name(__VA_ARGS__) __asm__(mangled); \
  extern "C" ret name(__VA_ARGS__)

TRIALOG_ENTRY(void, TsanMutexLock, "_ZN4absl7debian35Mutex4LockEv", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  AnnotatedLock(mu, 0, [&] { real(mu); });
}
TRIALOG_ENTRY(void, TsanMutexReaderLock, "_ZN4absl7debian35Mutex10ReaderLockEv", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  AnnotatedLock(mu, __tsan_mutex_read_lock, [&] { real(mu); });
}
TRIALOG_ENTRY(bool, TsanMutexTryLock, "_ZN4absl7debian35Mutex7TryLockEv", Mutex* mu) {
  TRIALOG_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  return AnnotatedTryLock(mu, 0, [&] { return real(mu); });
}
TRIALOG_ENTRY(bool, TsanMutexReaderTryLock, "_ZN4absl7debian35Mutex13ReaderTryLockEv", Mutex* mu) {
  TRIALOG_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  return AnnotatedTryLock(mu, __tsan_mutex_read_lock, [&] { return real(mu); });
}
TRIALOG_ENTRY(void, TsanMutexUnlock, "_ZN4absl7debian35Mutex6UnlockEv", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  AnnotatedUnlock(mu, 0, [&] { real(mu); });
}
TRIALOG_ENTRY(void, TsanMutexReaderUnlock, "_ZN4absl7debian35Mutex12ReaderUnlockEv", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  AnnotatedUnlock(mu, __tsan_mutex_read_lock, [&] { real(mu); });
}

// LockWhen family: the lock is held on return whatever the result.
TRIALOG_ENTRY(void, TsanMutexLockWhen, "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE",
              Mutex* mu, const Condition* c) {
  TRIALOG_REAL(void (*)(Mutex*, const Condition*), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  AnnotatedLock(mu, 0, [&] { real(mu, c); });
}
TRIALOG_ENTRY(void, TsanMutexReaderLockWhen,
              "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE", Mutex* mu,
              const Condition* c) {
  TRIALOG_REAL(void (*)(Mutex*, const Condition*),
               "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  AnnotatedLock(mu, __tsan_mutex_read_lock, [&] { real(mu, c); });
}
TRIALOG_ENTRY(bool, TsanMutexLockWhenWithTimeout,
              "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE",
              Mutex* mu, const Condition* c, Duration d) {
  TRIALOG_REAL(bool (*)(Mutex*, const Condition*, Duration),
               "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool r = false;
  AnnotatedLock(mu, 0, [&] { r = real(mu, c, d); });
  return r;
}
TRIALOG_ENTRY(bool, TsanMutexLockWhenWithDeadline,
              "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE",
              Mutex* mu, const Condition* c, Time t) {
  TRIALOG_REAL(bool (*)(Mutex*, const Condition*, Time),
               "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool r = false;
  AnnotatedLock(mu, 0, [&] { r = real(mu, c, t); });
  return r;
}
TRIALOG_ENTRY(bool, TsanMutexReaderLockWhenWithTimeout,
              "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE",
              Mutex* mu, const Condition* c, Duration d) {
  TRIALOG_REAL(bool (*)(Mutex*, const Condition*, Duration),
               "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool r = false;
  AnnotatedLock(mu, __tsan_mutex_read_lock, [&] { r = real(mu, c, d); });
  return r;
}
TRIALOG_ENTRY(bool, TsanMutexReaderLockWhenWithDeadline,
              "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE",
              Mutex* mu, const Condition* c, Time t) {
  TRIALOG_REAL(bool (*)(Mutex*, const Condition*, Time),
               "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool r = false;
  AnnotatedLock(mu, __tsan_mutex_read_lock, [&] { r = real(mu, c, t); });
  return r;
}

// Await, AwaitWithTimeout, AwaitWithDeadline all reach AwaitCommon when the
// condition is false on entry (when it is true nothing is released).
TRIALOG_ENTRY(bool, TsanMutexAwaitCommon,
              "_ZN4absl7debian35Mutex11AwaitCommonERKNS0_9ConditionENS0_24synchronization_"
              "internal13KernelTimeoutE",
              Mutex* mu, const Condition* c, KernelTimeout t) {
  TRIALOG_REAL(bool (*)(Mutex*, const Condition*, KernelTimeout),
               "_ZN4absl7debian35Mutex11AwaitCommonERKNS0_9ConditionENS0_24synchronization_"
               "internal13KernelTimeoutE");
  return AnnotatedRelock(mu, HeldFlags(mu), [&] { return real(mu, c, t); });
}
// CondVar::Wait, WaitWithTimeout, WaitWithDeadline.
TRIALOG_ENTRY(bool, TsanCondVarWaitCommon,
              "_ZN4absl7debian37CondVar10WaitCommonEPNS0_5MutexENS0_24synchronization_"
              "internal13KernelTimeoutE",
              CondVar* cv, Mutex* mu, KernelTimeout t) {
  TRIALOG_REAL(bool (*)(CondVar*, Mutex*, KernelTimeout),
               "_ZN4absl7debian37CondVar10WaitCommonEPNS0_5MutexENS0_24synchronization_"
               "internal13KernelTimeoutE");
  return AnnotatedRelock(mu, HeldFlags(mu), [&] { return real(cv, mu, t); });
}

// A destroyed mutex's address may be reused by an unrelated one.
TRIALOG_ENTRY(void, TsanMutexDestroy1, "_ZN4absl7debian35MutexD1Ev", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35MutexD1Ev");
  __tsan_mutex_destroy(mu, 0);
  real(mu);
}
TRIALOG_ENTRY(void, TsanMutexDestroy2, "_ZN4absl7debian35MutexD2Ev", Mutex* mu) {
  TRIALOG_REAL(void (*)(Mutex*), "_ZN4absl7debian35MutexD2Ev");
  __tsan_mutex_destroy(mu, 0);
  real(mu);
}

// absl::Notification: WaitForNotification returns at once, without taking
// the mutex, when an uninstrumented atomic says Notify already ran; TSan then
// saw no happens-before from the notifier (found with a test program: a
// value written before Notify, read after WaitForNotification, reported as a
// race in about one run in three). Notify releases and every successful wait
// acquires the notification's address.
TRIALOG_ENTRY(void, TsanNotify, "_ZN4absl7debian312Notification6NotifyEv", void* n) {
  TRIALOG_REAL(void (*)(void*), "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(n);
  real(n);
}
TRIALOG_ENTRY(void, TsanWaitForNotification,
              "_ZNK4absl7debian312Notification19WaitForNotificationEv", const void* n) {
  TRIALOG_REAL(void (*)(const void*), "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(n);
  __tsan_acquire(const_cast<void*>(n));
}
TRIALOG_ENTRY(bool, TsanWaitForNotificationWithTimeout,
              "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE",
              const void* n, Duration d) {
  TRIALOG_REAL(bool (*)(const void*, Duration),
               "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool r = real(n, d);
  if (r) __tsan_acquire(const_cast<void*>(n));
  return r;
}
TRIALOG_ENTRY(bool, TsanWaitForNotificationWithDeadline,
              "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE",
              const void* n, Time t) {
  TRIALOG_REAL(bool (*)(const void*, Time),
               "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool r = real(n, t);
  if (r) __tsan_acquire(const_cast<void*>(n));
  return r;
}

// absl::BlockingCounter: every DecrementCount but the last touches only an
// uninstrumented atomic count, so what those callers wrote before it was
// not ordered before Wait's return (storage::Ledger::AppendAll waits so for
// answers). Each decrement releases, Wait acquires, the counter's address.
TRIALOG_ENTRY(bool, TsanDecrementCount, "_ZN4absl7debian315BlockingCounter14DecrementCountEv",
              void* c) {
  TRIALOG_REAL(bool (*)(void*), "_ZN4absl7debian315BlockingCounter14DecrementCountEv");
  __tsan_release(c);
  return real(c);
}
TRIALOG_ENTRY(void, TsanBlockingCounterWait, "_ZN4absl7debian315BlockingCounter4WaitEv", void* c) {
  TRIALOG_REAL(void (*)(void*), "_ZN4absl7debian315BlockingCounter4WaitEv");
  real(c);
  __tsan_acquire(c);
}

// RocksDB's write group (not abseil, but the same blind spot): the leader
// thread of a group commit copies every follower's WriteBatch into one
// (DBImpl::MergeBatch, called through the PLT) while the followers wait on
// RocksDB's uninstrumented WriteThread atomics, so TSan sees the leader's
// std::string::append (libstdc++, whose memcpy caller is an instantiation in
// our executable, out of reach of called_from_lib) read a batch another
// thread built without any happens-before: a false report (first seen: the
// sequencer's synced write merging the indexer's batch). The merge's own
// memory accesses are ignored; trialog code never runs inside it.
TRIALOG_ENTRY(void*, TsanRocksMergeBatch,
              "_ZN7rocksdb6DBImpl10MergeBatchERKNS_11WriteThread10WriteGroupEPNS_10WriteBatchEPS6_"
              "PmS7_",
              void* status_out, void* db, const void* group, void* tmp_batch, void** merged,
              size_t* write_with_wal, void** to_be_cached_state) {
  // rocksdb::Status is not trivially copyable: the Itanium ABI returns it
  // through a hidden first argument (and hands it back in RAX), which is
  // what this signature spells out.
  using Fn = void* (*)(void*, void*, const void*, void*, void**, size_t*, void**);
  TRIALOG_REAL(Fn, "_ZN7rocksdb6DBImpl10MergeBatchERKNS_11WriteThread10WriteGroupEPNS_"
                   "10WriteBatchEPS6_PmS7_");
  __tsan_ignore_thread_begin();
  void* r = real(status_out, db, group, tmp_batch, merged, write_with_wal, to_be_cached_state);
  __tsan_ignore_thread_end();
  return r;
}

// absl::Status's reference count: Ref is inline (instrumented) but the
// decrement and the delete of the shared StatusRep are in
// libabsl_status.so, so TSan saw a Status copied to another thread (e.g. a
// handler's answer read by gRPC's writer) freed by the last owner with no
// happens-before from the other owners' reads (first seen: trialogd's
// AppendStream reader dropping its copy of an error while the writer thread
// read the message). The same function as abseil 20220623's status.cc,
// compiled here with TSan, so the acquire/release on `ref` is seen.
void absl::Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* r = RepToPointer(rep);
  if (r->ref.load(std::memory_order_acquire) == 1 ||
      r->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete r;
  }
}
