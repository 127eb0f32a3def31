// Id generation behind an interface so tests can get predictable ids.
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "common/thread_annotations.h"

namespace sluice {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A new globally unique id (a lowercase RFC 4122 version-4 UUID for the real one).
  virtual std::string NewId() = 0;
};

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
bool IsValidId(const std::string& s);

}  // namespace sluice
