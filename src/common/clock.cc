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
// Appends `v` as exactly `width` decimal digits (v >= 0, v < 10^width).
void AppendDigits(std::string& out, int64_t v, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}
}  // namespace

void AppendIso8601(std::string& out, Micros t, bool micros) {
  using namespace std::chrono;
  const sys_time<microseconds> tp{microseconds(t)};
  const sys_days day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> hms{tp - day};
  AppendDigits(out, static_cast<int>(ymd.year()), 4);
  out.push_back('-');
  AppendDigits(out, static_cast<unsigned>(ymd.month()), 2);
  out.push_back('-');
  AppendDigits(out, static_cast<unsigned>(ymd.day()), 2);
  out.push_back('T');
  AppendDigits(out, hms.hours().count(), 2);
  out.push_back(':');
  AppendDigits(out, hms.minutes().count(), 2);
  out.push_back(':');
  AppendDigits(out, hms.seconds().count(), 2);
  if (micros) {
    out.push_back('.');
    AppendDigits(out, hms.subseconds().count(), 6);
  }
  out.push_back('Z');
}

std::string FormatIso8601(Micros t) {
  std::string out;
  AppendIso8601(out, t, /*micros=*/false);
  return out;
}

std::string FormatIso8601Micros(Micros t) {
  std::string out;
  AppendIso8601(out, t, /*micros=*/true);
  return out;
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
