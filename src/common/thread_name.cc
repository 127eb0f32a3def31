#include "common/thread_name.h"

#include <pthread.h>

namespace sluice {

void NameThisThread(std::string_view name) {
  std::string cut(name.substr(0, kMaxThreadNameLength));
  // Fails only for a name too long, which `cut` cannot be; nothing to do about it otherwise.
  (void)::pthread_setname_np(::pthread_self(), cut.c_str());
}

std::string ThisThreadName() {
  char name[kMaxThreadNameLength + 1] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) != 0) return "";
  return name;
}

}  // namespace sluice
