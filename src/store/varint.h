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

}  // namespace sluice::store
