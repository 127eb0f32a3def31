#include "store/duration_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace sluice::store {
namespace {

// Nearest-rank quantile of the exact values, as the histogram approximates it.
double ExactQuantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

TEST(DurationHistogram, QuantilesWithinThreePercentOfExact) {
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(3.0, 2.0);
  std::vector<double> values;
  DurationHistogram h;
  for (int i = 0; i < 20000; ++i) {
    double v = dist(rng);
    values.push_back(v);
    h.Add(v);
  }
  EXPECT_EQ(h.count(), 20000);
  for (double q : {0.01, 0.5, 0.9, 0.95, 0.99}) {
    double exact = ExactQuantile(values, q);
    EXPECT_NEAR(h.Quantile(q), exact, exact * 0.03) << "q=" << q;
  }
}

TEST(DurationHistogram, MergeEqualsAddingEverything) {
  DurationHistogram a;
  DurationHistogram b;
  DurationHistogram all;
  for (int i = 1; i < 500; ++i) {
    (i % 3 == 0 ? a : b).Add(i * 0.37);
    all.Add(i * 0.37);
  }
  a.Merge(b);
  EXPECT_EQ(a, all);
  EXPECT_DOUBLE_EQ(a.Quantile(0.95), all.Quantile(0.95));
}

TEST(DurationHistogram, EncodeDecodeRoundTrips) {
  DurationHistogram h;
  for (double v : {0.0, -3.0, 0.0005, 0.002, 1.0, 1.0, 3600.0, 86400.0 * 400, 1e30}) h.Add(v);
  std::string bytes = h.Encode();
  Result<DurationHistogram> back = DurationHistogram::Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->count(), 9);
  EXPECT_TRUE(DurationHistogram::Decode("").ok());
  EXPECT_EQ(DurationHistogram().Encode(), "");
}

TEST(DurationHistogram, DecodeRejectsTruncatedBytes) {
  DurationHistogram h;
  h.Add(5.0, 300);
  std::string bytes = h.Encode();
  EXPECT_FALSE(DurationHistogram::Decode(bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(DurationHistogram::Decode("\xff").ok());
}

TEST(DurationHistogram, TinyAndNegativeDurationsReadAsZero) {
  DurationHistogram h;
  h.Add(-1);
  h.Add(0.0001);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(DurationHistogram().Quantile(0.5), 0);
}

}  // namespace
}  // namespace sluice::store
