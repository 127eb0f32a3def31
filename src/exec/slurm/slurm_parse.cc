#include "exec/slurm/slurm_parse.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>

namespace sluice::exec::slurm {
namespace {

std::vector<std::string_view> Split(std::string_view line, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = line.find(sep, start);
    if (end == std::string_view::npos) {
      parts.push_back(line.substr(start));
      return parts;
    }
    parts.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

std::vector<std::string_view> Lines(std::string_view out) {
  std::vector<std::string_view> lines;
  for (std::string_view line : Split(out, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Epoch seconds (SLURM_TIME_FORMAT=%s); N/A, Unknown, None and 0 mean "not known".
std::optional<Micros> ParseTime(std::string_view text) {
  std::optional<int64_t> seconds = ParseNumber<int64_t>(text);
  if (!seconds.has_value() || *seconds <= 0) return std::nullopt;
  return *seconds * kMicrosPerSecond;
}

Status Malformed(std::string_view what, std::string_view line) {
  return InvalidArgument(std::string(what) + ": malformed line '" + std::string(line) + "'");
}

}  // namespace

bool IsSlurmJobId(std::string_view job_id) {
  return !job_id.empty() && job_id.size() <= 20 &&
         job_id.find_first_not_of("0123456789") == std::string_view::npos;
}

Result<std::vector<SlurmJob>> ParseSqueue(std::string_view out) {
  std::vector<SlurmJob> jobs;
  for (std::string_view line : Lines(out)) {
    // JobID|State|exit_code|StartTime|EndTime|NodeList|Reason|Name|  (Name may hold '|')
    std::vector<std::string_view> f = Split(line, '|');
    if (f.size() < 9 || !IsSlurmJobId(f[0]) || f[1].empty()) return Malformed("squeue", line);
    std::optional<int> status = ParseNumber<int>(f[2]);
    if (!status.has_value()) return Malformed("squeue", line);
    SlurmJob job;
    job.job_id = std::string(f[0]);
    job.state = std::string(f[1]);
    // A raw wait status, as waitpid(2) returns it.
    job.signal = *status & 0x7f;
    job.exit_code = (*status >> 8) & 0xff;
    job.start_time = ParseTime(f[3]);
    job.end_time = ParseTime(f[4]);
    job.node = std::string(f[5]);
    job.reason = std::string(f[6]);
    // Everything between the Reason separator and the final one.
    size_t name_start = 0;
    for (int i = 0; i < 7; ++i) name_start = line.find('|', name_start) + 1;
    std::string_view name = line.substr(name_start);
    if (!name.empty() && name.back() == '|') name.remove_suffix(1);
    job.name = std::string(name);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<std::vector<SlurmJob>> ParseSacct(std::string_view out) {
  std::vector<SlurmJob> jobs;
  std::map<std::string, size_t> index;
  for (std::string_view line : Lines(out)) {
    // JobID|State|ExitCode|Start|End|NodeList|JobName  (JobName may hold '|')
    std::vector<std::string_view> f = Split(line, '|');
    // Rows that do not parse are skipped, not fatal: Slurm's own jobcomp log garbles the
    // row of any job whose name holds a space (State comes back empty), and one user's odd
    // job must not stop the tracking of everybody else's.
    if (f.size() < 7 || f[0].find('.') != std::string_view::npos) continue;  // or a job step
    if (!IsSlurmJobId(f[0])) continue;
    SlurmJob job;
    job.job_id = std::string(f[0]);
    std::string_view state = f[1];
    job.state = std::string(state.substr(0, state.find(' ')));  // "CANCELLED by 0"
    size_t colon = f[2].find(':');
    if (colon == std::string_view::npos) continue;
    std::optional<int> code = ParseNumber<int>(f[2].substr(0, colon));
    std::optional<int> sig = ParseNumber<int>(f[2].substr(colon + 1));
    if (!code.has_value() || !sig.has_value() || job.state.empty()) continue;
    job.exit_code = *code;
    job.signal = *sig;
    job.start_time = ParseTime(f[3]);
    job.end_time = ParseTime(f[4]);
    job.node = f[5] == "None assigned" ? "" : std::string(f[5]);
    size_t name_start = 0;
    for (int i = 0; i < 6; ++i) name_start = line.find('|', name_start) + 1;
    job.name = std::string(line.substr(name_start));
    if (auto it = index.find(job.job_id); it != index.end()) {
      jobs[it->second] = std::move(job);
    } else {
      index.emplace(job.job_id, jobs.size());
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

Result<std::string> ParseSbatchJobId(std::string_view out) {
  std::vector<std::string_view> lines = Lines(out);
  // sbatch may print warnings first; the id is the last line.
  if (lines.empty()) return InvalidArgument("sbatch: printed no job id");
  std::string_view id = lines.back();
  id = id.substr(0, id.find(';'));
  if (!IsSlurmJobId(id)) {
    return InvalidArgument("sbatch: no job id in '" + std::string(lines.back()) + "'");
  }
  return std::string(id);
}

JobPhase PhaseOf(std::string_view state) {
  static const std::map<std::string_view, JobPhase> kPhases = {
      {"PENDING", JobPhase::kPending},     {"CONFIGURING", JobPhase::kPending},
      {"REQUEUED", JobPhase::kPending},    {"REQUEUE_HOLD", JobPhase::kPending},
      {"REQUEUE_FED", JobPhase::kPending}, {"RESV_DEL_HOLD", JobPhase::kPending},
      {"RUNNING", JobPhase::kRunning},     {"COMPLETING", JobPhase::kRunning},
      {"SUSPENDED", JobPhase::kRunning},   {"STOPPED", JobPhase::kRunning},
      {"SIGNALING", JobPhase::kRunning},   {"STAGE_OUT", JobPhase::kRunning},
      {"RESIZING", JobPhase::kRunning},    {"COMPLETED", JobPhase::kEnded},
      {"FAILED", JobPhase::kEnded},        {"CANCELLED", JobPhase::kEnded},
      {"TIMEOUT", JobPhase::kEnded},       {"OUT_OF_MEMORY", JobPhase::kEnded},
      {"NODE_FAIL", JobPhase::kEnded},     {"BOOT_FAIL", JobPhase::kEnded},
      {"DEADLINE", JobPhase::kEnded},      {"PREEMPTED", JobPhase::kEnded},
      {"REVOKED", JobPhase::kEnded},       {"SPECIAL_EXIT", JobPhase::kEnded},
  };
  auto it = kPhases.find(state);
  // An unknown (newer) state: wait and see rather than end a task on a guess.
  return it == kPhases.end() ? JobPhase::kPending : it->second;
}

std::optional<ExecutorEvent> EventForJob(const JobRef& ref, const SlurmJob& job) {
  const JobPhase phase = PhaseOf(job.state);
  if (phase == JobPhase::kPending) return std::nullopt;
  ExecutorEvent event;
  event.run_id = ref.run_id;
  event.task_id = ref.task_id;
  event.job_id = ref.job_id.empty() ? job.job_id : ref.job_id;
  event.node = job.node;
  event.start_time = job.start_time;
  if (phase == JobPhase::kRunning) {
    event.state = State::kRunning;
    return event;
  }
  event.end_time = job.end_time;
  if (event.start_time && event.end_time && *event.start_time > *event.end_time) {
    event.start_time = event.end_time;
  }
  // What the job's own process did, when it says anything.
  std::optional<int> exit_code;
  std::string result;
  if (job.signal != 0) {
    exit_code = 128 + job.signal;
    result = "killed by signal " + std::to_string(job.signal);
  } else {
    exit_code = job.exit_code;
    result = "exit code " + std::to_string(job.exit_code);
  }
  const std::string& s = job.state;
  if (s == "COMPLETED" && job.signal == 0 && job.exit_code == 0) {
    event.state = State::kComplete;
    event.exit_code = 0;
  } else if (s == "COMPLETED" || s == "FAILED") {
    if (job.signal == 0 && job.exit_code == 0) {
      // Failed without a status of the task's own: the launch itself failed.
      event.state = State::kSystemError;
      event.reason = "slurm: job " + s + " (" + job.reason + ") without an exit status";
    } else {
      event.state = State::kExecutorError;
      event.exit_code = exit_code;
      event.reason = result;
    }
  } else if (s == "CANCELLED") {
    event.state = State::kCanceled;
    event.reason = "canceled (slurm: CANCELLED)";
  } else if (s == "TIMEOUT") {
    event.state = State::kExecutorError;
    event.exit_code = exit_code;
    event.reason = "time limit reached (" + result + ")";
  } else if (s == "OUT_OF_MEMORY") {
    event.state = State::kExecutorError;
    event.exit_code = exit_code;
    event.reason = "out of memory (" + result + ")";
  } else {
    event.state = State::kSystemError;
    event.reason = "slurm: job " + s;
    if (!job.reason.empty() && job.reason != "None") event.reason += " (" + job.reason + ")";
  }
  return event;
}

std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

namespace {

bool IsShellName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}


}  // namespace

Result<std::string> BatchScript(const TaskSpec& spec, std::string_view job_name) {
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return InvalidArgument("argv: must name a program");
  }
  std::string script = "#!/bin/sh\n";
  script += "#SBATCH --job-name=" + std::string(job_name) + "\n";
  script += "# Sluice task " + spec.run_id + "/" + spec.task_id + "\n";
  for (const auto& [key, value] : spec.env) {
    if (!IsShellName(key)) {
      return InvalidArgument("env: '" + key + "' is not a valid variable name for a Slurm task");
    }
    script += "export " + key + "=" + ShellQuote(value) + "\n";
  }
  script += "exec";
  for (const std::string& arg : spec.argv) script += " " + ShellQuote(arg);
  script += "\n";
  return script;
}

std::string JobName(std::string_view run_id, std::string_view task_id) {
  std::string name = "sluice-";
  for (char c : task_id.substr(0, 48)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    name += ok ? c : '_';
  }
  // FNV-1a over "run\0task": stable across builds and hosts, unlike std::hash.
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 0x100000001b3ULL;
    }
  };
  mix(run_id);
  mix(std::string_view("\0", 1));
  mix(task_id);
  char suffix[18];
  std::snprintf(suffix, sizeof suffix, "-%016llx", static_cast<unsigned long long>(hash));
  return name + suffix;
}

std::string SlurmTimeLimit(int64_t seconds) {
  // Slurm keeps limits in whole minutes (it would round 90 s up to 2 minutes itself).
  return std::to_string(std::max<int64_t>(1, (seconds + 59) / 60));
}

}  // namespace sluice::exec::slurm
