// DurationHistogram: a log-bucketed histogram of durations, small enough to keep one per
// stats roll-up row and merge at query time (16 buckets per power of two, so a percentile read
// from it is within about 2.2% of the true value). Used by the SQLite stats roll-ups and by the
// in-memory fake store, so both report the same percentiles.
//
// Thread-safety: a value type; no internal locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::store {

class DurationHistogram {
 public:
  static constexpr int kBucketsPerOctave = 16;
  // Durations below this (and negative ones) count in bucket 0, which reads back as 0 s.
  static constexpr double kMinSeconds = 0.001;

  // Adds `n` durations of `seconds`.
  void Add(double seconds, int64_t n = 1);
  void Merge(const DurationHistogram& other);

  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Nearest-rank quantile (q in [0, 1]) as its bucket's geometric midpoint; 0 when empty.
  double Quantile(double q) const;

  // Compact binary form (varints: index delta, count), "" when empty.
  std::string Encode() const;
  // Inverse of Encode; kInternal if `bytes` is malformed.
  static Result<DurationHistogram> Decode(std::string_view bytes);

  static int BucketOf(double seconds);
  static double BucketValue(int bucket);

  friend bool operator==(const DurationHistogram&, const DurationHistogram&) = default;

 private:
  void AddToBucket(int bucket, int64_t n);

  std::vector<std::pair<int, int64_t>> buckets_;  // (bucket, count > 0), by bucket
  int64_t count_ = 0;
};

}  // namespace sluice::store
