#include "api/list_params.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "api/query.h"

namespace sluice::api {
namespace {

constexpr Micros kDefaultStatsWindow = 30LL * 24 * 3600 * kMicrosPerSecond;
constexpr size_t kMaxShown = 60;

std::string Shown(std::string_view v) {
  if (v.size() <= kMaxShown) return std::string(v);
  return std::string(v.substr(0, kMaxShown)) + "...";
}

Status Bad(std::string_view name, std::string_view why) {
  return InvalidArgument(std::string(name) + ": " + std::string(why));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The single value of `name`, or nullopt; kInvalidArgument if given twice.
Result<std::optional<std::string>> Single(std::string_view query, std::string_view name) {
  std::vector<std::string> values = QueryParams(query, name);
  if (values.empty()) return std::optional<std::string>();
  if (values.size() > 1) return Bad(name, "given more than once");
  return std::optional<std::string>(std::move(values.front()));
}

Result<bool> ParseBool(std::string_view name, const std::optional<std::string>& v) {
  if (!v) return false;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  return Bad(name, "must be true or false, got '" + Shown(*v) + "'");
}

Status CheckKnown(std::string_view query, const std::vector<std::string_view>& known) {
  for (std::string_view n : QueryNames(query)) {
    if (std::find(known.begin(), known.end(), n) == known.end()) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Bad(Shown(n), "unknown parameter (known: " + list + ")");
    }
  }
  return Status();
}

}  // namespace

Result<Micros> ParseTimeParam(std::string_view name, std::string_view value) {
  if (value.empty()) return Bad(name, "empty; expected RFC 3339 time or epoch seconds");
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::optional<int64_t> secs = ParseNonNegativeInt(value);
    if (!secs || *secs > 253402300799) return Bad(name, "epoch seconds out of range");
    return *secs * kMicrosPerSecond;
  }
  std::string text(value);
  if (text.size() == 10) text += "T00:00:00Z";
  std::optional<Micros> t = ParseIso8601(text);
  if (!t) {
    return Bad(name, "expected an RFC 3339 time (2026-11-30T11:00:13Z) or epoch seconds, got '" +
                         Shown(value) + "'");
  }
  return *t;
}

Result<std::vector<State>> ParseStatesParam(std::string_view name,
                                            const std::vector<std::string>& values) {
  std::vector<State> states;
  for (const std::string& value : values) {
    std::string_view rest = value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view one = rest.substr(0, comma);
      std::optional<State> s = ParseState(Upper(one));
      if (one.empty() || !s) {
        return Bad(name, "'" + Shown(one) +
                             "' is not a state (QUEUED, INITIALIZING, RUNNING, PAUSED, COMPLETE, "
                             "EXECUTOR_ERROR, SYSTEM_ERROR, CANCELED, CANCELING, PREEMPTED, "
                             "UNKNOWN)");
      }
      if (std::find(states.begin(), states.end(), *s) == states.end()) states.push_back(*s);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  return states;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseTagsParam(
    std::string_view name, const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> tags;
  for (const std::string& v : values) {
    size_t colon = v.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Bad(name, "expected key:value, got '" + Shown(v) + "'");
    }
    std::pair<std::string, std::string> tag(v.substr(0, colon), v.substr(colon + 1));
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
  }
  return tags;
}

const std::vector<std::string_view>& RunRowFields() {
  static const std::vector<std::string_view> kFields = {
      "run_id",       "state",      "user",       "name",     "workflow_type",
      "submitted_at", "updated_at", "start_time", "end_time", "tags"};
  return kFields;
}

Result<RunListParams> ParseRunListParams(std::string_view query, bool strict) {
  static const std::vector<std::string_view> kKnown = {
      "page_size",       "page_token",       "state", "user", "tag",   "workflow_type",
      "submitted_after", "submitted_before", "name",  "sort", "order", "total",
      "fields"};
  if (strict) RETURN_IF_ERROR(CheckKnown(query, kKnown));
  RunListParams p;
  service::RunListRequest& r = p.request;
  store::RunFilter& f = r.filter;
  ASSIGN_OR_RETURN(r.page_size, ParsePageSize(query));
  ASSIGN_OR_RETURN(std::optional<std::string> token, Single(query, "page_token"));
  r.page_token = token.value_or("");
  ASSIGN_OR_RETURN(f.states, ParseStatesParam("state", QueryParams(query, "state")));
  ASSIGN_OR_RETURN(f.tags, ParseTagsParam("tag", QueryParams(query, "tag")));
  ASSIGN_OR_RETURN(std::optional<std::string> user, Single(query, "user"));
  if (user && user->empty()) return Bad("user", "empty");
  f.user = user.value_or("");
  ASSIGN_OR_RETURN(std::optional<std::string> type, Single(query, "workflow_type"));
  if (type && type->empty()) return Bad("workflow_type", "empty");
  f.workflow_type = type.value_or("");
  ASSIGN_OR_RETURN(std::optional<std::string> name, Single(query, "name"));
  if (name && name->empty()) return Bad("name", "empty (it is a prefix of the run's name)");
  f.name_prefix = name.value_or("");
  for (std::string_view key : {"submitted_after", "submitted_before"}) {
    ASSIGN_OR_RETURN(std::optional<std::string> v, Single(query, key));
    if (!v) continue;
    ASSIGN_OR_RETURN(Micros t, ParseTimeParam(key, *v));
    (key == "submitted_after" ? f.submitted_after : f.submitted_before) = t;
  }
  if (f.submitted_after && f.submitted_before && *f.submitted_after >= *f.submitted_before) {
    return Bad("submitted_before", "must be later than submitted_after");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> sort, Single(query, "sort"));
  ASSIGN_OR_RETURN(std::optional<std::string> order, Single(query, "order"));
  bool by_updated = false;
  if (sort) {
    if (*sort == "updated_at") {
      by_updated = true;
    } else if (*sort != "submitted_at") {
      return Bad("sort", "must be submitted_at or updated_at, got '" + Shown(*sort) + "'");
    }
  }
  bool asc = false;
  if (order) {
    if (*order == "asc") {
      asc = true;
    } else if (*order != "desc") {
      return Bad("order", "must be asc or desc, got '" + Shown(*order) + "'");
    }
  }
  r.sort = by_updated ? (asc ? store::RunSort::kUpdatedAsc : store::RunSort::kUpdatedDesc)
                      : (asc ? store::RunSort::kSubmittedAsc : store::RunSort::kSubmittedDesc);
  ASSIGN_OR_RETURN(std::optional<std::string> total, Single(query, "total"));
  ASSIGN_OR_RETURN(r.total, ParseBool("total", total));
  if (strict) {
    ASSIGN_OR_RETURN(std::optional<std::string> fields, Single(query, "fields"));
    if (fields) {
      std::string_view rest = *fields;
      while (true) {
        size_t comma = rest.find(',');
        std::string_view one = rest.substr(0, comma);
        const auto& known = RunRowFields();
        if (std::find(known.begin(), known.end(), one) == known.end()) {
          return Bad("fields", "'" + Shown(one) +
                                   "' is not a field (run_id, state, user, name, workflow_type, "
                                   "submitted_at, updated_at, start_time, end_time, tags)");
        }
        p.fields.emplace_back(one);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    }
  }
  p.extended = !f.empty() || r.sort != store::RunSort::kSubmittedDesc || r.total;
  return p;
}

Result<EventStreamParams> ParseEventStreamParams(std::string_view query,
                                                 std::string_view last_event_id_header,
                                                 bool run_scoped) {
  static const std::vector<std::string_view> kRunKnown = {"state", "tag", "last_event_id"};
  static const std::vector<std::string_view> kAllKnown = {"run", "state", "tag", "last_event_id"};
  RETURN_IF_ERROR(CheckKnown(query, run_scoped ? kRunKnown : kAllKnown));
  EventStreamParams p;
  if (!run_scoped) {
    ASSIGN_OR_RETURN(std::optional<std::string> run, Single(query, "run"));
    if (run && run->empty()) return Bad("run", "empty");
    p.filter.run_id = run.value_or("");
  }
  ASSIGN_OR_RETURN(p.filter.states, ParseStatesParam("state", QueryParams(query, "state")));
  ASSIGN_OR_RETURN(p.filter.tags, ParseTagsParam("tag", QueryParams(query, "tag")));
  std::string_view name = "Last-Event-ID";
  std::optional<std::string> id;
  if (!last_event_id_header.empty()) {
    id = std::string(last_event_id_header);
  } else {
    ASSIGN_OR_RETURN(id, Single(query, "last_event_id"));
    name = "last_event_id";
  }
  if (id) {
    std::optional<int64_t> seq = ParseNonNegativeInt(*id);
    if (!seq)
      return Bad(name, "must be an event id (a non-negative integer), got '" + Shown(*id) + "'");
    p.after = *seq;
  }
  return p;
}

Result<store::StatsQuery> ParseStatsParams(std::string_view query, Micros now) {
  RETURN_IF_ERROR(CheckKnown(query, {"from", "to", "group_by"}));
  store::StatsQuery q;
  ASSIGN_OR_RETURN(std::optional<std::string> to, Single(query, "to"));
  ASSIGN_OR_RETURN(std::optional<std::string> from, Single(query, "from"));
  if (to) {
    ASSIGN_OR_RETURN(q.to, ParseTimeParam("to", *to));
  } else {
    q.to = now;
  }
  if (from) {
    ASSIGN_OR_RETURN(q.from, ParseTimeParam("from", *from));
  } else {
    q.from = q.to - kDefaultStatsWindow;
  }
  if (q.from >= q.to) return Bad("from", "must be earlier than to");
  ASSIGN_OR_RETURN(std::optional<std::string> group, Single(query, "group_by"));
  std::string g = group.value_or("day");
  if (g == "day") {
    q.group_by = store::StatsGroupBy::kDay;
  } else if (g == "user") {
    q.group_by = store::StatsGroupBy::kUser;
  } else if (g == "workflow_type") {
    q.group_by = store::StatsGroupBy::kWorkflowType;
  } else if (g.rfind("tag:", 0) == 0 && g.size() > 4) {
    q.group_by = store::StatsGroupBy::kTag;
    q.tag_key = g.substr(4);
  } else {
    return Bad("group_by", "must be day, user, workflow_type or tag:<key>, got '" + Shown(g) + "'");
  }
  return q;
}

std::string GroupByName(const store::StatsQuery& query) {
  switch (query.group_by) {
    case store::StatsGroupBy::kDay:
      return "day";
    case store::StatsGroupBy::kUser:
      return "user";
    case store::StatsGroupBy::kWorkflowType:
      return "workflow_type";
    case store::StatsGroupBy::kTag:
      return "tag:" + query.tag_key;
  }
  return "day";
}

Result<TagsPatch> ParseTagsPatch(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Bad("body",
               "must be a JSON object like {\"tags\": {\"key\": \"value\", \"gone\": null}}");
  }
  TagsPatch patch;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "tags") {
      if (!it->is_object()) return Bad("tags", "must be an object of tag -> string (or null)");
      for (auto t = it->begin(); t != it->end(); ++t) {
        if (t.key().empty()) return Bad("tags", "a tag name is empty");
        if (t->is_null()) {
          patch.remove.push_back(t.key());
        } else if (t->is_string()) {
          patch.set[t.key()] = t->get<std::string>();
        } else {
          return Bad("tags." + Shown(t.key()), "must be a string, or null to remove the tag");
        }
      }
    } else if (key == "remove_tags") {
      if (!it->is_array()) return Bad("remove_tags", "must be an array of tag names");
      for (const auto& name : *it) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          return Bad("remove_tags", "must hold non-empty tag names");
        }
        patch.remove.push_back(name.get<std::string>());
      }
    } else {
      return Bad(Shown(key), "cannot be changed (PATCH changes only tags and remove_tags)");
    }
  }
  for (const std::string& r : patch.remove) {
    if (patch.set.count(r) != 0) return Bad("tags." + Shown(r), "both set and removed");
  }
  if (patch.set.empty() && patch.remove.empty()) {
    return Bad("body", "nothing to change: give tags and/or remove_tags");
  }
  return patch;
}

}  // namespace sluice::api
