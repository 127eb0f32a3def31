#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "common/ids.h"

namespace sluice::server {
namespace {

// One setting: how to parse it from text and the rule its value must obey. Parsing and
// checking are apart so ValidateConfig can re-check values set by any source.
struct Field {
  std::string_view key;
  Status (*set)(std::string_view text, ServeConfig& config);
  Status (*check)(const ServeConfig& config);
};

std::string Quoted(std::string_view text) {
  std::string s = "\"";
  s += text;
  s += '"';
  return s;
}

Status ParseInt64(std::string_view text, int64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return InvalidArgument("must be an integer (got " + Quoted(text) + ")");
  }
  return Status::Ok();
}

Status ParseInt(std::string_view text, int& out) {
  int64_t v = 0;
  RETURN_IF_ERROR(ParseInt64(text, v));
  if (v < INT32_MIN || v > INT32_MAX) {
    return InvalidArgument("must be an integer (got " + Quoted(text) + ")");
  }
  out = static_cast<int>(v);
  return Status::Ok();
}

Status ParseDouble(std::string_view text, double& out) {
  // std::from_chars for double is in libstdc++ 11+, but strtod keeps this portable.
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(out)) {
    return InvalidArgument("must be a number (got " + Quoted(text) + ")");
  }
  return Status::Ok();
}

Status CheckRange(int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return InvalidArgument("must be from " + std::to_string(lo) + " to " + std::to_string(hi) +
                           " (got " + std::to_string(v) + ")");
  }
  return Status::Ok();
}

Status CheckNonEmpty(const std::string& v) {
  if (v.empty()) return InvalidArgument("must not be empty");
  return Status::Ok();
}

constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                           "error", "critical", "off"};

Status CheckLogLevel(const std::string& v) {
  for (std::string_view level : kLogLevels) {
    if (v == level) return Status::Ok();
  }
  return InvalidArgument("must be one of trace, debug, info, warn, error, critical, off (got " +
                         Quoted(v) + ")");
}

Status CheckStore(const std::string& v) {
  if (v == "sqlite" || v.starts_with("postgres://") || v.starts_with("postgresql://")) {
    return Status::Ok();
  }
  return InvalidArgument("must be \"sqlite\" or a postgresql:// URL (got " + Quoted(v) + ")");
}

Status CheckReplicaId(const std::string& v) {
  if (v.empty() || IsValidId(v)) return Status::Ok();
  return InvalidArgument("must be 1 to 64 characters of [A-Za-z0-9._-] (got " + Quoted(v) + ")");
}

Status CheckExecutor(const std::string& v) {
  if (v == "local" || v == "slurm") return Status::Ok();
  return InvalidArgument("must be \"local\" or \"slurm\" (got " + Quoted(v) + ")");
}

// Whitespace-separated words (sbatch options from the environment or a flag).
std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    if (ch == ' ' || ch == '\t' || ch == '\n') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += ch;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

Status CheckSbatchOptions(const std::vector<std::string>& options) {
  for (const std::string& option : options) {
    if (!option.starts_with("-")) {
      return InvalidArgument("each entry must be an sbatch option starting with '-' (got " +
                             Quoted(option) + ")");
    }
  }
  return Status::Ok();
}

constexpr int64_t kMaxBodyBytesLimit = int64_t{1} << 40;

std::string FormatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// A retention age in days: 0 (keep) up to 100 years.
Status CheckDays(double v) {
  if (!(v >= 0 && v <= 36500)) {
    return InvalidArgument("must be from 0 (keep) to 36500 days (got " + FormatNumber(v) + ")");
  }
  return Status::Ok();
}

Status CheckPrice(double v) {
  if (!(v >= 0 && v <= 1e6)) {
    return InvalidArgument("must be from 0 to 1000000 (got " + FormatNumber(v) + ")");
  }
  return Status::Ok();
}

// A retention_by_tag key: "key:value" with a non-empty key.
Status CheckTagRuleKey(const std::string& rule) {
  size_t colon = rule.find(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("\"" + rule + "\": must be key:value");
  }
  return Status::Ok();
}

Status CheckRetentionMaps(const ServeConfig& c) {
  for (const auto& [rule, days] : c.retention_by_tag) {
    RETURN_IF_ERROR(CheckTagRuleKey(rule));
    Status st = CheckDays(days);
    if (!st.ok()) return st.WithPrefix(rule);
  }
  for (const auto& [type, days] : c.retention_by_workflow_type) {
    if (type.empty()) return InvalidArgument("workflow type must not be empty");
    Status st = CheckDays(days);
    if (!st.ok()) return st.WithPrefix(type);
  }
  return Status::Ok();
}

// The mapping-valued keys (YAML only): {name: days}.
constexpr std::string_view kMapKeys[] = {"retention_by_tag", "retention_by_workflow_type"};

std::map<std::string, double>* MapField(std::string_view key, ServeConfig& c) {
  if (key == "retention_by_tag") return &c.retention_by_tag;
  if (key == "retention_by_workflow_type") return &c.retention_by_workflow_type;
  return nullptr;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      {"host",
       [](std::string_view t, ServeConfig& c) {
         c.host = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckNonEmpty(c.host); }},
      {"port", [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.port); },
       [](const ServeConfig& c) { return CheckRange(c.port, 0, 65535); }},
      {"data_dir",
       [](std::string_view t, ServeConfig& c) {
         c.data_dir = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckNonEmpty(c.data_dir); }},
      {"store",
       [](std::string_view t, ServeConfig& c) {
         c.store = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckStore(c.store); }},
      {"max_concurrent_tasks",
       [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.max_concurrent_tasks); },
       [](const ServeConfig& c) { return CheckRange(c.max_concurrent_tasks, 1, 100000); }},
      {"max_active_runs",
       [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.max_active_runs); },
       [](const ServeConfig& c) { return CheckRange(c.max_active_runs, 1, 100000); }},
      {"scheduler_workers",
       [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.scheduler_workers); },
       [](const ServeConfig& c) { return CheckRange(c.scheduler_workers, 1, 64); }},
      {"io_threads", [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.io_threads); },
       [](const ServeConfig& c) { return CheckRange(c.io_threads, 1, 256); }},
      {"max_body_bytes",
       [](std::string_view t, ServeConfig& c) { return ParseInt64(t, c.max_body_bytes); },
       [](const ServeConfig& c) { return CheckRange(c.max_body_bytes, 1024, kMaxBodyBytesLimit); }},
      {"cancel_grace_seconds",
       [](std::string_view t, ServeConfig& c) { return ParseDouble(t, c.cancel_grace_seconds); },
       [](const ServeConfig& c) {
         if (!(c.cancel_grace_seconds >= 0 && c.cancel_grace_seconds <= 3600)) {
           std::ostringstream got;
           got << c.cancel_grace_seconds;
           return InvalidArgument("must be from 0 to 3600 seconds (got " + got.str() + ")");
         }
         return Status::Ok();
       }},
      {"log_level",
       [](std::string_view t, ServeConfig& c) {
         c.log_level = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckLogLevel(c.log_level); }},
      {"replica_id",
       [](std::string_view t, ServeConfig& c) {
         c.replica_id = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckReplicaId(c.replica_id); }},
      {"asl_bindings_file",
       [](std::string_view t, ServeConfig& c) {
         c.asl_bindings_file = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig&) { return Status::Ok(); }},
      {"asl_max_concurrency",
       [](std::string_view t, ServeConfig& c) { return ParseInt(t, c.asl_max_concurrency); },
       [](const ServeConfig& c) { return CheckRange(c.asl_max_concurrency, 1, 10000); }},
      {"reconcile_interval_seconds",
       [](std::string_view t, ServeConfig& c) {
         return ParseInt64(t, c.reconcile_interval_seconds);
       },
       [](const ServeConfig& c) { return CheckRange(c.reconcile_interval_seconds, 0, 86400); }},
      {"task_stale_seconds",
       [](std::string_view t, ServeConfig& c) { return ParseInt64(t, c.task_stale_seconds); },
       [](const ServeConfig& c) { return CheckRange(c.task_stale_seconds, 1, 7 * 86400); }},
      {"outbox_retention_seconds",
       [](std::string_view t, ServeConfig& c) {
         return ParseInt64(t, c.outbox_retention_seconds);
       },
       [](const ServeConfig& c) {
         return CheckRange(c.outbox_retention_seconds, 60, 365 * 86400);
       }},
      {"retention_days",
       [](std::string_view t, ServeConfig& c) { return ParseDouble(t, c.retention_days); },
       [](const ServeConfig& c) { return CheckDays(c.retention_days); }},
      {"retention_sweep_seconds",
       [](std::string_view t, ServeConfig& c) {
         return ParseInt64(t, c.retention_sweep_seconds);
       },
       [](const ServeConfig& c) { return CheckRange(c.retention_sweep_seconds, 1, 7 * 86400); }},
      {"lease_seconds",
       [](std::string_view t, ServeConfig& c) { return ParseInt64(t, c.lease_seconds); },
       [](const ServeConfig& c) { return CheckRange(c.lease_seconds, 3, 3600); }},
      {"archive_after_seconds",
       [](std::string_view t, ServeConfig& c) {
         return ParseInt64(t, c.archive_after_seconds);
       },
       [](const ServeConfig& c) { return CheckRange(c.archive_after_seconds, 0, 365 * 86400); }},
      {"executor",
       [](std::string_view t, ServeConfig& c) {
         c.executor = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckExecutor(c.executor); }},
      {"slurm_partition",
       [](std::string_view t, ServeConfig& c) {
         c.slurm_partition = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig&) { return Status::Ok(); }},
      {"slurm_account",
       [](std::string_view t, ServeConfig& c) {
         c.slurm_account = std::string(t);
         return Status::Ok();
       },
       [](const ServeConfig&) { return Status::Ok(); }},
      {"slurm_sbatch_options",
       [](std::string_view t, ServeConfig& c) {
         c.slurm_sbatch_options = SplitWords(t);
         return Status::Ok();
       },
       [](const ServeConfig& c) { return CheckSbatchOptions(c.slurm_sbatch_options); }},
      {"slurm_poll_interval_ms",
       [](std::string_view t, ServeConfig& c) { return ParseInt64(t, c.slurm_poll_interval_ms); },
       [](const ServeConfig& c) { return CheckRange(c.slurm_poll_interval_ms, 50, 600'000); }},
      {"price_per_cpu_hour",
       [](std::string_view t, ServeConfig& c) { return ParseDouble(t, c.price_per_cpu_hour); },
       [](const ServeConfig& c) { return CheckPrice(c.price_per_cpu_hour); }},
      {"price_per_gb_hour",
       [](std::string_view t, ServeConfig& c) { return ParseDouble(t, c.price_per_gb_hour); },
       [](const ServeConfig& c) { return CheckPrice(c.price_per_gb_hour); }},
  };
  return kFields;
}

const Field* FindField(std::string_view key) {
  for (const Field& f : Fields()) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

// Parses `text` into the field and checks its rule; errors are unprefixed.
Status SetField(const Field& field, std::string_view text, ServeConfig& config) {
  RETURN_IF_ERROR(field.set(text, config));
  return field.check(config);
}

std::string EnvName(std::string_view key) {
  std::string name = "SLUICE_";
  for (char ch : key) name += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  return name;
}

std::string FlagName(std::string_view key) {
  std::string name = "--";
  for (char ch : key) name += ch == '_' ? '-' : ch;
  return name;
}

std::string KnownKeys() {
  std::string keys;
  for (const Field& f : Fields()) {
    if (!keys.empty()) keys += ", ";
    keys += f.key;
  }
  for (std::string_view k : kMapKeys) {
    keys += ", ";
    keys += k;
  }
  return keys;
}

}  // namespace

Status ApplyYamlConfig(const std::string& path, ServeConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgument(path + ": cannot read: " + std::strerror(errno));

  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) return Status::Ok();  // an empty file sets nothing
  if (!root.IsMap()) {
    return InvalidArgument(path + ": must be a mapping of settings (" + KnownKeys() + ")");
  }

  // Apply to a copy so a bad file changes nothing.
  ServeConfig updated = config;
  try {
    for (const auto& item : root) {
      const YAML::Node& key_node = item.first;
      const YAML::Node& value = item.second;
      std::string where = path + ":" + std::to_string(key_node.Mark().line + 1);
      if (!key_node.IsScalar()) return InvalidArgument(where + ": keys must be plain names");
      std::string key = key_node.Scalar();
      if (std::map<std::string, double>* map = MapField(key, updated)) {
        if (value.IsNull()) {
          map->clear();
          continue;
        }
        if (!value.IsMap()) {
          return InvalidArgument(where + ": " + key + ": must be a mapping of name: days");
        }
        map->clear();
        for (const auto& entry : value) {
          std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
          if (!entry.second.IsScalar()) {
            return InvalidArgument(where + ": " + key + ": " + name + ": must be a number of days");
          }
          double days = 0;
          Status st = ParseDouble(entry.second.Scalar(), days);
          if (st.ok()) st = CheckDays(days);
          if (!st.ok()) return st.WithPrefix(where + ": " + key + ": " + name);
          (*map)[name] = days;
        }
        Status st = CheckRetentionMaps(updated);
        if (!st.ok()) return st.WithPrefix(where + ": " + key);
        continue;
      }
      const Field* field = FindField(key);
      if (field == nullptr) {
        return InvalidArgument(where + ": " + key + ": unknown key (known keys: " + KnownKeys() +
                               ")");
      }
      if (key == "slurm_sbatch_options" && value.IsSequence()) {
        // A list keeps options with spaces in them whole.
        updated.slurm_sbatch_options.clear();
        for (const auto& entry : value) {
          if (!entry.IsScalar()) {
            return InvalidArgument(where + ": " + key + ": entries must be plain strings");
          }
          updated.slurm_sbatch_options.push_back(entry.Scalar());
        }
        Status st = field->check(updated);
        if (!st.ok()) return st.WithPrefix(where + ": " + key);
        continue;
      }
      if (!value.IsScalar()) {
        return InvalidArgument(where + ": " + key + ": must be a single value, not " +
                               (value.IsNull()       ? "empty"
                                : value.IsSequence() ? "a list"
                                                     : "a mapping"));
      }
      Status st = SetField(*field, value.Scalar(), updated);
      if (!st.ok()) return st.WithPrefix(where + ": " + key);
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
  config = std::move(updated);
  return Status::Ok();
}

Status ApplyEnvConfig(const std::map<std::string, std::string>& env, ServeConfig& config) {
  // Unknown SLUICE_* variables are ignored: the environment is shared with the client
  // (SLUICE_SERVER, SLUICE_CONFIG) and other tools, so they are not necessarily typos.
  ServeConfig updated = config;
  for (const Field& field : Fields()) {
    std::string name = EnvName(field.key);
    auto it = env.find(name);
    if (it == env.end()) continue;
    Status st = SetField(field, it->second, updated);
    if (!st.ok()) return st.WithPrefix("environment variable " + name);
  }
  config = std::move(updated);
  return Status::Ok();
}

Status ApplyFlagConfig(const std::map<std::string, std::string>& flags, ServeConfig& config) {
  ServeConfig updated = config;
  for (const auto& [key, text] : flags) {
    const Field* field = FindField(key);
    if (field == nullptr) return InvalidArgument("no configuration key \"" + key + "\"");
    Status st = SetField(*field, text, updated);
    if (!st.ok()) return st.WithPrefix(FlagName(key));
  }
  config = std::move(updated);
  return Status::Ok();
}

Status ValidateConfig(const ServeConfig& config) {
  for (const Field& field : Fields()) {
    Status st = field.check(config);
    if (!st.ok()) return st.WithPrefix("configuration: " + std::string(field.key));
  }
  if (Status st = CheckRetentionMaps(config); !st.ok()) {
    return st.WithPrefix("configuration: retention");
  }
  return Status::Ok();
}

}  // namespace sluice::server
