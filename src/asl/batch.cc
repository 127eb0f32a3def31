#include "asl/batch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace sluice::asl {
namespace {

constexpr std::string_view kSyncSuffix = ".sync";

// Every SubmitJob request field; the ones a local run does not use are accepted as they are.
const std::set<std::string, std::less<>>& KnownFields() {
  static const std::set<std::string, std::less<>> fields = {
      "JobName",
      "JobQueue",
      "JobDefinition",
      "ArrayProperties",
      "DependsOn",
      "Parameters",
      "ContainerOverrides",
      "NodeOverrides",
      "RetryStrategy",
      "PropagateTags",
      "Timeout",
      "Tags",
      "ShareIdentifier",
      "SchedulingPriorityOverride",
      "EksPropertiesOverride",
      "EcsPropertiesOverride",
      "ConsumableResourcePropertiesOverride"};
  return fields;
}

const std::set<std::string, std::less<>>& KnownContainerFields() {
  static const std::set<std::string, std::less<>> fields = {
      "Command", "Environment", "Memory", "Vcpus", "InstanceType", "ResourceRequirements"};
  return fields;
}

ErrorInfo ClientError(std::string cause) {
  return ErrorInfo{std::string(kBatchClientException), std::move(cause)};
}

// An integral JSON number (1 and 1.0 both count).
std::optional<int64_t> AsInteger(const Value& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

bool ParseDouble(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(d)) return false;
  *out = d;
  return true;
}

bool ParseInt(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 15) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::stoll(text);
  return true;
}

bool ValidJobName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// A required non-empty string field.
std::optional<ErrorInfo> RequiredString(const Value& input, const char* field, std::string* out) {
  auto it = input.find(field);
  if (it == input.end()) return ClientError(std::string(field) + ": required");
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return ClientError(std::string(field) + ": must be a non-empty string");
  }
  *out = it->get<std::string>();
  return std::nullopt;
}

// An object whose values are all strings (Parameters, Tags).
std::optional<ErrorInfo> StringMap(const Value& v, const char* field,
                                   std::vector<std::pair<std::string, std::string>>* out) {
  if (!v.is_object()) return ClientError(std::string(field) + ": must be an object");
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) {
      return ClientError(std::string(field) + "." + key + ": must be a string");
    }
    out->emplace_back(key, value.get<std::string>());
  }
  return std::nullopt;
}

std::optional<ErrorInfo> ParseEnvironment(const Value& env, BatchJobSpec* spec) {
  const std::string where = "ContainerOverrides.Environment";
  if (!env.is_array()) return ClientError(where + ": must be an array of {Name, Value}");
  std::set<std::string> seen;
  for (size_t i = 0; i < env.size(); ++i) {
    const Value& entry = env[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) return ClientError(at + ": must be an object {Name, Value}");
    auto name = entry.find("Name");
    auto value = entry.find("Value");
    if (name == entry.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      return ClientError(at + ".Name: must be a non-empty string");
    }
    const std::string& n = name->get_ref<const std::string&>();
    if (n.rfind("AWS_BATCH", 0) == 0) {
      return ClientError(at + ".Name: names starting with AWS_BATCH are reserved");
    }
    if (n.find('=') != std::string::npos) {
      return ClientError(at + ".Name: must not contain '='");
    }
    if (!seen.insert(n).second) return ClientError(at + ".Name: \"" + n + "\" given twice");
    std::string v;
    if (value != entry.end()) {
      if (!value->is_string()) return ClientError(at + ".Value: must be a string");
      v = value->get<std::string>();
    }
    spec->environment.emplace_back(n, std::move(v));
  }
  return std::nullopt;
}

std::optional<ErrorInfo> ParseResourceRequirements(const Value& reqs, BatchJobSpec* spec) {
  const std::string where = "ContainerOverrides.ResourceRequirements";
  if (!reqs.is_array()) return ClientError(where + ": must be an array of {Type, Value}");
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Value& entry = reqs[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) return ClientError(at + ": must be an object {Type, Value}");
    auto type = entry.find("Type");
    auto value = entry.find("Value");
    if (type == entry.end() || !type->is_string()) {
      return ClientError(at + ".Type: must be one of VCPU, MEMORY, GPU");
    }
    if (value == entry.end() || !value->is_string()) {
      return ClientError(at + ".Value: must be a string such as \"2\"");
    }
    const std::string& t = type->get_ref<const std::string&>();
    const std::string& text = value->get_ref<const std::string&>();
    if (t == "VCPU") {
      double d = 0;
      if (!ParseDouble(text, &d) || d <= 0) {
        return ClientError(at + ".Value: VCPU must be a positive number, got \"" + text + "\"");
      }
      spec->vcpus = d;
    } else if (t == "MEMORY" || t == "GPU") {
      int64_t n = 0;
      if (!ParseInt(text, &n) || (t == "MEMORY" && n == 0)) {
        return ClientError(at + ".Value: " + t + " must be a " +
                           (t == "MEMORY" ? "positive" : "non-negative") + " integer, got \"" +
                           text + "\"");
      }
      (t == "MEMORY" ? spec->memory_mib : spec->gpus) = n;
    } else {
      return ClientError(at + ".Type: must be one of VCPU, MEMORY, GPU, got \"" + t + "\"");
    }
    spec->resource_requirements.push_back({t, text});
  }
  return std::nullopt;
}

std::optional<ErrorInfo> ParseContainerOverrides(const Value& co, BatchJobSpec* spec) {
  if (!co.is_object()) return ClientError("ContainerOverrides: must be an object");
  for (const auto& [key, value] : co.items()) {
    if (!KnownContainerFields().contains(key)) {
      return ClientError("ContainerOverrides." + key + ": unknown field");
    }
  }
  if (auto it = co.find("Command"); it != co.end()) {
    if (!it->is_array()) return ClientError("ContainerOverrides.Command: must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return ClientError("ContainerOverrides.Command[" + std::to_string(i) +
                           "]: must be a string");
      }
      spec->command.push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = co.find("Environment"); it != co.end()) {
    if (auto err = ParseEnvironment(*it, spec)) return err;
  }
  if (auto it = co.find("Vcpus"); it != co.end()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      return ClientError("ContainerOverrides.Vcpus: must be a positive number");
    }
    spec->vcpus = it->get<double>();
  }
  if (auto it = co.find("Memory"); it != co.end()) {
    auto mib = AsInteger(*it);
    if (!mib || *mib <= 0) {
      return ClientError("ContainerOverrides.Memory: must be a positive integer (MiB)");
    }
    spec->memory_mib = *mib;
  }
  if (auto it = co.find("InstanceType"); it != co.end() && !it->is_string()) {
    return ClientError("ContainerOverrides.InstanceType: must be a string");
  }
  // Requirements come last: they win over the legacy Vcpus/Memory, as in Batch.
  if (auto it = co.find("ResourceRequirements"); it != co.end()) {
    if (auto err = ParseResourceRequirements(*it, spec)) return err;
  }
  return std::nullopt;
}

std::optional<ErrorInfo> ParseOptionalFields(const Value& input, BatchJobSpec* spec) {
  if (auto it = input.find("ContainerOverrides"); it != input.end()) {
    if (auto err = ParseContainerOverrides(*it, spec)) return err;
  }
  if (auto it = input.find("Timeout"); it != input.end()) {
    if (!it->is_object()) return ClientError("Timeout: must be an object");
    if (auto secs = it->find("AttemptDurationSeconds"); secs != it->end()) {
      auto n = AsInteger(*secs);
      if (!n || *n < 60) {
        return ClientError("Timeout.AttemptDurationSeconds: must be an integer of at least 60");
      }
      spec->attempt_duration_seconds = *n;
    }
  }
  if (auto it = input.find("RetryStrategy"); it != input.end()) {
    if (!it->is_object()) return ClientError("RetryStrategy: must be an object");
    if (auto att = it->find("Attempts"); att != it->end()) {
      auto n = AsInteger(*att);
      if (!n || *n < 1 || *n > 10) {
        return ClientError("RetryStrategy.Attempts: must be an integer from 1 to 10");
      }
      spec->retry_attempts = static_cast<int>(*n);
    }
  }
  if (auto it = input.find("Parameters"); it != input.end()) {
    if (auto err = StringMap(*it, "Parameters", &spec->parameters)) return err;
  }
  if (auto it = input.find("Tags"); it != input.end()) {
    std::vector<std::pair<std::string, std::string>> tags;
    if (auto err = StringMap(*it, "Tags", &tags)) return err;
    spec->tags = *it;
  }
  if (auto it = input.find("PropagateTags"); it != input.end()) {
    if (!it->is_boolean()) return ClientError("PropagateTags: must be a boolean");
    spec->propagate_tags = it->get<bool>();
  }
  if (auto it = input.find("ArrayProperties"); it != input.end()) {
    if (!it->is_object()) return ClientError("ArrayProperties: must be an object");
    if (auto size = it->find("Size"); size != it->end()) {
      auto n = AsInteger(*size);
      if (!n || *n < 2 || *n > 10000) {
        return ClientError("ArrayProperties.Size: must be an integer from 2 to 10000");
      }
      spec->array_size = *n;
    }
  }
  return std::nullopt;
}

Value Millis(Micros t) { return t / 1000; }

// 1 rather than 1.0 for whole numbers of vCPUs.
Value Number(double d) {
  if (std::floor(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  return d;
}

uint64_t Fnv1a(std::string_view text, uint64_t hash) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// SplitMix64's finaliser: spreads FNV's small differences ("1" vs "2") over every bit.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

bool IsBatchSubmitJob(std::string_view resource, bool* sync) {
  if (resource.substr(0, kBatchSubmitJob.size()) != kBatchSubmitJob) return false;
  std::string_view rest = resource.substr(kBatchSubmitJob.size());
  if (!rest.empty() && rest != kSyncSuffix) return false;
  if (sync != nullptr) *sync = !rest.empty();
  return true;
}

EvalResult<BatchJobSpec> ParseSubmitJob(const Value& effective_input) {
  if (!effective_input.is_object()) {
    return ClientError("the SubmitJob request (the task's Parameters) must be a JSON object");
  }
  for (const auto& [key, value] : effective_input.items()) {
    if (!KnownFields().contains(key)) return ClientError(key + ": unknown SubmitJob field");
  }
  BatchJobSpec spec;
  if (auto err = RequiredString(effective_input, "JobName", &spec.job_name)) return *err;
  if (!ValidJobName(spec.job_name)) {
    return ClientError("JobName: \"" + spec.job_name +
                       "\" must be 1-128 letters, digits, hyphens and underscores, starting "
                       "with a letter or digit");
  }
  if (auto err = RequiredString(effective_input, "JobQueue", &spec.job_queue)) return *err;
  if (auto err = RequiredString(effective_input, "JobDefinition", &spec.job_definition)) {
    return *err;
  }
  if (auto err = ParseOptionalFields(effective_input, &spec)) return *err;
  spec.request = effective_input;
  return spec;
}

std::string BatchJobArn(std::string_view job_id) {
  return "arn:aws:batch:local:000000000000:job/" + std::string(job_id);
}

std::string BatchJobId(std::string_view execution_id, std::string_view task_id) {
  uint64_t hi = Mix(Fnv1a(task_id, Fnv1a("/", Fnv1a(execution_id, 0xcbf29ce484222325ULL))));
  uint64_t lo = Mix(Fnv1a(execution_id, Fnv1a("/", Fnv1a(task_id, 0x84222325cbf29ce4ULL))));
  // RFC 9562 layout with version 8 (custom) and the variant bits 10.
  hi = (hi & ~0xF000ULL) | 0x8000ULL;
  lo = (lo & ~(0xC000000000000000ULL)) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string BatchLogStreamName(const BatchJobSpec& spec, std::string_view job_id) {
  std::string_view name = spec.job_definition;
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(0, colon);
  return std::string(name) + "/default/" + std::string(job_id);
}

std::vector<std::string> BatchCommandLine(const BatchJobSpec& spec) {
  std::vector<std::string> argv = spec.command;
  for (std::string& arg : argv) {
    if (arg.rfind("Ref::", 0) != 0) continue;
    std::string_view name = std::string_view(arg).substr(5);
    for (const auto& [key, value] : spec.parameters) {
      if (key == name) {
        arg = value;
        break;
      }
    }
  }
  return argv;
}

std::vector<std::pair<std::string, std::string>> BatchJobEnvironment(const BatchJobSpec& spec,
                                                                     std::string_view job_id,
                                                                     int attempt) {
  std::vector<std::pair<std::string, std::string>> env = spec.environment;
  env.emplace_back("AWS_BATCH_JOB_ID", std::string(job_id));
  env.emplace_back("AWS_BATCH_JQ_NAME", spec.job_queue);
  env.emplace_back("AWS_BATCH_JOB_ATTEMPT", std::to_string(attempt));
  return env;
}

Value BatchSubmitJobResponse(const BatchJobSpec& spec, std::string_view job_id) {
  Value response = Value::object();
  response["JobArn"] = BatchJobArn(job_id);
  response["JobName"] = spec.job_name;
  response["JobId"] = std::string(job_id);
  return response;
}

Value BatchJobDescription(const BatchJobSpec& spec, const BatchJobOutcome& outcome) {
  Value d = Value::object();
  d["JobArn"] = BatchJobArn(outcome.job_id);
  d["JobName"] = spec.job_name;
  d["JobId"] = outcome.job_id;
  d["JobQueue"] = spec.job_queue;
  d["Status"] = outcome.succeeded ? "SUCCEEDED" : "FAILED";
  Value attempts = Value::array();
  for (const BatchAttempt& a : outcome.attempts) {
    Value container = Value::object();
    if (a.exit_code) container["ExitCode"] = *a.exit_code;
    if (!a.log_stream_name.empty()) container["LogStreamName"] = a.log_stream_name;
    Value attempt = Value::object();
    attempt["Container"] = std::move(container);
    attempt["StartedAt"] = Millis(a.started_at);
    attempt["StoppedAt"] = Millis(a.stopped_at);
    attempt["StatusReason"] = a.status_reason;
    attempts.push_back(std::move(attempt));
  }
  d["Attempts"] = std::move(attempts);
  d["StatusReason"] = outcome.status_reason;
  d["CreatedAt"] = Millis(outcome.created_at);
  d["RetryStrategy"] = Value{{"Attempts", spec.retry_attempts}};
  const BatchAttempt* last = outcome.attempts.empty() ? nullptr : &outcome.attempts.back();
  if (last != nullptr) {
    d["StartedAt"] = Millis(last->started_at);
    d["StoppedAt"] = Millis(last->stopped_at);
  }
  d["JobDefinition"] = spec.job_definition;
  Value parameters = Value::object();
  for (const auto& [key, value] : spec.parameters) parameters[key] = value;
  d["Parameters"] = std::move(parameters);

  Value container = Value::object();
  container["Command"] = spec.command;
  Value env = Value::array();
  for (const auto& [name, value] : spec.environment) {
    env.push_back(Value{{"Name", name}, {"Value", value}});
  }
  container["Environment"] = std::move(env);
  if (last != nullptr && last->exit_code) container["ExitCode"] = *last->exit_code;
  if (last != nullptr && !last->log_stream_name.empty()) {
    container["LogStreamName"] = last->log_stream_name;
  }
  if (spec.vcpus) container["Vcpus"] = Number(*spec.vcpus);
  if (spec.memory_mib) container["Memory"] = *spec.memory_mib;
  Value reqs = Value::array();
  for (const BatchResourceRequirement& r : spec.resource_requirements) {
    reqs.push_back(Value{{"Type", r.type}, {"Value", r.value}});
  }
  container["ResourceRequirements"] = std::move(reqs);
  d["Container"] = std::move(container);
  if (spec.attempt_duration_seconds) {
    d["Timeout"] = Value{{"AttemptDurationSeconds", *spec.attempt_duration_seconds}};
  }
  d["Tags"] = spec.tags;
  d["PropagateTags"] = spec.propagate_tags;
  return d;
}

ErrorInfo BatchJobFailure(const Value& description) {
  return ErrorInfo{std::string(errors::kTaskFailed),
                   description.dump(-1, ' ', false, Value::error_handler_t::replace)};
}

}  // namespace sluice::asl
