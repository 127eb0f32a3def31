#include "store/postgres/pg_run_store.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/thread_name.h"
#include "store/postgres/pg_migrations.h"
#include "store/postgres/pg_rows.h"
#include "store/sqlite/row_codec.h"  // the JSON encodings of string maps and lists
#include "store/sqlite/transition_rules.h"  // the state-change rules of a stored row

namespace sluice::store::postgres {

using sqlite::DecodeStringList;
using sqlite::DecodeStringMap;
using sqlite::EncodedRequest;
using sqlite::EncodedTask;
using sqlite::EncodeNewTasks;
using sqlite::EncodeRequest;
using sqlite::EncodeStringMap;
using sqlite::PlanTagPatch;
using sqlite::TagPatch;

namespace {

constexpr int kMaxAttempts = 8;

// --- statements (prepared once per connection) ---
constexpr char kGetRun[] = "SELECT " SLUICE_PG_RUN_COLUMNS " FROM runs WHERE id = $1";
constexpr char kGetRunStatus[] = "SELECT state FROM runs WHERE id = $1";
constexpr char kRunSeqById[] = "SELECT seq, state FROM runs WHERE id = $1";
// CreateTask: the run cannot become terminal between the check and the insert.
constexpr char kRunSeqByIdForShare[] = "SELECT seq, state FROM runs WHERE id = $1 FOR SHARE";
constexpr char kRunByKey[] =
    "SELECT " SLUICE_PG_RUN_COLUMNS " FROM runs WHERE idempotency_key = $1";
constexpr char kInsertRun[] =
    "SELECT sluice_create_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
    "$15::text[], $16::text[])";
constexpr char kInsertRunTag[] = "INSERT INTO run_tags (key, value, run_seq) VALUES ($1, $2, $3)";
constexpr char kDeleteRunTag[] =
    "DELETE FROM run_tags WHERE key = $1 AND value = $2 AND run_seq = $3";
constexpr char kInsertHistory[] =
    "WITH h AS (INSERT INTO history (run_seq, task_id, type, from_state, to_state, at, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)) "
    "INSERT INTO outbox (run_id, task_id, type, from_state, to_state, at, reason) "
    "VALUES ($8, $2, $3, $4, $5, $6, $7)";
constexpr char kInsertOutbox[] =
    "INSERT INTO outbox (run_id, task_id, type, from_state, to_state, at, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr char kRunForTransition[] =
    "SELECT seq, state, start_time, end_time, outputs, system_logs, updated_at "
    "FROM runs WHERE id = $1 FOR UPDATE";
constexpr char kUpdateRun[] =
    "UPDATE runs SET state = $2, updated_at = $3, start_time = $4, end_time = $5, "
    "outputs = $6, system_logs = $7 WHERE seq = $1";
constexpr char kTaskExists[] = "SELECT 1 FROM tasks WHERE run_seq = $1 AND id = $2";
constexpr char kInsertTask[] =
    "INSERT INTO tasks (run_seq, id, name, cmd, state, executor, executor_job_id, exit_code, "
    "start_time, end_time, system_logs, created_at, updated_at, launch_spec) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
    "ON CONFLICT (run_seq, id) DO NOTHING RETURNING seq";
constexpr char kTaskForTransition[] =
    "SELECT seq, state, executor_job_id, exit_code, start_time, end_time, system_logs, "
    "updated_at FROM tasks WHERE run_seq = $1 AND id = $2 FOR UPDATE";
constexpr char kUpdateTask[] =
    "UPDATE tasks SET state = $2, updated_at = $3, executor_job_id = $4, exit_code = $5, "
    "start_time = $6, end_time = $7, system_logs = $8 WHERE seq = $1";
constexpr char kGetTask[] =
    "SELECT " SLUICE_PG_TASK_COLUMNS " FROM tasks WHERE run_seq = $1 AND id = $2";
constexpr char kListTasks[] = "SELECT " SLUICE_PG_TASK_COLUMNS
                              " FROM tasks WHERE run_seq = $1 AND seq > $2 "
                              "ORDER BY seq LIMIT $3";
constexpr char kListHistory[] =
    "SELECT seq, task_id, type, from_state, to_state, at, reason FROM history "
    "WHERE run_seq = $1 AND seq > $2 ORDER BY seq LIMIT $3";
constexpr char kLockRunEvents[] = "SELECT pg_advisory_xact_lock(7315, $1::integer)";
constexpr char kLastRunEventSeq[] =
    "SELECT coalesce(max(seq), 0) FROM run_events WHERE run_seq = $1";
constexpr char kInsertRunEvent[] =
    "INSERT INTO run_events (run_seq, seq, type, at, state_name, scope, details, replay) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr char kListRunEvents[] =
    "SELECT seq, type, at, state_name, scope, details, replay FROM run_events "
    "WHERE run_seq = $1 AND seq > $2 AND ($4::boolean IS NULL OR replay = $4) "
    "ORDER BY seq LIMIT $3";
constexpr char kRunForTagUpdate[] =
    "SELECT seq, state, tags, updated_at FROM runs WHERE id = $1 FOR UPDATE";
constexpr char kUpdateRunTags[] =
    "UPDATE runs SET tags = $2, name = $3, updated_at = $4 WHERE seq = $1";
constexpr char kRunForDelete[] = "SELECT seq, state FROM runs WHERE id = $1 FOR UPDATE";
constexpr char kDeleteRunRows[] =
    "WITH a AS (DELETE FROM run_tags WHERE run_seq = $1), "
    "b AS (DELETE FROM tasks WHERE run_seq = $1), "
    "c AS (DELETE FROM history WHERE run_seq = $1), "
    "d AS (DELETE FROM run_events WHERE run_seq = $1) SELECT 1";
constexpr char kDeleteRun[] = "DELETE FROM runs WHERE seq = $1";
constexpr char kListStaleTasks[] =
    "SELECT t.seq, t.id, t.name, t.cmd, t.state, t.executor, t.executor_job_id, t.exit_code, "
    "t.start_time, t.end_time, t.system_logs, t.created_at, t.updated_at, t.launch_spec, r.id "
    "FROM tasks t JOIN runs r ON r.seq = t.run_seq "
    "WHERE t.state NOT IN " SLUICE_PG_TERMINAL " AND t.executor_job_id IS NOT NULL "
    "AND t.updated_at < $1 AND r.state NOT IN " SLUICE_PG_TERMINAL
    " ORDER BY t.updated_at, t.seq LIMIT $2";
// With the owner's own runs (a replica starting up re-adopts what it drove): a row locked
// right now is waited for, not skipped, or the replica would miss a run it owns (and then
// keep renewing its lease without driving it). After the wait the row is checked again, so
// a run another claimer took meanwhile is not returned.
constexpr char kClaimRuns[] =
    "UPDATE runs SET owner = $1, lease_until = $3 WHERE seq IN ("
    " SELECT seq FROM runs WHERE state NOT IN " SLUICE_PG_TERMINAL
    " AND (owner IS NULL OR owner = $1 OR lease_until < $2) ORDER BY seq LIMIT $4"
    " FOR UPDATE) RETURNING " SLUICE_PG_RUN_COLUMNS;
// Asking for more work: SKIP LOCKED, a run another claimer (or a writer) holds right now is
// left to it, and claimers never wait on each other.
constexpr char kClaimFreeRuns[] =
    "UPDATE runs SET owner = $1, lease_until = $3 WHERE seq IN ("
    " SELECT seq FROM runs WHERE state NOT IN " SLUICE_PG_TERMINAL
    " AND (owner IS NULL OR (owner <> $1 AND lease_until < $2)) ORDER BY seq LIMIT $4"
    " FOR UPDATE SKIP LOCKED) RETURNING " SLUICE_PG_RUN_COLUMNS;
constexpr char kRenewLeases[] =
    "UPDATE runs SET lease_until = $2 WHERE state NOT IN " SLUICE_PG_TERMINAL
    " AND owner = $1";

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }
Status NoSuchRun(std::string_view id) { return NotFound("run " + Quote(id) + " not found"); }

Status CheckPageSize(int page_size) {
  if (page_size < 1) return InvalidArgument("page_size must be positive");
  return Status::Ok();
}

// A text[] literal: every element double-quoted, with " and \\ escaped.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ",";
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

PgParam StateParam(State s) { return PgParam::Int(static_cast<int64_t>(s)); }

struct RunRef {
  int64_t seq = 0;
  State state = State::kUnknown;
};

Result<std::optional<RunRef>> FindRun(PgConn& db, std::string_view run_id,
                                      bool for_share = false) {
  ASSIGN_OR_RETURN(PgResult r, db.Exec(for_share ? kRunSeqByIdForShare : kRunSeqById,
                                       {PgParam::Text(run_id)}));
  if (r.rows() == 0) return std::optional<RunRef>();
  return std::optional<RunRef>(RunRef{r.Int(0, 0), StateOf(r.Int(0, 1))});
}

Status InsertHistory(PgRunStore::Tx& tx, int64_t run_seq, std::string_view run_id,
                     std::string_view task_id, std::string_view type, State from, State to,
                     Micros at, std::string_view reason) {
  tx.outbox = true;
  return tx.db
      .Exec(kInsertHistory, {PgParam::Int(run_seq), PgParam::Text(task_id), PgParam::Text(type),
                             StateParam(from), StateParam(to), PgParam::Int(at),
                             PgParam::Text(reason), PgParam::Text(run_id)})
      .status();
}

Status CreateRunOp(PgRunStore::Tx& tx, const NewRun& run, const EncodedRequest& encoded,
                   CreateRunResult* out) {
  PgConn& db = tx.db;
  if (!run.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(PgResult r, db.Exec(kRunByKey, {PgParam::Text(run.idempotency_key)}));
    if (r.rows() > 0) {
      ASSIGN_OR_RETURN(RunRecord existing, ReadRunRow(r, 0));
      if (!(existing.request == run.request)) {
        return Conflict("idempotency key " + Quote(run.idempotency_key) +
                        " was already used for a different request (run " + existing.id + ")");
      }
      *out = CreateRunResult{existing.id, false};
      return Status::Ok();
    }
  }
  const RunRequest& r = run.request;
  auto name = r.tags.find("name");
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (const auto& [key, value] : r.tags) {
    keys.push_back(key);
    values.push_back(value);
  }
  Result<PgResult> ins = db.Exec(
      kInsertRun,
      {PgParam::Text(run.id), PgParam::Text(r.workflow_type),
       PgParam::Text(r.workflow_type_version), PgParam::Text(r.workflow_url),
       PgParam::Text(r.workflow_params), PgParam::Text(r.workflow_engine),
       PgParam::Text(r.workflow_engine_version), PgParam::TextOrNull(encoded.engine_params),
       PgParam::TextOrNull(encoded.tags), PgParam::TextOrNull(encoded.attachments),
       PgParam::Int(run.submitted_at), PgParam::TextOrNull(run.idempotency_key),
       PgParam::Text(run.user.empty() ? std::string_view("anonymous")
                                      : std::string_view(run.user)),
       name == r.tags.end() ? PgParam::Null() : PgParam::Text(name->second),
       PgParam::Text(TextArray(keys)), PgParam::Text(TextArray(values))});
  if (!ins.ok()) {
    // Without a key the only unique column is the id (with one, the caller retries and the
    // key check above finds the other run).
    if (db.last_sqlstate() == kUniqueViolation && run.idempotency_key.empty()) {
      return AlreadyExists("run " + Quote(run.id) + " already exists");
    }
    return ins.status();
  }
  tx.outbox = true;
  *out = CreateRunResult{run.id, true};
  return Status::Ok();
}

Status TransitionTaskOp(PgRunStore::Tx& tx, const TaskTransition& t, TransitionOutcome* out) {
  PgConn& db = tx.db;
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(db, t.run_id));
  if (!run.has_value()) return NoSuchRun(t.run_id);
  auto name = [&t] { return Quote(t.run_id + "/" + t.task_id); };
  ASSIGN_OR_RETURN(PgResult row,
                   db.Exec(kTaskForTransition, {PgParam::Int(run->seq), PgParam::Text(t.task_id)}));
  if (row.rows() == 0) return NotFound("task " + name() + " not found");
  int64_t seq = row.Int(0, 0);
  sqlite::StoredTaskState state;
  state.state = StateOf(row.Int(0, 1));
  state.executor_job_id = row.Text(0, 2);
  state.exit_code = row.OptInt(0, 3);
  state.start_time = row.OptInt(0, 4);
  state.end_time = row.OptInt(0, 5);
  state.system_logs = row.Text(0, 6);
  state.updated_at = row.Int(0, 7);
  const State from = state.state;
  ASSIGN_OR_RETURN(bool write, sqlite::ApplyTaskTransition(t, state, out));
  if (!write) return Status::Ok();
  RETURN_IF_ERROR(db.Exec(kUpdateTask, {PgParam::Int(seq), StateParam(t.to),
                                        PgParam::Int(state.updated_at),
                                        PgParam::TextOrNull(state.executor_job_id),
                                        PgParam::OptInt(state.exit_code),
                                        PgParam::OptInt(state.start_time),
                                        PgParam::OptInt(state.end_time),
                                        PgParam::TextOrNull(state.system_logs)})
                      .status());
  if (!out->changed) return Status::Ok();
  return InsertHistory(tx, run->seq, t.run_id, t.task_id, "TaskStateChanged", from, t.to, t.at,
                       t.reason);
}

std::string ChannelFor(const std::string& schema) {
  std::string channel = "sluice_outbox";
  if (!schema.empty()) channel += "_";
  for (char c : schema) {
    channel += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                           : '_';
  }
  return channel.substr(0, 63);
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

// ---------------------------------------------------------------------------------------
// Open, threads, transactions

Result<std::unique_ptr<PgRunStore>> PgRunStore::Open(const PgOptions& options) {
  {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConn> admin, PgConn::Connect(options.url, options.schema));
    RETURN_IF_ERROR(ApplyMigrations(*admin, EmbeddedMigrations()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool,
                   PgPool::Open(options.url, options.schema, options.pool_size));
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> notify_conn,
                   PgConn::Connect(options.url, options.schema));
  auto store = std::unique_ptr<PgRunStore>(
      new PgRunStore(options, std::move(pool), std::move(notify_conn)));
  RETURN_IF_ERROR(store->notify_conn_->ExecScript("LISTEN " + store->channel_));
  if (pipe2(store->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return IoError("postgres store: cannot create a pipe");
  }
  store->notifier_ = std::thread([s = store.get()] { s->NotifyLoop(); });
  for (int i = 0; i < std::max(options.async_threads, 1); ++i) {
    store->async_threads_.emplace_back([s = store.get()] { s->AsyncLoop(); });
  }
  return store;
}

PgRunStore::PgRunStore(PgOptions options, std::unique_ptr<PgPool> pool,
                       std::unique_ptr<PgConn> notify_conn)
    : options_(std::move(options)),
      channel_(ChannelFor(options_.schema)),
      pool_(std::move(pool)),
      notify_conn_(std::move(notify_conn)) {}

PgRunStore::~PgRunStore() {
  {
    MutexLock lock(async_mu_);
    async_stop_ = true;
  }
  async_cv_.notify_all();
  for (std::thread& t : async_threads_) t.join();
  stop_ = true;
  WakeNotifier();
  if (notifier_.joinable()) notifier_.join();
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void PgRunStore::WakeNotifier() {
  if (wake_pipe_[1] < 0) return;
  char c = 1;
  ssize_t n = write(wake_pipe_[1], &c, 1);
  (void)n;  // a full pipe already wakes the loop
}

void PgRunStore::SetOutboxListener(std::function<void()> listener) {
  MutexLock lock(listener_mu_);
  listener_ = std::move(listener);
}

// One thread: LISTENs for other replicas' NOTIFYs and, after local commits that wrote outbox
// entries, calls the listener and sends one NOTIFY for all of them.
void PgRunStore::NotifyLoop() {
  NameThisThread("pg-notify");
  const std::string notify_sql = "NOTIFY " + channel_;
  auto call_listener = [this] {
    std::function<void()> listener;
    {
      MutexLock lock(listener_mu_);
      listener = listener_;
    }
    if (listener) listener();
  };
  while (!stop_) {
    if (!notify_conn_->Healthy()) {
      if (notify_conn_->Reset().ok() && notify_conn_->ExecScript("LISTEN " + channel_).ok()) {
        call_listener();  // changes may have been missed while disconnected
      } else {
        // Local commits still wake this replica's listener while the server is unreachable.
        if (local_pending_.exchange(false)) call_listener();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
    }
    pollfd fds[2] = {{notify_conn_->Socket(), POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = poll(fds, 2, 1000);
    if (n < 0) continue;
    if ((fds[1].revents & POLLIN) != 0) {
      char buf[256];
      while (read(wake_pipe_[0], buf, sizeof(buf)) > 0) {
      }
    }
    if (local_pending_.exchange(false)) {
      call_listener();
      (void)notify_conn_->ExecScript(notify_sql);  // others fall back to polling if it fails
    }
    bool remote = false;
    PQconsumeInput(notify_conn_->raw());
    while (PGnotify* note = PQnotifies(notify_conn_->raw())) {
      if (note->be_pid != notify_conn_->BackendPid()) remote = true;
      PQfreemem(note);
    }
    if (remote) call_listener();
  }
}

void PgRunStore::AsyncLoop() {
  NameThisThread("pg-writer");
  for (;;) {
    std::function<void()> job;
    {
      MutexLock lock(async_mu_);
      lock.Wait(async_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return async_stop_ || !async_queue_.empty();
      });
      if (async_queue_.empty()) return;  // stopping, nothing left
      job = std::move(async_queue_.front());
      async_queue_.pop_front();
    }
    job();
  }
}

Status PgRunStore::InTransaction(const std::function<Status(Tx&)>& body, bool retry_unique,
                                 bool single_statement) {
  Status st;
  for (int attempt = 1;; ++attempt) {
    PgPool::Lease conn = pool_->Acquire();
    Tx tx{*conn, false};
    // Acquire reconnects a connection the server closed; if it is still down, nothing is sent.
    if (!conn->Healthy()) {
      st = Unavailable("postgres: no connection to the server");
    } else {
      st = single_statement ? Status::Ok() : conn->ExecScript("BEGIN");
    }
    if (st.code() == StatusCode::kUnavailable && attempt < kMaxAttempts) {
      // Nothing ran: safe to retry on a new connection, with a growing pause, which rides
      // over a short server restart (about 5 s in all).
      (void)conn->Reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(25 << std::min(attempt, 6)));
      continue;
    }
    if (st.ok()) st = body(tx);
    if (st.ok() && !single_statement) st = conn->ExecScript("COMMIT");
    // Kept before ROLLBACK, which clears it.
    const std::string sqlstate = st.ok() ? "" : conn->last_sqlstate();
    if (!st.ok() && !single_statement) {
      (void)conn->ExecScript("ROLLBACK");  // the body's error is the one to report
    }
    if (st.ok()) {
      if (tx.outbox) {
        local_pending_ = true;
        WakeNotifier();
      }
      return st;
    }
    bool retry = IsRetryableSqlState(sqlstate) || (retry_unique && sqlstate == kUniqueViolation);
    if (!retry || attempt >= kMaxAttempts) return st;
  }
}

Status PgRunStore::SequenceOutbox(PgConn& db) {
  for (int attempt = 1;; ++attempt) {
    Result<PgResult> r = db.Exec("SELECT sluice_sequence_outbox()");
    if (r.ok()) return Status::Ok();
    if (!IsRetryableSqlState(db.last_sqlstate()) || attempt >= kMaxAttempts) return r.status();
  }
}

// ---------------------------------------------------------------------------------------
// Runs

Result<CreateRunResult> PgRunStore::CreateRun(const NewRun& run) {
  if (run.id.empty()) return InvalidArgument("run id must not be empty");
  ASSIGN_OR_RETURN(EncodedRequest encoded, EncodeRequest(run.request));
  CreateRunResult result;
  // Without an idempotency key a submission is one statement (sluice_create_run), committed
  // on its own: one round trip. With a key, the key's lookup and the insert are one
  // transaction, retried when a concurrent submission with the same key wins the insert.
  const bool keyed = !run.idempotency_key.empty();
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) { return CreateRunOp(tx, run, encoded, &result); },
                                /*retry_unique=*/keyed, /*single_statement=*/!keyed));
  return result;
}

void PgRunStore::CreateRunAsync(const NewRun& run,
                                std::function<void(Result<CreateRunResult>)> done) {
  {
    MutexLock lock(async_mu_);
    async_queue_.push_back([this, run, done = std::move(done)] { done(CreateRun(run)); });
  }
  async_cv_.notify_one();
}

Result<RunRecord> PgRunStore::GetRun(std::string_view run_id) {
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kGetRun, {PgParam::Text(run_id)}));
  if (r.rows() == 0) return NoSuchRun(run_id);
  return ReadRunRow(r, 0);
}

Result<RunStatusRow> PgRunStore::GetRunStatus(std::string_view run_id) {
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kGetRunStatus, {PgParam::Text(run_id)}));
  if (r.rows() == 0) return NoSuchRun(run_id);
  return RunStatusRow{std::string(run_id), StateOf(r.Int(0, 0))};
}

Result<TransitionOutcome> PgRunStore::TransitionRun(const RunTransition& t) {
  TransitionOutcome outcome;
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) -> Status {
    PgConn& db = tx.db;
    ASSIGN_OR_RETURN(PgResult row, db.Exec(kRunForTransition, {PgParam::Text(t.run_id)}));
    if (row.rows() == 0) return NoSuchRun(t.run_id);
    int64_t seq = row.Int(0, 0);
    sqlite::StoredRunState state;
    state.state = StateOf(row.Int(0, 1));
    state.start_time = row.OptInt(0, 2);
    state.end_time = row.OptInt(0, 3);
    state.outputs = row.Text(0, 4);
    state.system_logs = row.Text(0, 5);
    state.updated_at = row.Int(0, 6);
    const State from = state.state;
    ASSIGN_OR_RETURN(bool write, sqlite::ApplyRunTransition(t, state, &outcome));
    if (!write) return Status::Ok();
    RETURN_IF_ERROR(db.Exec(kUpdateRun, {PgParam::Int(seq), StateParam(t.to),
                                         PgParam::Int(state.updated_at),
                                         PgParam::OptInt(state.start_time),
                                         PgParam::OptInt(state.end_time),
                                         PgParam::TextOrNull(state.outputs),
                                         PgParam::TextOrNull(state.system_logs)})
                        .status());
    if (!outcome.changed) return Status::Ok();
    RETURN_IF_ERROR(InsertHistory(tx, seq, t.run_id, "", "RunStateChanged", from, t.to, t.at,
                                  t.reason));
    if (!IsTerminal(t.to)) return Status::Ok();
    return AddRunToStats(db, seq, t.to, state.start_time, state.end_time.value_or(t.at), t.usage);
  }));
  return outcome;
}

Result<RunRecord> PgRunStore::UpdateTags(std::string_view run_id, const StringMap& set,
                                         const std::vector<std::string>& remove, Micros at) {
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) -> Status {
    PgConn& db = tx.db;
    ASSIGN_OR_RETURN(PgResult row, db.Exec(kRunForTagUpdate, {PgParam::Text(run_id)}));
    if (row.rows() == 0) return NoSuchRun(run_id);
    int64_t seq = row.Int(0, 0);
    State state = StateOf(row.Int(0, 1));
    ASSIGN_OR_RETURN(StringMap tags, DecodeStringMap(row.Text(0, 2), "runs.tags"));
    Micros updated_at = row.Int(0, 3);
    TagPatch patch = PlanTagPatch(std::move(tags), set, remove);
    for (const auto& [key, value] : patch.drop) {
      RETURN_IF_ERROR(
          db.Exec(kDeleteRunTag, {PgParam::Text(key), PgParam::Text(value), PgParam::Int(seq)})
              .status());
    }
    for (const auto& [key, value] : patch.insert) {
      RETURN_IF_ERROR(
          db.Exec(kInsertRunTag, {PgParam::Text(key), PgParam::Text(value), PgParam::Int(seq)})
              .status());
    }
    if (patch.change.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(std::string encoded, EncodeStringMap(patch.tags, "tags"));
    auto name = patch.tags.find("name");
    RETURN_IF_ERROR(db.Exec(kUpdateRunTags, {PgParam::Int(seq), PgParam::TextOrNull(encoded),
                                             name == patch.tags.end() ? PgParam::Null()
                                                                      : PgParam::Text(name->second),
                                             PgParam::Int(std::max(updated_at, at))})
                        .status());
    return InsertHistory(tx, seq, run_id, "", "TagsChanged", state, state, at, patch.change);
  }));
  return GetRun(run_id);
}

Status PgRunStore::DeleteRun(std::string_view run_id) {
  return InTransaction([&](Tx& tx) -> Status {
    PgConn& db = tx.db;
    ASSIGN_OR_RETURN(PgResult row, db.Exec(kRunForDelete, {PgParam::Text(run_id)}));
    if (row.rows() == 0) return NoSuchRun(run_id);
    int64_t seq = row.Int(0, 0);
    State state = StateOf(row.Int(0, 1));
    if (!IsTerminal(state)) {
      return FailedPrecondition("run " + Quote(run_id) + " is " + std::string(StateName(state)) +
                                "; only ended runs can be deleted");
    }
    // Tag rows first: their trigger takes them out of the counts while the run exists.
    RETURN_IF_ERROR(db.Exec(kDeleteRunRows, {PgParam::Int(seq)}).status());
    RETURN_IF_ERROR(db.Exec(kDeleteRun, {PgParam::Int(seq)}).status());
    tx.outbox = true;
    return db
        .Exec(kInsertOutbox, {PgParam::Text(run_id), PgParam::Text(""), PgParam::Text("RunDeleted"),
                              StateParam(state), StateParam(State::kUnknown),
                              PgParam::Int(SystemClock().Now()), PgParam::Text("deleted")})
        .status();
  });
}

// ---------------------------------------------------------------------------------------
// Tasks, history, engine log

Result<std::vector<bool>> PgRunStore::CreateTasks(const std::vector<TaskRecord>& tasks) {
  ASSIGN_OR_RETURN(std::vector<EncodedTask> encoded, EncodeNewTasks(tasks));
  std::vector<bool> created;
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) -> Status {
    PgConn& db = tx.db;
    created.assign(tasks.size(), false);  // a retried transaction starts over
    // Each run is looked up (and share-locked) once: a turn's tasks all belong to one.
    std::map<std::string, RunRef, std::less<>> runs;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const TaskRecord& task = tasks[i];
      auto found = runs.find(task.run_id);
      if (found == runs.end()) {
        ASSIGN_OR_RETURN(std::optional<RunRef> ref, FindRun(db, task.run_id, /*for_share=*/true));
        if (!ref.has_value()) return NoSuchRun(task.run_id);
        found = runs.emplace(task.run_id, *ref).first;
      }
      const RunRef* run = &found->second;
      ASSIGN_OR_RETURN(PgResult exists,
                       db.Exec(kTaskExists, {PgParam::Int(run->seq), PgParam::Text(task.id)}));
      if (exists.rows() > 0) continue;
      if (IsTerminal(run->state)) {
        return FailedPrecondition("run " + Quote(task.run_id) + " is " +
                                  std::string(StateName(run->state)) + "; no new tasks");
      }
      ASSIGN_OR_RETURN(
          PgResult ins,
          db.Exec(kInsertTask,
                  {PgParam::Int(run->seq), PgParam::Text(task.id), PgParam::Text(task.name),
                   PgParam::TextOrNull(encoded[i].cmd), StateParam(task.state),
                   PgParam::Text(task.executor), PgParam::TextOrNull(task.executor_job_id),
                   task.exit_code ? PgParam::Int(*task.exit_code) : PgParam::Null(),
                   PgParam::OptInt(task.start_time), PgParam::OptInt(task.end_time),
                   PgParam::TextOrNull(encoded[i].logs), PgParam::Int(task.created_at),
                   PgParam::Int(std::max(task.updated_at, task.created_at)),
                   PgParam::TextOrNull(task.launch_spec)}));
      if (ins.rows() == 0) continue;  // created meanwhile by another writer
      created[i] = true;
      RETURN_IF_ERROR(InsertHistory(tx, run->seq, task.run_id, task.id, "TaskCreated",
                                    State::kUnknown, task.state, task.created_at, "created"));
    }
    return Status::Ok();
  }));
  return created;
}

Result<TaskRecord> PgRunStore::GetTask(std::string_view run_id, std::string_view task_id) {
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(*db, run_id));
  if (!run.has_value()) return NoSuchRun(run_id);
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kGetTask, {PgParam::Int(run->seq), PgParam::Text(task_id)}));
  if (r.rows() == 0) {
    return NotFound("task " + Quote(std::string(run_id) + "/" + std::string(task_id)) +
                    " not found");
  }
  return ReadTaskRow(r, 0, run_id);
}

Result<TaskPage> PgRunStore::ListTasks(const TaskListQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(*db, query.run_id));
  if (!run.has_value()) return NoSuchRun(query.run_id);
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kListTasks, {PgParam::Int(run->seq),
                                                     PgParam::Int(query.after_seq.value_or(0)),
                                                     PgParam::Int(query.page_size + 1)}));
  TaskPage page;
  for (int i = 0; i < r.rows(); ++i) {
    if (i == query.page_size) {
      page.next_after_seq = page.tasks.back().seq;
      break;
    }
    ASSIGN_OR_RETURN(TaskRecord t, ReadTaskRow(r, i, query.run_id));
    page.tasks.push_back(std::move(t));
  }
  return page;
}

Result<TransitionOutcome> PgRunStore::TransitionTask(const TaskTransition& t) {
  TransitionOutcome outcome;
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) { return TransitionTaskOp(tx, t, &outcome); }));
  return outcome;
}

std::vector<Result<TransitionOutcome>> PgRunStore::TransitionTasks(
    const std::vector<TaskTransition>& ts) {
  std::vector<Result<TransitionOutcome>> out;
  Status st = InTransaction([&](Tx& tx) -> Status {
    out.clear();
    out.reserve(ts.size());
    for (const TaskTransition& t : ts) {
      TransitionOutcome outcome;
      Status one = TransitionTaskOp(tx, t, &outcome);
      if (one.ok()) {
        out.emplace_back(outcome);
        continue;
      }
      switch (one.code()) {
        // Refusals are decided before the entry writes anything: this entry only.
        case StatusCode::kNotFound:
        case StatusCode::kFailedPrecondition:
        case StatusCode::kInvalidArgument:
          out.emplace_back(std::move(one));
          break;
        default:
          return one;  // storage trouble: the whole batch rolls back
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    out.clear();
    for (size_t i = 0; i < ts.size(); ++i) out.emplace_back(st);
  }
  return out;
}

Result<std::vector<TaskRecord>> PgRunStore::ListStaleTasks(Micros updated_before, int limit) {
  std::vector<TaskRecord> out;
  if (limit < 1) return out;
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kListStaleTasks, {PgParam::Int(updated_before),
                                                          PgParam::Int(limit)}));
  for (int i = 0; i < r.rows(); ++i) {
    ASSIGN_OR_RETURN(TaskRecord t, ReadTaskRow(r, i, r.Text(i, 14)));
    out.push_back(std::move(t));
  }
  return out;
}

Result<HistoryPage> PgRunStore::ListHistory(const HistoryQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(*db, query.run_id));
  if (!run.has_value()) return NoSuchRun(query.run_id);
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kListHistory, {PgParam::Int(run->seq),
                                                       PgParam::Int(query.after_seq.value_or(0)),
                                                       PgParam::Int(query.page_size + 1)}));
  HistoryPage page;
  for (int i = 0; i < r.rows(); ++i) {
    if (i == query.page_size) {
      page.next_after_seq = page.events.back().seq;
      break;
    }
    HistoryEvent e;
    e.seq = r.Int(i, 0);
    e.run_id = query.run_id;
    e.task_id = r.Text(i, 1);
    e.type = r.Text(i, 2);
    e.from = StateOf(r.Int(i, 3));
    e.to = StateOf(r.Int(i, 4));
    e.at = r.Int(i, 5);
    e.reason = r.Text(i, 6);
    page.events.push_back(std::move(e));
  }
  return page;
}

Result<int64_t> PgRunStore::AppendRunEvents(std::string_view run_id,
                                            const std::vector<RunEvent>& events) {
  int64_t last_seq = 0;
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) -> Status {
    PgConn& db = tx.db;
    ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(db, run_id));
    if (!run.has_value()) return NoSuchRun(run_id);
    // Appenders of one run take turns (numbering is max + 1), without locking the run row
    // that claims and transitions use.
    RETURN_IF_ERROR(db.Exec(kLockRunEvents, {PgParam::Int(run->seq % 2147483647)}).status());
    ASSIGN_OR_RETURN(PgResult last, db.Exec(kLastRunEventSeq, {PgParam::Int(run->seq)}));
    int64_t seq = last.Int(0, 0);
    for (const RunEvent& e : events) {
      RETURN_IF_ERROR(db.Exec(kInsertRunEvent,
                              {PgParam::Int(run->seq), PgParam::Int(++seq), PgParam::Text(e.type),
                               PgParam::Int(e.at), PgParam::Text(e.state_name),
                               PgParam::Text(e.scope), PgParam::Text(e.details),
                               PgParam::Bool(e.replay)})
                          .status());
    }
    last_seq = seq;
    return Status::Ok();
  }));
  return last_seq;
}

Result<RunEventPage> PgRunStore::ListRunEvents(const RunEventQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRun(*db, query.run_id));
  if (!run.has_value()) return NoSuchRun(query.run_id);
  PgParam replay = query.filter == RunEventFilter::kReplayOnly    ? PgParam::Bool(true)
                   : query.filter == RunEventFilter::kHistoryOnly ? PgParam::Bool(false)
                                                                  : PgParam::Null();
  ASSIGN_OR_RETURN(PgResult r,
                   db->Exec(kListRunEvents, {PgParam::Int(run->seq),
                                             PgParam::Int(query.after_seq.value_or(0)),
                                             PgParam::Int(query.page_size + 1), replay}));
  RunEventPage page;
  for (int i = 0; i < r.rows(); ++i) {
    if (i == query.page_size) {
      page.next_after_seq = page.events.back().seq;
      break;
    }
    RunEvent e;
    e.seq = r.Int(i, 0);
    e.type = r.Text(i, 1);
    e.at = r.Int(i, 2);
    e.state_name = r.Text(i, 3);
    e.scope = r.Text(i, 4);
    e.details = r.Text(i, 5);
    e.replay = r.Bool(i, 6);
    page.events.push_back(std::move(e));
  }
  return page;
}

// ---------------------------------------------------------------------------------------
// Claims and leases

Result<std::vector<RunRecord>> PgRunStore::ClaimRuns(const ClaimRequest& req) {
  if (req.owner.empty()) return InvalidArgument("claim owner must not be empty");
  std::vector<RunRecord> runs;
  if (req.limit < 1) return runs;
  RETURN_IF_ERROR(InTransaction([&](Tx& tx) -> Status {
    runs.clear();
    ASSIGN_OR_RETURN(PgResult r, tx.db.Exec(req.include_owned ? kClaimRuns : kClaimFreeRuns,
                                            {PgParam::Text(req.owner), PgParam::Int(req.now),
                                             PgParam::Int(req.lease_until),
                                             PgParam::Int(req.limit)}));
    for (int i = 0; i < r.rows(); ++i) {
      ASSIGN_OR_RETURN(RunRecord run, ReadRunRow(r, i));
      runs.push_back(std::move(run));
    }
    return Status::Ok();
  }));
  std::sort(runs.begin(), runs.end(),
            [](const RunRecord& a, const RunRecord& b) { return a.seq < b.seq; });
  return runs;
}

Status PgRunStore::RenewLeases(std::string_view owner, Micros lease_until) {
  if (owner.empty()) return InvalidArgument("lease owner must not be empty");
  // One statement, no BEGIN/COMMIT round trips: a replica that dies mid-renewal leaves no
  // transaction holding row locks on its runs (claims skip locked rows).
  return InTransaction(
      [&](Tx& tx) {
        return tx.db.Exec(kRenewLeases, {PgParam::Text(owner), PgParam::Int(lease_until)})
            .status();
      },
      /*retry_unique=*/false, /*single_statement=*/true);
}

}  // namespace sluice::store::postgres
