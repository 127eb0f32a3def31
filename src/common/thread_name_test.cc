#include "common/thread_name.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace sluice {
namespace {

// What `top -H` and `ps -L` read.
std::string KernelCommOfThisThread() {
  std::ifstream in("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  std::string main_before = ThisThreadName();
  std::string seen, comm;
  std::thread t([&] {
    NameThisThread("writer");
    seen = ThisThreadName();
    comm = KernelCommOfThisThread();
  });
  t.join();
  EXPECT_EQ(seen, "writer");
  EXPECT_EQ(comm, "writer");
  EXPECT_EQ(ThisThreadName(), main_before);
}

TEST(ThreadNameTest, LongNamesAreCutToWhatTheKernelKeeps) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("a-name-longer-than-fifteen-bytes");
    seen = ThisThreadName();
  });
  t.join();
  EXPECT_EQ(seen, "a-name-longer-t");
  EXPECT_EQ(seen.size(), kMaxThreadNameLength);
}

}  // namespace
}  // namespace sluice
