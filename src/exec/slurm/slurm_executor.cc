#include "exec/slurm/slurm_executor.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <system_error>
#include <utility>

#include "common/thread_name.h"
#include "exec/local/posix_util.h"

namespace sluice::exec::slurm {
namespace {

using local::ErrnoStatus;
using local::JoinPath;
using local::UniqueFd;

constexpr std::string_view kLockFile = "slurm.lock";
constexpr std::string_view kScriptFile = "slurm_job.sh";
constexpr std::string_view kJobIdFile = "slurm_job_id";
// Job ids per squeue/sacct call: keeps the command line far below ARG_MAX.
constexpr size_t kIdsPerCall = 5000;

std::string Trim(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(start, end - start + 1));
}

Status ValidatePath(const std::string& work_dir) {
  if (work_dir.empty() || work_dir.front() != '/') {
    return InvalidArgument("work_dir: must be an absolute path, got '" + work_dir + "'");
  }
  return Status::Ok();
}

// The job id recorded in the work dir; nullopt when there is none.
std::optional<std::string> RecordedJobId(const std::string& work_dir) {
  Result<std::string> text = local::ReadFile(JoinPath(work_dir, kJobIdFile));
  if (!text.ok()) return std::nullopt;
  std::string id = Trim(*text);
  if (!IsSlurmJobId(id)) return std::nullopt;
  return id;
}

// Not durable on purpose: after a crash the job's name finds it again (TaskSpec::may_exist).
Status WriteJobIdFile(const std::string& work_dir, const std::string& job_id) {
  const std::string path = JoinPath(work_dir, kJobIdFile);
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus(errno, "open " + tmp);
  const std::string content = job_id + "\n";
  if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    return ErrnoStatus(errno, "write " + tmp);
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "rename " + path);
  return Status::Ok();
}

// The batch script. Not durable on purpose: the job is found again by its name, which
// follows from the task (JobName), not from the script.
Status WriteScript(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus(errno, "open " + path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write " + path);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string Join(const std::vector<std::string>& ids, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (!out.empty()) out += ',';
    out += ids[i];
  }
  return out;
}

ExecutorEvent LostEvent(const JobRef& ref, Micros now, const std::string& why) {
  ExecutorEvent event;
  event.run_id = ref.run_id;
  event.task_id = ref.task_id;
  event.job_id = ref.job_id;
  event.state = State::kSystemError;
  event.end_time = now;
  event.reason = "job lost: " + why;
  return event;
}

}  // namespace

Result<std::unique_ptr<SlurmExecutor>> SlurmExecutor::Create(EventSink& sink, const Clock& clock,
                                                             std::unique_ptr<CommandRunner> runner,
                                                             SlurmExecutorOptions options) {
  if (options.poll_interval <= 0) return InvalidArgument("poll_interval: must be positive");
  if (options.command_timeout <= 0) return InvalidArgument("command_timeout: must be positive");
  if (options.lost_after_polls <= 0) {
    return InvalidArgument("lost_after_polls: must be positive");
  }
  if (runner == nullptr) runner = std::make_unique<SubprocessRunner>();
  std::unique_ptr<SlurmExecutor> executor(
      new SlurmExecutor(sink, clock, std::move(runner), std::move(options)));
  try {
    executor->poller_ = std::thread([raw = executor.get()] { raw->PollerLoop(); });
  } catch (const std::system_error& e) {
    return ResourceExhausted(std::string("slurm executor: cannot start poller thread: ") +
                             e.what());
  }
  return executor;
}

SlurmExecutor::SlurmExecutor(EventSink& sink, const Clock& clock,
                             std::unique_ptr<CommandRunner> runner, SlurmExecutorOptions options)
    : sink_(sink), clock_(clock), runner_(std::move(runner)), options_(std::move(options)) {}

SlurmExecutor::~SlurmExecutor() { Shutdown(); }

void SlurmExecutor::Shutdown() {
  {
    MutexLock lock(mu_);
    shut_down_ = true;
  }
  cv_.notify_all();
  {
    MutexLock lock(join_mu_);
    if (poller_.joinable()) poller_.join();
  }
  MutexLock lock(mu_);
  jobs_.clear();
}

SlurmCallCounts SlurmExecutor::call_counts() const {
  SlurmCallCounts counts;
  counts.sbatch = sbatch_calls_.load();
  counts.squeue = squeue_calls_.load();
  counts.sacct = sacct_calls_.load();
  counts.scancel = scancel_calls_.load();
  counts.polls = polls_.load();
  return counts;
}

Result<CommandResult> SlurmExecutor::RunSlurm(const std::vector<std::string>& argv) {
  std::map<std::string, std::string> env;
  env["SLURM_TIME_FORMAT"] = "%s";
  if (!options_.slurm_conf.empty()) env["SLURM_CONF"] = options_.slurm_conf;
  return runner_->Run(argv, env, options_.command_timeout);
}

Result<std::map<std::string, SlurmJob>> SlurmExecutor::Query(const std::vector<std::string>& ids) {
  std::map<std::string, SlurmJob> found;
  for (size_t begin = 0; begin < ids.size(); begin += kIdsPerCall) {
    const size_t end = std::min(ids.size(), begin + kIdsPerCall);
    ++squeue_calls_;
    ASSIGN_OR_RETURN(CommandResult res,
                     RunSlurm({"squeue", "-h", "-t", "all", "-j", Join(ids, begin, end), "-O",
                               std::string(kSqueueFields)}));
    if (res.exit_code != 0) {
      // squeue fails when none of the ids is known any more; a partly known list is fine.
      if (res.err.find("Invalid job id") == std::string::npos) {
        return Unavailable("squeue: " + Trim(res.err));
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<SlurmJob> jobs, ParseSqueue(res.out));
    for (SlurmJob& job : jobs) found[job.job_id] = std::move(job);
  }
  std::vector<std::string> missing;
  for (const std::string& id : ids) {
    if (!found.contains(id)) missing.push_back(id);
  }
  for (size_t begin = 0; begin < missing.size(); begin += kIdsPerCall) {
    const size_t end = std::min(missing.size(), begin + kIdsPerCall);
    std::vector<std::string> argv = {"sacct"};
    if (options_.sacct_from_jobcomp) argv.push_back("-c");
    for (std::string arg : {"-n", "-P", "-j"}) argv.push_back(arg);
    argv.push_back(Join(missing, begin, end));
    argv.push_back("-o");
    argv.push_back(std::string(kSacctFields));
    ++sacct_calls_;
    ASSIGN_OR_RETURN(CommandResult res, RunSlurm(argv));
    if (res.exit_code != 0) return Unavailable("sacct: " + Trim(res.err));
    ASSIGN_OR_RETURN(std::vector<SlurmJob> jobs, ParseSacct(res.out));
    std::set<std::string> wanted(missing.begin() + begin, missing.begin() + end);
    for (SlurmJob& job : jobs) {
      if (wanted.contains(job.job_id)) found[job.job_id] = std::move(job);
    }
  }
  return found;
}

Result<std::optional<std::string>> SlurmExecutor::FindJobByName(const std::string& name) {
  ++squeue_calls_;
  ASSIGN_OR_RETURN(CommandResult res, RunSlurm({"squeue", "-h", "-t", "all", "--name=" + name, "-O",
                                                std::string(kSqueueFields)}));
  if (res.exit_code != 0) return Unavailable("squeue: " + Trim(res.err));
  ASSIGN_OR_RETURN(std::vector<SlurmJob> jobs, ParseSqueue(res.out));
  for (const SlurmJob& job : jobs) {
    if (job.name == name) return std::optional<std::string>(job.job_id);
  }
  // Ended and gone from slurmctld's memory: the accounting has it. (sacct's --name is not
  // applied to the jobcomp log, so the names are matched here.)
  std::vector<std::string> argv = {"sacct"};
  if (options_.sacct_from_jobcomp) argv.push_back("-c");
  for (std::string arg : {"-n", "-P", "-o"}) argv.push_back(arg);
  argv.push_back(std::string(kSacctFields));
  if (!options_.sacct_from_jobcomp) argv.push_back("--name=" + name);
  ++sacct_calls_;
  ASSIGN_OR_RETURN(res, RunSlurm(argv));
  if (res.exit_code != 0) return Unavailable("sacct: " + Trim(res.err));
  ASSIGN_OR_RETURN(jobs, ParseSacct(res.out));
  for (const SlurmJob& job : jobs) {
    if (job.name == name) return std::optional<std::string>(job.job_id);
  }
  return std::optional<std::string>();
}

Result<std::string> SlurmExecutor::Submit(const TaskSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return InvalidArgument("argv: must name a program");
  }
  RETURN_IF_ERROR(ValidatePath(spec.work_dir));
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("slurm executor is shut down");
  }
  RETURN_IF_ERROR(local::MakeDirs(spec.work_dir));
  const std::string lock_path = JoinPath(spec.work_dir, kLockFile);
  UniqueFd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_fd.valid()) return ErrnoStatus(errno, "open " + lock_path);
  // Each Submit opens its own description, so threads of this process exclude each other
  // as well as other processes.
  while (::flock(lock_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "flock " + lock_path);
  }
  return SubmitLocked(spec);
}

Result<std::string> SlurmExecutor::SubmitLocked(const TaskSpec& spec) {
  const std::string& dir = spec.work_dir;
  if (std::optional<std::string> id = RecordedJobId(dir)) {
    Track(JobRef{spec.run_id, spec.task_id, *id, dir});
    return *id;
  }
  const std::string name = JobName(spec.run_id, spec.task_id);
  if (spec.may_exist) {
    ASSIGN_OR_RETURN(std::optional<std::string> id, FindJobByName(name));
    if (id.has_value()) {
      spdlog::info("slurm executor: task {}/{} was submitted as job {} before a restart",
                   spec.run_id, spec.task_id, *id);
      RETURN_IF_ERROR(WriteJobIdFile(dir, *id));
      Track(JobRef{spec.run_id, spec.task_id, *id, dir});
      return *id;
    }
  }

  const std::string script_path = JoinPath(dir, kScriptFile);
  ASSIGN_OR_RETURN(std::string script, BatchScript(spec, name));
  RETURN_IF_ERROR(WriteScript(script_path, script));
  std::vector<std::string> argv = {"sbatch",
                                   "--parsable",
                                   "--no-requeue",
                                   "--chdir=" + dir,
                                   "--output=" + JoinPath(dir, "stdout"),
                                   "--error=" + JoinPath(dir, "stderr")};
  const Resources& r = spec.resources;
  const int cpus = std::max(1, static_cast<int>(std::ceil(r.cpus)));
  argv.push_back("--cpus-per-task=" + std::to_string(cpus));
  if (r.memory_mb > 0) argv.push_back("--mem=" + std::to_string(r.memory_mb) + "M");
  if (r.time_limit_seconds > 0) argv.push_back("--time=" + SlurmTimeLimit(r.time_limit_seconds));
  if (!options_.partition.empty()) argv.push_back("--partition=" + options_.partition);
  if (!options_.account.empty()) argv.push_back("--account=" + options_.account);
  argv.insert(argv.end(), options_.sbatch_options.begin(), options_.sbatch_options.end());
  argv.push_back(script_path);
  ++sbatch_calls_;
  ASSIGN_OR_RETURN(CommandResult res, RunSlurm(argv));
  if (res.exit_code != 0) {
    const std::string message = "sbatch: " + Trim(res.err);
    if (res.err.find("Unable to contact") != std::string::npos ||
        res.err.find("timed out") != std::string::npos ||
        res.err.find("temporarily") != std::string::npos) {
      return Unavailable(message);
    }
    return IoError(message);
  }
  ASSIGN_OR_RETURN(std::string id, ParseSbatchJobId(res.out));
  RETURN_IF_ERROR(WriteJobIdFile(dir, id));
  Track(JobRef{spec.run_id, spec.task_id, id, dir});
  return id;
}

void SlurmExecutor::Track(const JobRef& ref) {
  MutexLock lock(mu_);
  // Shut down meanwhile: the job runs on and the next server attaches to it.
  if (shut_down_) return;
  Tracked& tracked = jobs_[ref.job_id];
  tracked.ref = ref;
  tracked.running_reported = false;
  tracked.misses = 0;
}

Status SlurmExecutor::Attach(const JobRef& job) {
  if (!IsSlurmJobId(job.job_id)) return NotFound("job " + job.job_id + ": not a Slurm job id");
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("slurm executor is shut down");
  }
  if (!job.work_dir.empty()) {
    if (std::optional<std::string> recorded = RecordedJobId(job.work_dir)) {
      if (*recorded != job.job_id) {
        return NotFound("job " + job.job_id + ": " + job.work_dir + " belongs to job " + *recorded);
      }
      Track(job);
      return Status::Ok();
    }
  }
  ASSIGN_OR_RETURN(auto known, Query({job.job_id}));
  if (!known.contains(job.job_id)) return NotFound("job " + job.job_id + ": unknown to Slurm");
  Track(job);
  return Status::Ok();
}

Status SlurmExecutor::Cancel(const JobRef& job) {
  if (!IsSlurmJobId(job.job_id)) return NotFound("job " + job.job_id + ": not a Slurm job id");
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("slurm executor is shut down");
  }
  // scancel says nothing (and exits 0) for unknown or ended jobs, so the trace is checked
  // first: the work dir, else Slurm itself.
  std::optional<std::string> recorded =
      job.work_dir.empty() ? std::nullopt : RecordedJobId(job.work_dir);
  if (recorded.has_value() && *recorded != job.job_id) {
    return NotFound("job " + job.job_id + ": " + job.work_dir + " belongs to job " + *recorded);
  }
  if (!recorded.has_value()) {
    ASSIGN_OR_RETURN(auto known, Query({job.job_id}));
    if (!known.contains(job.job_id)) return NotFound("job " + job.job_id + ": unknown to Slurm");
  }
  ++scancel_calls_;
  ASSIGN_OR_RETURN(CommandResult res, RunSlurm({"scancel", job.job_id}));
  if (res.exit_code != 0) return Unavailable("scancel " + job.job_id + ": " + Trim(res.err));
  // Its end (CANCELLED, or the real outcome if it ended first) is reported by the poller.
  Track(job);
  return Status::Ok();
}

Result<std::vector<ExecutorEvent>> SlurmExecutor::Poll(const std::vector<JobRef>& jobs) {
  std::vector<std::string> ids;
  for (const JobRef& job : jobs) {
    if (IsSlurmJobId(job.job_id)) ids.push_back(job.job_id);
  }
  std::map<std::string, SlurmJob> known;
  if (!ids.empty()) {
    ASSIGN_OR_RETURN(known, Query(ids));
  }
  std::vector<ExecutorEvent> events;
  const Micros now = clock_.Now();
  for (const JobRef& job : jobs) {
    if (!IsSlurmJobId(job.job_id)) {
      events.push_back(LostEvent(job, now, "'" + job.job_id + "' is not a Slurm job id"));
      continue;
    }
    auto it = known.find(job.job_id);
    if (it == known.end()) {
      events.push_back(LostEvent(job, now, "unknown to squeue and sacct"));
      continue;
    }
    if (std::optional<ExecutorEvent> event = EventForJob(job, it->second)) {
      events.push_back(std::move(*event));
    }
  }
  return events;
}

void SlurmExecutor::PollerLoop() {
  NameThisThread("slurm-poller");
  while (true) {
    {
      MutexLock lock(mu_);
      lock.WaitFor(cv_, std::chrono::microseconds(options_.poll_interval),
                   [this]() NO_THREAD_SAFETY_ANALYSIS { return shut_down_; });
      if (shut_down_) return;
    }
    PollOnce();
  }
}

void SlurmExecutor::PollOnce() {
  std::vector<std::string> ids;
  {
    MutexLock lock(mu_);
    for (const auto& [id, tracked] : jobs_) ids.push_back(id);
  }
  if (ids.empty()) return;
  ++polls_;
  Result<std::map<std::string, SlurmJob>> known = Query(ids);
  if (!known.ok()) {
    spdlog::warn("slurm executor: polling {} jobs: {}", ids.size(), known.status().ToString());
    return;
  }
  std::vector<ExecutorEvent> events;
  {
    MutexLock lock(mu_);
    if (shut_down_) return;
    const Micros now = clock_.Now();
    for (const std::string& id : ids) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      Tracked& tracked = it->second;
      auto job = known->find(id);
      if (job == known->end()) {
        if (++tracked.misses >= options_.lost_after_polls) {
          events.push_back(LostEvent(tracked.ref, now, "unknown to squeue and sacct"));
          jobs_.erase(it);
        }
        continue;
      }
      tracked.misses = 0;
      std::optional<ExecutorEvent> event = EventForJob(tracked.ref, job->second);
      if (!event.has_value()) continue;  // pending
      if (event->state == State::kRunning) {
        if (tracked.running_reported) continue;
        tracked.running_reported = true;
        events.push_back(std::move(*event));
        continue;
      }
      events.push_back(std::move(*event));
      jobs_.erase(it);
    }
  }
  for (const ExecutorEvent& event : events) Deliver(event);
}

void SlurmExecutor::Deliver(const ExecutorEvent& event) {
  try {
    sink_.OnExecutorEvent(event);
  } catch (const std::exception& e) {
    spdlog::error("slurm executor: event sink threw: {}", e.what());
  } catch (...) {
    spdlog::error("slurm executor: event sink threw");
  }
}

}  // namespace sluice::exec::slurm
