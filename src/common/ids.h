// Id generation behind an interface so tests can get predictable ids.
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "common/thread_annotations.h"

namespace sluice {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A new globally unique id (a lowercase RFC 9562 version-7 UUID for the real one).
  virtual std::string NewId() = 0;
};

// Version-7 UUIDs: 48 bits of Unix time in milliseconds, then 74 random bits. Ids made close
// in time sort close together, so the store's id index grows at its end instead of touching
// random pages on every insert (and ids sort roughly by creation time for people too).
class RandomIdGenerator final : public IdGenerator {
 public:
  RandomIdGenerator();
  std::string NewId() override;

 private:
  Mutex mu_;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

// True if `s` looks like an id we could have issued: 1..64 chars of [A-Za-z0-9._-].
// Used to refuse path parameters that could never name a run or task.
bool IsValidId(std::string_view s);

}  // namespace sluice
