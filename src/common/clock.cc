#include "common/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace sluice {

Micros SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Micros SystemClock::Monotonic() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {
std::tm ToTm(Micros t) {
  std::time_t secs = static_cast<std::time_t>(t / kMicrosPerSecond);
  if (t < 0 && t % kMicrosPerSecond != 0) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}
}  // namespace

std::string FormatIso8601(Micros t) {
  std::tm tm = ToTm(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatIso8601Micros(Micros t) {
  std::tm tm = ToTm(t);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  long frac = static_cast<long>(((t % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", frac);
  return buf;
}

std::optional<Micros> ParseIso8601(std::string_view s) {
  std::tm tm{};
  int consumed = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  Micros frac = 0;
  size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    Micros scale = 100000;
    size_t digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 6) frac += (str[i] - '0') * scale;
      scale /= 10;
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
  }
  Micros offset = 0;
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i + 6 == str.size() && (str[i] == '+' || str[i] == '-') && str[i + 3] == ':') {
    int hh = 0, mm = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (hh * 3600 + mm * 60) * kMicrosPerSecond * (str[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != str.size()) return std::nullopt;
  std::time_t secs = timegm(&tm);
  return static_cast<Micros>(secs) * kMicrosPerSecond + frac - offset;
}

}  // namespace sluice
