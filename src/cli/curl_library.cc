#include "cli/curl_library.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace sluice::cli {
namespace {

constexpr char kLibrary[] = "libcurl.so.4";  // the SONAME Debian's libcurl4 packages carry

struct Loaded {
  CurlLibrary table{};
  Status status;
};

template <typename F>
bool Bind(void* handle, const char* name, F* out, Status* status) {
  void* sym = ::dlsym(handle, name);
  if (sym == nullptr) {
    *status = Unavailable(std::string(kLibrary) + ": no symbol " + name);
    return false;
  }
  *out = reinterpret_cast<F>(sym);
  return true;
}

Loaded Load() {
  Loaded l;
  void* h = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* err = ::dlerror();
    l.status = Unavailable(std::string("cannot load ") + kLibrary + ": " +
                           (err != nullptr ? err : "unknown error"));
    return l;
  }
  CurlLibrary& t = l.table;
  CURLcode (*global_init)(long) = nullptr;
  Status& st = l.status;
  if (!(Bind(h, "curl_global_init", &global_init, &st) &&
        Bind(h, "curl_easy_init", &t.easy_init, &st) &&
        Bind(h, "curl_easy_cleanup", &t.easy_cleanup, &st) &&
        Bind(h, "curl_easy_reset", &t.easy_reset, &st) &&
        Bind(h, "curl_easy_setopt", &t.easy_setopt, &st) &&
        Bind(h, "curl_easy_perform", &t.easy_perform, &st) &&
        Bind(h, "curl_easy_getinfo", &t.easy_getinfo, &st) &&
        Bind(h, "curl_easy_strerror", &t.easy_strerror, &st) &&
        Bind(h, "curl_mime_init", &t.mime_init, &st) &&
        Bind(h, "curl_mime_addpart", &t.mime_addpart, &st) &&
        Bind(h, "curl_mime_name", &t.mime_name, &st) &&
        Bind(h, "curl_mime_data", &t.mime_data, &st) &&
        Bind(h, "curl_mime_filedata", &t.mime_filedata, &st) &&
        Bind(h, "curl_mime_filename", &t.mime_filename, &st) &&
        Bind(h, "curl_mime_free", &t.mime_free, &st) &&
        Bind(h, "curl_slist_append", &t.slist_append, &st) &&
        Bind(h, "curl_slist_free_all", &t.slist_free_all, &st))) {
    return l;
  }
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    l.status = Unavailable(std::string(kLibrary) + ": curl_global_init failed");
  }
  return l;  // the library stays loaded for the life of the process
}

}  // namespace

Result<const CurlLibrary*> Curl() {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = Load(); });
  if (!loaded.status.ok()) return loaded.status;
  return &loaded.table;
}

}  // namespace sluice::cli
