// Test support for the interpreter tests: a driver that feeds events to an Execution, keeps
// the tasks and timers its commands describe, and answers tasks from a function; plus a
// JSON dump of transitions to compare replays. Test-only; not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asl/definition.h"
#include "asl/interpreter.h"

namespace sluice::asl::testing {

inline constexpr Micros kT0 = 1'700'000'000 * kMicrosPerSecond;  // 2023-11-14T22:13:20Z

inline std::shared_ptr<const Definition> Def(std::string_view json) {
  std::vector<Problem> problems;
  auto r = ParseDefinition(json, &problems);
  if (!r.ok()) {
    ADD_FAILURE() << "definition refused: " << r.status().ToString();
    return nullptr;
  }
  return *r;
}

inline Value J(std::string_view text) { return Value::parse(text); }

inline Value Dump(const StartTask& s) {
  Value j{{"task_id", s.task_id}, {"state_name", s.state_name}, {"resource", s.resource},
          {"input", s.input},     {"attempt", s.attempt},       {"scope", s.scope},
          {"context", s.context}};
  if (s.timeout_seconds) j["timeout_seconds"] = *s.timeout_seconds;
  if (s.heartbeat_seconds) j["heartbeat_seconds"] = *s.heartbeat_seconds;
  return j;
}

inline Value Dump(const Transition& tr) {
  Value j = Value::object();
  Value& st = j["start_tasks"] = Value::array();
  for (const auto& s : tr.start_tasks) st.push_back(Dump(s));
  Value& ct = j["cancel_tasks"] = Value::array();
  for (const auto& c : tr.cancel_tasks) ct.push_back(c.task_id);
  Value& tm = j["start_timers"] = Value::array();
  for (const auto& t : tr.start_timers)
    tm.push_back({{"id", t.timer_id}, {"deadline", t.deadline}});
  Value& cm = j["cancel_timers"] = Value::array();
  for (const auto& c : tr.cancel_timers) cm.push_back(c.timer_id);
  Value& h = j["history"] = Value::array();
  for (const auto& e : tr.history) {
    h.push_back({{"type", e.type},
                 {"at", e.at},
                 {"state", e.state_name},
                 {"scope", e.scope},
                 {"details", e.details}});
  }
  if (tr.result) {
    j["result"] = {{"status", ExecutionStatusName(tr.result->status)},
                   {"output", tr.result->output},
                   {"error", tr.result->error},
                   {"cause", tr.result->cause}};
  }
  return j;
}

// What a task answers: success with `output`, or failure with `error` and `cause`.
struct Answer {
  bool ok = true;
  Value output;
  std::string error;
  std::string cause;
  static Answer Ok(Value v) { return {true, std::move(v), "", ""}; }
  static Answer Err(std::string e, std::string c = "") {
    return {false, Value(), std::move(e), std::move(c)};
  }
};
using Responder = std::function<Answer(const StartTask&)>;

class Driver {
 public:
  explicit Driver(std::shared_ptr<const Definition> def, ExecutionOptions opts = {})
      : def_(def), opts_(opts), exec_(std::move(def), std::move(opts)) {}

  const Transition& Feed(Event e) {
    events_.push_back(e);
    transitions_.push_back(exec_.Step(e));
    const Transition& tr = transitions_.back();
    for (const auto& s : tr.start_tasks) {
      EXPECT_EQ(running_.count(s.task_id), 0u) << "task started twice: " << s.task_id;
      running_[s.task_id] = s;
      started_.push_back(s);
    }
    for (const auto& c : tr.cancel_tasks) {
      EXPECT_EQ(running_.erase(c.task_id), 1u) << "cancelled a task not running: " << c.task_id;
      cancelled_.push_back(c.task_id);
    }
    for (const auto& t : tr.start_timers) timers_[t.timer_id] = t.deadline;
    for (const auto& c : tr.cancel_timers) timers_.erase(c.timer_id);
    max_running_ = std::max(max_running_, running_.size());
    for (const auto& h : tr.history) history_.push_back(h);
    if (tr.result) {
      EXPECT_FALSE(result_.has_value()) << "result set twice";
      result_ = tr.result;
    }
    return tr;
  }

  const Transition& Start(Value input) { return Feed(Event::Start(std::move(input), now_)); }
  const Transition& Succeed(std::string id, Value output) {
    running_.erase(id);
    return Feed(Event::TaskSucceeded(id, std::move(output), now_));
  }
  const Transition& Fail(std::string id, std::string error, std::string cause = "") {
    running_.erase(id);
    return Feed(Event::TaskFailed(id, std::move(error), std::move(cause), now_));
  }
  const Transition& Fire(std::string id) {
    auto it = timers_.find(id);
    if (it != timers_.end()) {
      now_ = std::max(now_, it->second);
      timers_.erase(it);
    }
    return Feed(Event::TimerFired(id, now_));
  }

  // Answers running tasks (lowest id first) with `responder`; when none runs, fires the
  // earliest timer. Stops at the result or when nothing is left to do.
  void Run(const Responder& responder, int max_events = 1'000'000) {
    for (int i = 0; i < max_events && !result_; ++i) {
      if (!running_.empty()) {
        auto it = std::min_element(running_.begin(), running_.end(), [](auto& a, auto& b) {
          return std::stoll(a.first) < std::stoll(b.first);
        });
        StartTask task = it->second;
        Answer a = responder(task);
        if (a.ok) {
          Succeed(task.task_id, std::move(a.output));
        } else {
          Fail(task.task_id, a.error, a.cause);
        }
      } else if (!timers_.empty()) {
        auto it = std::min_element(timers_.begin(), timers_.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; });
        Fire(std::string(it->first));
      } else {
        return;
      }
    }
  }

  // Feeds every event so far to a fresh Execution and expects identical transitions.
  void ExpectReplayIdentical() const {
    Execution replay(def_, opts_);
    for (size_t i = 0; i < events_.size(); ++i) {
      Transition tr = replay.Step(events_[i]);
      ASSERT_EQ(Dump(tr), Dump(transitions_[i])) << "transition " << i << " differs on replay";
    }
  }

  Micros now_ = kT0;
  std::shared_ptr<const Definition> def_;
  ExecutionOptions opts_;
  Execution exec_;
  std::vector<Event> events_;
  std::deque<Transition> transitions_;  // deque: references handed out stay valid
  std::map<std::string, StartTask> running_;
  std::map<std::string, Micros> timers_;
  std::vector<StartTask> started_;
  std::vector<std::string> cancelled_;
  std::vector<HistoryEvent> history_;
  size_t max_running_ = 0;
  std::optional<ExecutionResult> result_;
};

// Runs `definition` on `input` to the end, answering tasks with `responder`.
inline ExecutionResult RunMachine(std::string_view definition, Value input,
                                  const Responder& responder = nullptr,
                                  ExecutionOptions opts = {}) {
  auto def = Def(definition);
  if (!def) return {ExecutionResult::Status::kFailed, Value(), "definition", ""};
  Driver d(def, opts);
  d.Start(std::move(input));
  if (responder) d.Run(responder);
  if (!d.result_) {
    ADD_FAILURE() << "execution did not finish";
    return {ExecutionResult::Status::kAborted, Value(), "unfinished", ""};
  }
  return *d.result_;
}

}  // namespace sluice::asl::testing
