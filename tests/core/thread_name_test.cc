// NameThisThread: the name the kernel shows for the thread (what top -H and
// ps -L print), read back from /proc, not from our own call.

#include "core/util/thread_name.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace trialog {
namespace {

// The calling thread's name as /proc/self/task/<tid>/comm holds it.
std::string KernelNameOfThisThread() {
  const long tid = syscall(SYS_gettid);
  std::ifstream comm(absl::StrCat("/proc/self/task/", tid, "/comm"));
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST(ThreadNameTest, TheKernelShowsTheName) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("tl-sequence");
    seen = KernelNameOfThisThread();
  });
  t.join();
  EXPECT_EQ(seen, "tl-sequence");
}

TEST(ThreadNameTest, LongNamesAreCutTo15Bytes) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("tl-a-name-longer-than-fifteen");
    seen = KernelNameOfThisThread();
  });
  t.join();
  EXPECT_EQ(seen, "tl-a-name-longe");
}

}  // namespace
}  // namespace trialog
