#include "exec/local/local_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/thread_name.h"

namespace sluice::exec::local {
namespace {

Status ValidatePath(const std::string& work_dir) {
  if (work_dir.empty() || work_dir.front() != '/') {
    return InvalidArgument("work_dir: must be an absolute path, got '" + work_dir + "'");
  }
  return Status::Ok();
}

Status ValidateSpec(const TaskSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return InvalidArgument("argv: must name a program");
  }
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return InvalidArgument("env: invalid variable name '" + key + "'");
    }
  }
  return ValidatePath(spec.work_dir);
}

}  // namespace

std::string LocalExecutor::JobIdForPid(pid_t pid) { return "local:" + std::to_string(pid); }

std::optional<pid_t> LocalExecutor::PidFromJobId(std::string_view job_id) {
  constexpr std::string_view kPrefix = "local:";
  if (!job_id.starts_with(kPrefix)) return std::nullopt;
  Result<pid_t> pid = ParsePid(job_id.substr(kPrefix.size()));
  if (!pid.ok()) return std::nullopt;
  return *pid;
}

Result<std::unique_ptr<LocalExecutor>> LocalExecutor::Create(EventSink& sink, const Clock& clock,
                                                             LocalExecutorOptions options) {
  if (options.wrapper_exe.empty() || options.wrapper_exe.front() != '/' ||
      ::access(options.wrapper_exe.c_str(), X_OK) != 0) {
    return InvalidArgument("wrapper_exe: '" + options.wrapper_exe +
                           "' is not an absolute path to an executable");
  }
  if (options.cancel_grace < 0) return InvalidArgument("cancel_grace: must not be negative");
  if (options.lock_poll_interval <= 0) {
    return InvalidArgument("lock_poll_interval: must be positive");
  }
  bool use_pidfd = options.use_pidfd;
  if (use_pidfd) {
    UniqueFd probe(PidfdOpen(::getpid()));
    if (!probe.valid()) {
      spdlog::warn("local executor: pidfd_open unavailable ({}); polling task locks instead",
                   std::strerror(errno));
      use_pidfd = false;
    }
  }
  UniqueFd wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd.valid()) return ErrnoStatus(errno, "eventfd");
  std::unique_ptr<LocalExecutor> executor(
      new LocalExecutor(sink, clock, std::move(options), use_pidfd, std::move(wake_fd)));
  try {
    executor->monitor_ = std::thread([raw = executor.get()] { raw->MonitorLoop(); });
  } catch (const std::system_error& e) {
    return ResourceExhausted(std::string("local executor: cannot start monitor thread: ") +
                             e.what());
  }
  return executor;
}

LocalExecutor::LocalExecutor(EventSink& sink, const Clock& clock, LocalExecutorOptions options,
                             bool use_pidfd, UniqueFd wake_fd)
    : sink_(sink),
      clock_(clock),
      options_(std::move(options)),
      use_pidfd_(use_pidfd),
      wake_fd_(std::move(wake_fd)) {}

LocalExecutor::~LocalExecutor() { Shutdown(); }

void LocalExecutor::Shutdown() {
  {
    MutexLock lock(mu_);
    shut_down_ = true;
  }
  Wake();
  {
    MutexLock lock(join_mu_);
    if (monitor_.joinable()) monitor_.join();
  }
  MutexLock lock(mu_);
  jobs_.clear();
  pending_.clear();
}

Result<std::string> LocalExecutor::Submit(const TaskSpec& spec) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("local executor is shut down");
    if (auto it = jobs_.find(spec.work_dir); it != jobs_.end()) return it->second.ref.job_id;
  }
  RETURN_IF_ERROR(MakeDirs(spec.work_dir));
  const std::string lock_path = JoinPath(spec.work_dir, kLockFile);
  const std::string pid_path = JoinPath(spec.work_dir, kPidFile);
  const std::string exit_path = JoinPath(spec.work_dir, kExitCodeFile);
  // A few rounds, because a prober may hold a shared lock for an instant.
  for (int attempt = 0; attempt < 5; ++attempt) {
    // A started task is adopted without touching the lock, which would make it look alive
    // to other observers for an instant.
    if (!PathExists(pid_path) && !PathExists(exit_path)) {
      UniqueFd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
      if (!lock_fd.valid()) return ErrnoStatus(errno, "open " + lock_path);
      if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) == 0) {
        // Holding the lock, nobody else can start the task; the pid file says whether
        // someone just did.
        if (!PathExists(pid_path) && !PathExists(exit_path)) {
          return StartWrapper(spec, std::move(lock_fd));
        }
      } else if (errno != EWOULDBLOCK) {
        return ErrnoStatus(errno, "flock " + lock_path);
      }
    }

    // Started before (maybe by a server that crashed before recording the job id), or
    // being started right now by someone else.
    ASSIGN_OR_RETURN(TaskObservation obs,
                     ObserveTask(spec.work_dir, use_pidfd_, options_.pid_file_wait));
    if (!obs.pid.has_value()) continue;  // the lock holder was only probing
    JobRef ref{spec.run_id, spec.task_id, JobIdForPid(*obs.pid), spec.work_dir};
    RETURN_IF_ERROR(Track(ref, std::move(obs), /*emit_running=*/true));
    return ref.job_id;
  }
  return Unavailable(spec.work_dir + ": the task's lock stays busy; retry");
}

Result<std::string> LocalExecutor::StartWrapper(const TaskSpec& spec, UniqueFd lock_fd) {
  constexpr int kWrapperLockFd = 3;
  const std::string log_path = JoinPath(spec.work_dir, kWrapperLogFile);
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log.valid()) return ErrnoStatus(errno, "open " + log_path);

  SpawnRequest request;
  request.argv = {options_.wrapper_exe,           "__task-wrapper", "--lock-fd",
                  std::to_string(kWrapperLockFd), spec.work_dir,    "--"};
  request.argv.insert(request.argv.end(), spec.argv.begin(), spec.argv.end());
  request.env = MergedEnvironment(spec.env);
  request.new_session = true;
  request.stdout_fd = log.get();
  request.stderr_fd = log.get();
  request.extra_fds = {{lock_fd.get(), kWrapperLockFd}};
  pid_t pid = 0;
  if (int err = Spawn(request, &pid); err != 0) {
    return ErrnoStatus(err, "start task wrapper " + options_.wrapper_exe).WithPrefix(spec.task_id);
  }
  // The wrapper's copy of the lock keeps it held from here until the wrapper exits.
  lock_fd.Reset();

  Job job;
  job.ref = JobRef{spec.run_id, spec.task_id, JobIdForPid(pid), spec.work_dir};
  job.pid = pid;
  job.our_child = true;
  job.start_time = clock_.Now();
  // An unreaped child: its pid cannot have been recycled yet.
  if (use_pidfd_) job.pidfd.Reset(PidfdOpen(pid));
  std::string job_id = job.ref.job_id;

  MutexLock lock(mu_);
  if (shut_down_) return job_id;  // the task runs on; the next server attaches to it
  auto [it, inserted] = jobs_.try_emplace(spec.work_dir);
  if (inserted) {
    it->second = std::move(job);
  } else {
    it->second.our_child = true;  // a concurrent Submit adopted it first
  }
  Enqueue(RunningEvent(it->second));
  return job_id;
}

Status LocalExecutor::Attach(const JobRef& job) {
  RETURN_IF_ERROR(ValidatePath(job.work_dir));
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("local executor is shut down");
    if (auto it = jobs_.find(job.work_dir); it != jobs_.end()) {
      Enqueue(RunningEvent(it->second));
      return Status::Ok();
    }
  }
  ASSIGN_OR_RETURN(TaskObservation obs,
                   ObserveTask(job.work_dir, use_pidfd_, options_.pid_file_wait));
  if (obs.kind == TaskObservation::Kind::kNoTrace) {
    return NotFound("job " + job.job_id + ": no trace in " + job.work_dir);
  }
  if (obs.pid.has_value() && PidFromJobId(job.job_id) != obs.pid) {
    return NotFound("job " + job.job_id + ": " + job.work_dir + " belongs to job " +
                    JobIdForPid(*obs.pid));
  }
  return Track(job, std::move(obs), /*emit_running=*/true);
}

Status LocalExecutor::Cancel(const JobRef& job) {
  RETURN_IF_ERROR(ValidatePath(job.work_dir));
  bool tracked = false;
  {
    MutexLock lock(mu_);
    if (shut_down_) return Unavailable("local executor is shut down");
    if (auto it = jobs_.find(job.work_dir); it != jobs_.end()) {
      if (it->second.cancel_requested) return Status::Ok();
      tracked = true;
    }
  }
  std::optional<TaskObservation> obs;
  if (!tracked) {
    ASSIGN_OR_RETURN(obs, ObserveTask(job.work_dir, use_pidfd_, options_.pid_file_wait));
    if (obs->kind == TaskObservation::Kind::kNoTrace) {
      return NotFound("job " + job.job_id + ": no trace in " + job.work_dir);
    }
  }
  // Ended already: nothing to stop, and its real outcome stands.
  const bool ended = obs.has_value() ? obs->kind == TaskObservation::Kind::kEnded
                                     : PathExists(JoinPath(job.work_dir, kExitCodeFile));
  if (!ended) {
    // Durable before any signal, so that a restarted server still reports CANCELED.
    RETURN_IF_ERROR(WriteFileAtomically(job.work_dir, kCancelRequestedFile,
                                        FormatIso8601Micros(clock_.Now()) + "\n"));
  }
  if (!tracked) {
    obs->cancel_requested = obs->cancel_requested || !ended;
    JobRef ref = job;
    if (ref.job_id.empty() && obs->pid.has_value()) ref.job_id = JobIdForPid(*obs->pid);
    return Track(ref, std::move(*obs), /*emit_running=*/false);
  }
  MutexLock lock(mu_);
  auto it = jobs_.find(job.work_dir);
  // Gone from jobs_: it just ended and its final event is on its way.
  if (it != jobs_.end() && !ended && !it->second.cancel_requested) {
    it->second.cancel_requested = true;
    SendTerm(it->second);
    Wake();
  }
  return Status::Ok();
}

Status LocalExecutor::Track(const JobRef& ref, TaskObservation obs, bool emit_running) {
  MutexLock lock(mu_);
  if (shut_down_) return Unavailable("local executor is shut down");
  if (auto it = jobs_.find(ref.work_dir); it != jobs_.end()) {
    if (obs.cancel_requested && !it->second.cancel_requested) {
      it->second.cancel_requested = true;
      SendTerm(it->second);
    }
    if (emit_running) Enqueue(RunningEvent(it->second));
    return Status::Ok();
  }
  switch (obs.kind) {
    case TaskObservation::Kind::kNoTrace:
      return NotFound("job " + ref.job_id + ": no trace in " + ref.work_dir);
    case TaskObservation::Kind::kEnded:
    case TaskObservation::Kind::kVanished:
      // Not killing a vanished task's group here: after a reboot its pid may name a stranger.
      Enqueue(FinalEvent(ref, obs, "task process vanished"));
      return Status::Ok();
    case TaskObservation::Kind::kRunning:
      break;
  }
  Job job;
  job.ref = ref;
  job.pid = *obs.pid;
  job.pidfd = std::move(obs.pidfd);
  job.start_time = obs.start_time;
  if (obs.cancel_requested) {
    // Re-sent after a restart: the previous server may have died before its SIGKILL.
    job.cancel_requested = true;
    SendTerm(job);
  }
  if (emit_running) Enqueue(RunningEvent(job));
  jobs_.emplace(ref.work_dir, std::move(job));
  Wake();
  return Status::Ok();
}

void LocalExecutor::SendTerm(Job& job) {
  // The wrapper ignores SIGTERM; the task and its children get it.
  ::kill(-job.pid, SIGTERM);
  job.kill_at = clock_.Monotonic() + options_.cancel_grace;
}

void LocalExecutor::Enqueue(ExecutorEvent event) {
  pending_.push_back(std::move(event));
  Wake();
}

void LocalExecutor::Wake() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
  (void)ignored;  // EAGAIN: the counter is already non-zero, the monitor will wake
}

ExecutorEvent LocalExecutor::RunningEvent(const Job& job) const {
  ExecutorEvent event;
  event.run_id = job.ref.run_id;
  event.task_id = job.ref.task_id;
  event.job_id = job.ref.job_id;
  event.state = State::kRunning;
  event.start_time = job.start_time;
  return event;
}

ExecutorEvent LocalExecutor::FinalEvent(const JobRef& ref, const TaskObservation& obs,
                                        std::string_view vanished_reason) const {
  ExecutorEvent event;
  event.run_id = ref.run_id;
  event.task_id = ref.task_id;
  event.job_id = ref.job_id;
  event.start_time = obs.start_time;
  event.end_time = clock_.Now();
  if (obs.exit.has_value()) {
    const ExitRecord& exit = *obs.exit;
    event.exit_code = exit.exit_code;
    event.start_time = exit.start_time;
    event.end_time = exit.end_time;
    event.reason = exit.signal ? "killed by signal " + std::to_string(*exit.signal)
                               : "exit code " + std::to_string(exit.exit_code);
    if (obs.cancel_requested) {
      event.state = State::kCanceled;
      event.reason = "canceled (" + event.reason + ")";
    } else if (exit.exit_code == 0 && !exit.signal) {
      event.state = State::kComplete;
      event.reason.clear();
    } else {
      event.state = State::kExecutorError;
    }
  } else if (obs.cancel_requested) {
    // The wrapper was killed too (the last SIGKILL round, or from outside).
    event.state = State::kCanceled;
    event.reason = "canceled (task killed)";
  } else {
    event.state = State::kSystemError;
    event.reason = obs.kind == TaskObservation::Kind::kEnded
                       ? "unreadable exit status: " + obs.exit_error.message()
                       : std::string(vanished_reason);
  }
  return event;
}

void LocalExecutor::Deliver(const ExecutorEvent& event) {
  try {
    sink_.OnExecutorEvent(event);
  } catch (const std::exception& e) {
    spdlog::error("local executor: event sink threw: {}", e.what());
  } catch (...) {
    spdlog::error("local executor: event sink threw");
  }
}

void LocalExecutor::MonitorLoop() {
  NameThisThread("local-exec");
  std::vector<ExecutorEvent> events;
  std::vector<pollfd> fds;
  std::vector<std::string> keys;  // work dir of fds[i], i >= 1
  std::vector<Job> finished;
  std::vector<Kill> kills;
  while (true) {
    int timeout_ms = -1;
    {
      MutexLock lock(mu_);
      events.assign(std::make_move_iterator(pending_.begin()),
                    std::make_move_iterator(pending_.end()));
      pending_.clear();
      if (shut_down_ && events.empty()) return;
      fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
      keys.assign(1, "");
      const Micros now = clock_.Monotonic();
      Micros timeout = -1;
      const auto at_most = [&timeout](Micros t) {
        timeout = timeout < 0 ? t : std::min(timeout, t);
      };
      for (const auto& [dir, job] : jobs_) {
        if (job.pidfd.valid()) {
          fds.push_back(pollfd{job.pidfd.get(), POLLIN, 0});
          keys.push_back(dir);
        } else {
          at_most(options_.lock_poll_interval);
        }
        if (job.kill_at) at_most(std::max<Micros>(0, *job.kill_at - now));
      }
      // Rounded up, so a deadline is never missed by waking a little early.
      if (timeout >= 0)
        timeout_ms = static_cast<int>(std::min<Micros>((timeout + 999) / 1000, 60'000));
    }
    if (!events.empty()) {
      for (const ExecutorEvent& event : events) Deliver(event);
      continue;  // more may have been queued meanwhile; look again before sleeping
    }

    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      spdlog::error("local executor: poll: {}", std::strerror(errno));
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_.get(), &count, sizeof count);
      (void)ignored;
    }

    finished.clear();
    {
      MutexLock lock(mu_);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        // Only this thread erases jobs, so the pidfd polled is still this job's.
        auto it = jobs_.find(keys[i]);
        if (it == jobs_.end()) continue;
        finished.push_back(std::move(it->second));
        jobs_.erase(it);
      }
      const Micros now = clock_.Monotonic();
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Job& job = it->second;
        if (!job.pidfd.valid() &&
            ProbeLock(JoinPath(job.ref.work_dir, kLockFile)) != LockState::kHeld) {
          finished.push_back(std::move(job));
          it = jobs_.erase(it);
          continue;
        }
        if (job.kill_at && *job.kill_at <= now) kills.push_back(NextKillRound(job, now));
        ++it;
      }
    }
    if (!kills.empty()) SendKills(kills);
    kills.clear();
    for (Job& job : finished) FinishJob(std::move(job));
  }
}

LocalExecutor::Kill LocalExecutor::NextKillRound(Job& job, Micros now) {
  constexpr int kKillRoundsSparingWrapper = 3;
  constexpr Micros kKillRetry = 500'000;
  ++job.kill_rounds;
  Kill kill{job.pid, job.kill_rounds <= kKillRoundsSparingWrapper};
  if (kill.spare_wrapper) {
    job.kill_at = now + kKillRetry;
  } else {
    job.kill_at.reset();
  }
  return kill;
}

void LocalExecutor::SendKills(const std::vector<Kill>& kills) {
  std::unordered_set<pid_t> spared;  // groups whose wrapper is spared
  for (const Kill& kill : kills) {
    if (kill.spare_wrapper) {
      spared.insert(kill.pgid);
    } else {
      ::kill(-kill.pgid, SIGKILL);  // the wrapper too: reported "canceled (task killed)"
    }
  }
  if (spared.empty()) return;
  Result<std::vector<LiveProcess>> live = ListLiveProcesses();
  if (!live.ok()) {
    spdlog::warn("local executor: {}; killing whole task groups", live.status().ToString());
    for (pid_t pgid : spared) ::kill(-pgid, SIGKILL);
    return;
  }
  // The wrapper leads its group and outlives its task; everything else in the group is the
  // task's. A process forked after the listing is caught by the next round, or by FinishJob
  // once the wrapper has recorded the exit.
  for (const LiveProcess& p : *live) {
    if (p.pid != p.pgrp && spared.contains(p.pgrp)) ::kill(p.pid, SIGKILL);
  }
}

void LocalExecutor::FinishJob(Job job) {
  Result<TaskObservation> obs = ObserveEndedTask(job.ref.work_dir);
  // Leftovers (background children; an orphaned task whose wrapper was killed) must not
  // outlive the reported end. For our own child, the still unreaped wrapper pins the group
  // id, so this cannot hit a recycled one.
  if (ProcessGroupExists(job.pid)) ::kill(-job.pid, SIGKILL);
  if (job.pidfd.valid() || job.our_child) ReapIfChild(job.pid, job.pidfd.get());

  ExecutorEvent event;
  if (obs.ok()) {
    if (!obs->start_time) obs->start_time = job.start_time;
    event = FinalEvent(job.ref, *obs, "task wrapper died without recording an exit status");
  } else {
    event = RunningEvent(job);
    event.state = State::kSystemError;
    event.end_time = clock_.Now();
    event.reason = "cannot read the task's state: " + obs.status().message();
  }
  Deliver(event);
}

Result<std::vector<ExecutorEvent>> LocalExecutor::Poll(const std::vector<JobRef>& jobs) {
  std::vector<ExecutorEvent> events;
  events.reserve(jobs.size());
  for (const JobRef& job : jobs) {
    auto lost = [&](const std::string& why) {
      ExecutorEvent event;
      event.run_id = job.run_id;
      event.task_id = job.task_id;
      event.job_id = job.job_id;
      event.state = State::kSystemError;
      event.end_time = clock_.Now();
      event.reason = "job lost: " + why;
      events.push_back(std::move(event));
    };
    if (Status st = ValidatePath(job.work_dir); !st.ok()) {
      lost(st.message());
      continue;
    }
    // No waiting for a pid file: a wrapper that is just starting is left for the next pass.
    Result<TaskObservation> obs = ObserveTask(job.work_dir, /*want_pidfd=*/false, 0);
    if (!obs.ok()) {
      if (obs.status().code() == StatusCode::kUnavailable) continue;
      return obs.status().WithPrefix("poll " + job.job_id);
    }
    if (obs->kind == TaskObservation::Kind::kNoTrace) {
      lost("no trace in " + job.work_dir);
      continue;
    }
    if (obs->pid.has_value() && PidFromJobId(job.job_id) != obs->pid) {
      lost(job.work_dir + " belongs to job " + JobIdForPid(*obs->pid));
      continue;
    }
    if (obs->kind == TaskObservation::Kind::kRunning) {
      ExecutorEvent event;
      event.run_id = job.run_id;
      event.task_id = job.task_id;
      event.job_id = job.job_id;
      event.state = State::kRunning;
      event.start_time = obs->start_time;
      events.push_back(std::move(event));
      continue;
    }
    events.push_back(FinalEvent(job, *obs, "task process vanished"));
  }
  return events;
}

}  // namespace sluice::exec::local
