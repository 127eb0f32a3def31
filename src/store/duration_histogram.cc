#include "store/duration_histogram.h"

#include <algorithm>
#include <cmath>

#include "store/varint.h"

namespace sluice::store {
namespace {

// Beyond any real duration (2^48 ms is ~9000 years): keeps a bad input from making a huge index.
constexpr int kMaxBucket = DurationHistogram::kBucketsPerOctave * 48;

}  // namespace

int DurationHistogram::BucketOf(double seconds) {
  if (!(seconds >= kMinSeconds)) return 0;  // also NaN
  double b = std::floor(std::log2(seconds / kMinSeconds) * kBucketsPerOctave);
  if (b >= kMaxBucket) return kMaxBucket;
  return 1 + static_cast<int>(b);
}

double DurationHistogram::BucketValue(int bucket) {
  if (bucket <= 0) return 0;
  return kMinSeconds * std::exp2((bucket - 1 + 0.5) / kBucketsPerOctave);
}

void DurationHistogram::AddToBucket(int bucket, int64_t n) {
  if (n <= 0) return;
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), bucket,
                             [](const std::pair<int, int64_t>& e, int b) { return e.first < b; });
  if (it != buckets_.end() && it->first == bucket) {
    it->second += n;
  } else {
    buckets_.insert(it, {bucket, n});
  }
  count_ += n;
}

void DurationHistogram::Add(double seconds, int64_t n) { AddToBucket(BucketOf(seconds), n); }

void DurationHistogram::Merge(const DurationHistogram& other) {
  for (const auto& [bucket, n] : other.buckets_) AddToBucket(bucket, n);
}

double DurationHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<int64_t>(rank, 1);
  int64_t seen = 0;
  for (const auto& [bucket, n] : buckets_) {
    seen += n;
    if (seen >= rank) return BucketValue(bucket);
  }
  return BucketValue(buckets_.back().first);
}

std::string DurationHistogram::Encode() const {
  std::string out;
  out.reserve(buckets_.size() * 3);
  int prev = 0;
  for (const auto& [bucket, n] : buckets_) {
    PutVarint(out, static_cast<uint64_t>(bucket - prev));
    PutVarint(out, static_cast<uint64_t>(n));
    prev = bucket;
  }
  return out;
}

Result<DurationHistogram> DurationHistogram::Decode(std::string_view bytes) {
  DurationHistogram h;
  int64_t bucket = 0;
  while (!bytes.empty()) {
    uint64_t delta = 0;
    uint64_t n = 0;
    if (!GetVarint(bytes, &delta) || !GetVarint(bytes, &n)) {
      return Internal("malformed duration histogram");
    }
    bucket += static_cast<int64_t>(delta);
    if (bucket > kMaxBucket || (delta == 0 && !h.buckets_.empty()) || n == 0 ||
        n > static_cast<uint64_t>(INT64_MAX)) {
      return Internal("malformed duration histogram");
    }
    h.buckets_.emplace_back(static_cast<int>(bucket), static_cast<int64_t>(n));
    h.count_ += static_cast<int64_t>(n);
  }
  return h;
}

}  // namespace sluice::store
