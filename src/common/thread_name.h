// NameThisThread: gives the calling thread a name that `top -H`, `ps -L`, `perf` and gdb
// show (Linux keeps 15 bytes; a longer name is cut). Each long-lived thread of the server
// names itself first thing, so "which thread is busy" has an answer without a debugger.
// Thread-safety: affects only the calling thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr std::size_t kMaxThreadNameLength = 15;

void NameThisThread(std::string_view name);

// The calling thread's name, as the kernel holds it.
std::string ThisThreadName();

}  // namespace sluice
