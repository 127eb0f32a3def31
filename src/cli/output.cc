#include "cli/output.h"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

namespace sluice::cli {

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  size_t columns = header.size();
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> width(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& row : rows) measure(row);

  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < columns) line += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  if (!header.empty()) emit(header);
  for (const auto& row : rows) emit(row);
  return out;
}

std::string StringField(const Json& obj, std::string_view key, std::string_view fallback) {
  if (!obj.is_object()) return std::string(fallback);
  auto it = obj.find(key);
  if (it == obj.end()) return std::string(fallback);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return std::string(fallback);
}

std::string FormatTags(const Json& tags) {
  if (!tags.is_object()) return "";
  std::string out;
  for (const auto& [key, value] : tags.items()) {
    if (!out.empty()) out += ',';
    out += key;
    out += '=';
    out += value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out;
}

std::string TaskState(const Json& task) {
  std::string state = StringField(task, "state");
  if (!state.empty()) return state;
  if (!StringField(task, "end_time").empty()) {
    auto it = task.find("exit_code");
    bool ok = it != task.end() && it->is_number_integer() && it->get<int64_t>() == 0;
    return ok ? "COMPLETE" : "EXECUTOR_ERROR";
  }
  if (!StringField(task, "start_time").empty()) return "RUNNING";
  return "QUEUED";
}

std::string FormatTaskSummary(const std::vector<Json>& tasks) {
  std::vector<std::pair<std::string, int>> counts;
  for (const Json& task : tasks) {
    std::string state = TaskState(task);
    auto it =
        std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == state; });
    if (it == counts.end()) {
      counts.emplace_back(state, 1);
    } else {
      ++it->second;
    }
  }
  std::string out = std::to_string(tasks.size()) + (tasks.size() == 1 ? " task" : " tasks");
  for (size_t i = 0; i < counts.size(); ++i) {
    out += i == 0 ? ": " : ", ";
    out += std::to_string(counts[i].second) + " " + counts[i].first;
  }
  return out;
}

std::string FormatClockTime(Micros t) {
  std::time_t secs = static_cast<std::time_t>(t / kMicrosPerSecond);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

}  // namespace sluice::cli
