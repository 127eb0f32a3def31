// Timestamps shown in the context object and history (parsing is asl::ParseTimestamp in
// definition.h, shared with the validator).
#include <cstdio>
#include <string>

#include "asl/execution_state.h"

namespace sluice::asl::internal {

std::string FormatTimestampMillis(Micros t) {
  std::string s = FormatIso8601(t);  // "...:SSZ"
  Micros frac = ((t % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond;
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(frac / 1000));
  if (!s.empty() && s.back() == 'Z') s.insert(s.size() - 1, ms);
  return s;
}

}  // namespace sluice::asl::internal
