// Clock: the only way code reads the time, so tests can control it.
// Times are microseconds since the Unix epoch (UTC) in an int64 (`Micros`).
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using Micros = int64_t;
constexpr Micros kMicrosPerSecond = 1'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps shown to people and stored in rows.
  virtual Micros Now() const = 0;
  // Monotonic time, for durations and deadlines inside one process.
  virtual Micros Monotonic() const = 0;
};

// The system clock.
class SystemClock final : public Clock {
 public:
  Micros Now() const override;
  Micros Monotonic() const override;
};

// "2026-11-30T11:00:13Z" (the WES format, second precision, UTC).
std::string FormatIso8601(Micros t);
// "2026-11-30T11:00:13.123456Z" (microsecond precision, for history events).
std::string FormatIso8601Micros(Micros t);
// Appends the FormatIso8601 (micros=false) or FormatIso8601Micros text of `t` to `out`,
// without building a string (hot paths writing JSON).
void AppendIso8601(std::string& out, Micros t, bool micros);
// Parses "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)"; nullopt if malformed.
std::optional<Micros> ParseIso8601(std::string_view s);

}  // namespace sluice
