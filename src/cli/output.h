// Formatting of API responses for people: tables, tags, task states, times. Reading a JSON
// field never throws: a missing or mistyped field reads as the given fallback.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/json.h"

namespace sluice::cli {

// Columns padded to their widest cell, separated by two spaces, no trailing blanks; one
// "\n"-terminated line per row, header first (none if `header` is empty). Short rows are
// padded with empty cells.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// obj[key] if it is a string; numbers are printed; otherwise `fallback`.
std::string StringField(const Json& obj, std::string_view key, std::string_view fallback = "");

// A tags object as "k1=v1,k2=v2" (keys in order); "" for none.
std::string FormatTags(const Json& tags);

// A task's state. TaskLog has no state in WES 1.1; Sluice adds a "state" field, and without
// it the state is inferred: ended -> COMPLETE (exit 0) or EXECUTOR_ERROR, started ->
// RUNNING, else QUEUED.
std::string TaskState(const Json& task);

// "3 tasks: 2 COMPLETE, 1 RUNNING" (states in order of first appearance); "0 tasks".
std::string FormatTaskSummary(const std::vector<Json>& tasks);

// "12:00:01" in the local time zone, for progress lines.
std::string FormatClockTime(Micros t);

}  // namespace sluice::cli
