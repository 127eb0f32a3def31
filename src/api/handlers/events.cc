// Server-Sent Events: GET /api/v1/events (every run, filtered by run/state/tag) and
// GET /api/v1/runs/{id}/events (one run; starts with a snapshot of the run and its tasks
// when not resuming, and ends with `event: end` once the run is terminal). Each store change
// is one event: `id: <outbox seq>`, `event: <type>`, `data: <json>` (AppendChangeEventJson).
// A client that reconnects with Last-Event-ID (or ?last_event_id=) gets exactly what it
// missed; if that was pruned already the answer is 410.
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/list_params.h"
#include "api/wes_json.h"
#include "service/event_bus.h"
#include "service/run_service.h"

namespace sluice::api {
namespace {

constexpr int kReadBatch = 256;
constexpr int kSnapshotTasks = 1000;
constexpr std::string_view kRetryHint = "retry: 2000\n\n";

// Connects the bus's on_ready (which exists before the stream starts) to the server's wake
// (given at Start): a notification before Start is remembered and delivered then.
class WakeSlot {
 public:
  void Fire() {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!wake_) {
        pending_ = true;
        return;
      }
      wake = wake_;
    }
    wake();
  }
  void Set(std::function<void()> wake) {
    bool pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake_ = wake;
      pending = pending_;
      pending_ = false;
    }
    if (pending) wake();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = nullptr;
  }

 private:
  std::mutex mu_;
  std::function<void()> wake_;
  bool pending_ = false;
};

struct RunScope {
  std::string run_id;
  bool terminal_at_start = false;
  State state_at_start = State::kUnknown;
  std::string snapshot;  // the data of `event: snapshot` ("" when resuming)
};

void AppendEnd(std::string& out, std::string_view run_id, State state) {
  out += "event: end\ndata: {\"run_id\":";
  AppendJsonString(out, run_id);
  out += ",\"run_state\":\"";
  out += StateName(state);
  out += "\"}\n\n";
}

class EventStream final : public StreamBody {
 public:
  EventStream(std::shared_ptr<service::Subscription> sub, std::shared_ptr<WakeSlot> slot,
              std::optional<RunScope> scope)
      : sub_(std::move(sub)), slot_(std::move(slot)), scope_(std::move(scope)) {}

  ~EventStream() override {
    slot_->Clear();
    sub_.reset();  // unsubscribes
  }

  void Start(std::function<void()> wake) override { slot_->Set(std::move(wake)); }

  bool Pull(std::string& out) override {
    if (ended_) return false;
    if (first_) {
      first_ = false;
      out += kRetryHint;
      if (scope_ && !scope_->snapshot.empty()) {
        out += "event: snapshot\ndata: ";
        out += scope_->snapshot;
        out += "\n\n";
      }
      if (scope_ && scope_->terminal_at_start && scope_->snapshot.size() > 0) {
        // Not resuming and already over: the snapshot says it all.
        AppendEnd(out, scope_->run_id, scope_->state_at_start);
        return End();
      }
    }
    Result<std::vector<store::ChangeEvent>> events = sub_->Read(kReadBatch);
    if (!events.ok()) {
      int code = HttpStatusFor(events.status().code());
      out += "event: error\ndata: ";
      out += ErrorResponseJson(events.status().message(), code);
      out += "\n\n";
      return End();
    }
    for (const store::ChangeEvent& e : *events) {
      out += "id: ";
      out += std::to_string(e.seq);
      out += "\nevent: ";
      out += e.type;
      out += "\ndata: ";
      AppendChangeEventJson(out, e);
      out += "\n\n";
      if (scope_ && e.run_id == scope_->run_id) {
        if (e.type == "RunDeleted") {
          AppendEnd(out, e.run_id, e.run_state);
          return End();
        }
        if (e.task_id.empty() && e.type == "RunStateChanged" && IsTerminal(e.to)) {
          AppendEnd(out, e.run_id, e.to);
          return End();
        }
      }
    }
    // Resuming a run that had ended before: once the backlog is read, there is nothing more.
    if (scope_ && scope_->terminal_at_start && events->empty()) {
      AppendEnd(out, scope_->run_id, scope_->state_at_start);
      return End();
    }
    return true;
  }

 private:
  bool End() {
    ended_ = true;
    return false;
  }

  std::shared_ptr<service::Subscription> sub_;
  std::shared_ptr<WakeSlot> slot_;
  std::optional<RunScope> scope_;
  bool first_ = true;
  bool ended_ = false;
};

Result<std::shared_ptr<service::Subscription>> SubscribeWith(
    ApiContext& ctx, const EventStreamParams& params, const std::shared_ptr<WakeSlot>& slot) {
  std::weak_ptr<WakeSlot> weak = slot;
  return ctx.events.Subscribe(params.filter, params.after, [weak] {
    if (auto s = weak.lock()) s->Fire();
  });
}

std::string SnapshotJson(ApiContext& ctx, const std::string& run_id, State state) {
  Json tasks = Json::array();
  Result<service::TaskListPage> page = ctx.runs.ListTasks(run_id, kSnapshotTasks, "");
  if (page.ok()) {
    for (const store::TaskRecord& t : page->tasks) {
      tasks.push_back(Json{{"task_id", t.id}, {"name", t.name}, {"state", StateName(t.state)}});
    }
  }
  Json j = {{"run_id", run_id}, {"run_state", StateName(state)}, {"tasks", std::move(tasks)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void StreamEvents(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res,
                  std::unique_ptr<StreamBody>& stream) {
  Result<EventStreamParams> params =
      ParseEventStreamParams(req.query, req.last_event_id, /*run_scoped=*/false);
  if (!params.ok()) return SetError(res, params.status());
  auto slot = std::make_shared<WakeSlot>();
  Result<std::shared_ptr<service::Subscription>> sub = SubscribeWith(ctx, *params, slot);
  if (!sub.ok()) return SetError(res, sub.status());
  stream = std::make_unique<EventStream>(*std::move(sub), std::move(slot), std::nullopt);
}

void StreamRunEvents(ApiContext& ctx, const HttpRequest& req, const PathParams& p,
                     HttpResponse& res, std::unique_ptr<StreamBody>& stream) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<EventStreamParams> params =
      ParseEventStreamParams(req.query, req.last_event_id, /*run_scoped=*/true);
  if (!params.ok()) return SetError(res, params.status());
  RunScope scope;
  scope.run_id = std::string(p[0]);
  params->filter.run_id = scope.run_id;
  // Subscribe before reading the state, so a change in between is in the stream.
  auto slot = std::make_shared<WakeSlot>();
  Result<std::shared_ptr<service::Subscription>> sub = SubscribeWith(ctx, *params, slot);
  if (!sub.ok()) return SetError(res, sub.status());
  Result<store::RunStatusRow> status = ctx.runs.GetStatus(scope.run_id);
  if (!status.ok()) return SetError(res, status.status());
  scope.state_at_start = status->state;
  scope.terminal_at_start = IsTerminal(status->state);
  if (!params->after) scope.snapshot = SnapshotJson(ctx, scope.run_id, status->state);
  stream = std::make_unique<EventStream>(*std::move(sub), std::move(slot), std::move(scope));
}

}  // namespace sluice::api
