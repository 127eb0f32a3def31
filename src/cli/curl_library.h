// libcurl, loaded when the first HTTP request is made (dlopen of "libcurl.so.4") instead of
// at program start. libcurl pulls in about 28 shared libraries (TLS, Kerberos, LDAP, ...)
// whose loading and relocation cost ~15 ms per process here; commands that never talk HTTP
// (`serve`, `asl validate`, `asl run`) should not pay that.
//
// Thread-safety: Curl() loads once (std::call_once) and the table is immutable afterwards.
#pragma once

#include <curl/curl.h>

#include "common/status.h"

namespace sluice::cli {

// The libcurl entry points the CLI uses, with libcurl's own signatures.
struct CurlLibrary {
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_mime* (*mime_init)(CURL*);
  curl_mimepart* (*mime_addpart)(curl_mime*);
  CURLcode (*mime_name)(curl_mimepart*, const char*);
  CURLcode (*mime_data)(curl_mimepart*, const char*, size_t);
  CURLcode (*mime_filedata)(curl_mimepart*, const char*);
  CURLcode (*mime_filename)(curl_mimepart*, const char*);
  void (*mime_free)(curl_mime*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// The loaded library, globally initialised (curl_global_init). kUnavailable naming the
// library and dlerror() if it cannot be loaded or lacks a symbol.
Result<const CurlLibrary*> Curl();

}  // namespace sluice::cli
