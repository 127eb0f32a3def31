#include "testing/fake_executor.h"

namespace sluice::exec {

FakeExecutor::FakeExecutor(EventSink& sink, std::string name)
    : sink_(sink), name_(std::move(name)) {}

Result<std::string> FakeExecutor::Submit(const TaskSpec& spec) {
  MutexLock lock(mu_);
  submit_calls_.push_back(spec);
  if (shut_down_) return Unavailable("fake executor is shut down");
  if (fail_next_submit_.has_value()) {
    Status status = std::move(*fail_next_submit_);
    fail_next_submit_.reset();
    return status;
  }
  if (spec.argv.empty()) return InvalidArgument("argv: must name a program");
  TaskKey key{spec.run_id, spec.task_id};
  if (auto it = jobs_.find(key); it != jobs_.end()) return it->second.job_id;
  std::string job_id = "fake-job-" + std::to_string(next_job_++);
  jobs_.emplace(key, Job{spec, job_id, std::nullopt});
  by_job_id_.emplace(job_id, key);
  started_.push_back(spec);
  return job_id;
}

Status FakeExecutor::Attach(const JobRef& job) {
  std::optional<ExecutorEvent> last;
  {
    MutexLock lock(mu_);
    attach_calls_.push_back(job);
    if (shut_down_) return Unavailable("fake executor is shut down");
    auto it = by_job_id_.find(job.job_id);
    if (it == by_job_id_.end()) return NotFound("job " + job.job_id + " not found");
    last = jobs_.at(it->second).last_event;
  }
  if (last.has_value()) sink_.OnExecutorEvent(*last);
  return Status::Ok();
}

Status FakeExecutor::Cancel(const JobRef& job) {
  MutexLock lock(mu_);
  cancel_calls_.push_back(job);
  if (shut_down_) return Unavailable("fake executor is shut down");
  if (!by_job_id_.contains(job.job_id)) return NotFound("job " + job.job_id + " not found");
  return Status::Ok();
}

void FakeExecutor::Shutdown() {
  MutexLock lock(mu_);
  shut_down_ = true;
}

void FakeExecutor::Emit(const ExecutorEvent& event) {
  {
    MutexLock lock(mu_);
    if (auto it = jobs_.find({event.run_id, event.task_id}); it != jobs_.end()) {
      it->second.last_event = event;
    }
  }
  sink_.OnExecutorEvent(event);
}

Status FakeExecutor::Finish(const std::string& run_id, const std::string& task_id, State state,
                            std::optional<int> exit_code, std::string reason) {
  ExecutorEvent event;
  {
    MutexLock lock(mu_);
    auto it = jobs_.find({run_id, task_id});
    if (it == jobs_.end()) return NotFound("task " + run_id + "/" + task_id + " not submitted");
    event.job_id = it->second.job_id;
  }
  event.run_id = run_id;
  event.task_id = task_id;
  event.state = state;
  event.exit_code = exit_code;
  event.reason = std::move(reason);
  Emit(event);
  return Status::Ok();
}

void FakeExecutor::FailNextSubmit(Status status) {
  MutexLock lock(mu_);
  fail_next_submit_ = std::move(status);
}

std::vector<TaskSpec> FakeExecutor::submit_calls() const {
  MutexLock lock(mu_);
  return submit_calls_;
}

std::vector<TaskSpec> FakeExecutor::started() const {
  MutexLock lock(mu_);
  return started_;
}

std::vector<JobRef> FakeExecutor::attach_calls() const {
  MutexLock lock(mu_);
  return attach_calls_;
}

std::vector<JobRef> FakeExecutor::cancel_calls() const {
  MutexLock lock(mu_);
  return cancel_calls_;
}

bool FakeExecutor::shut_down() const {
  MutexLock lock(mu_);
  return shut_down_;
}

std::optional<std::string> FakeExecutor::JobIdFor(const std::string& run_id,
                                                  const std::string& task_id) const {
  MutexLock lock(mu_);
  auto it = jobs_.find({run_id, task_id});
  if (it == jobs_.end()) return std::nullopt;
  return it->second.job_id;
}

Result<std::vector<ExecutorEvent>> FakeExecutor::Poll(const std::vector<JobRef>& jobs) {
  MutexLock lock(mu_);
  poll_calls_.push_back(jobs);
  if (shut_down_) return Unavailable("fake executor is shut down");
  std::vector<ExecutorEvent> events;
  events.reserve(jobs.size());
  for (const JobRef& job : jobs) {
    auto it = by_job_id_.find(job.job_id);
    if (it == by_job_id_.end()) {
      ExecutorEvent lost;
      lost.run_id = job.run_id;
      lost.task_id = job.task_id;
      lost.job_id = job.job_id;
      lost.state = State::kSystemError;
      lost.reason = "job lost: fake executor has no job " + job.job_id;
      events.push_back(std::move(lost));
      continue;
    }
    const Job& known = jobs_.at(it->second);
    if (known.last_event.has_value()) {
      events.push_back(*known.last_event);
    } else {
      ExecutorEvent running;
      running.run_id = known.spec.run_id;
      running.task_id = known.spec.task_id;
      running.job_id = known.job_id;
      running.state = State::kRunning;
      events.push_back(std::move(running));
    }
  }
  return events;
}

void FakeExecutor::SetStateSilently(const ExecutorEvent& event) {
  MutexLock lock(mu_);
  if (auto it = jobs_.find({event.run_id, event.task_id}); it != jobs_.end()) {
    it->second.last_event = event;
  }
}

std::vector<std::vector<JobRef>> FakeExecutor::poll_calls() const {
  MutexLock lock(mu_);
  return poll_calls_;
}

}  // namespace sluice::exec
