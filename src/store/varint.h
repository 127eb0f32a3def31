// Varints (7 bits a byte, low first) and length-prefixed strings: the store's compact blobs
// (outbox rows, tags, duration histograms) are built from them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::store {

void PutVarint(std::string& out, uint64_t v);
void PutString(std::string& out, std::string_view s);
// Each consumes what it reads from the front of `in`; false if `in` ends first.
bool GetVarint(std::string_view& in, uint64_t* v);
bool GetString(std::string_view& in, std::string* s);

// Signed values as unsigned ones with small magnitudes first (0, -1, 1, -2, ...), so that a
// small negative number is a short varint too.
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace sluice::store
