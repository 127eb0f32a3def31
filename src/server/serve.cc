#include "server/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api/http_server.h"
#include "asl/binding.h"
#include "common/clock.h"
#include "common/ids.h"
#include "engine/asl_driver.h"
#include "engine/driver.h"
#include "engine/mock_driver.h"
#include "exec/local/local_executor.h"
#include "exec/slurm/slurm_executor.h"
#include "service/event_bus.h"
#include "service/retention.h"
#include "service/run_service.h"
#include "service/scheduler.h"
#include "service/state_sync.h"
#include "store/postgres/pg_run_store.h"
#include "store/sqlite/sqlite_run_store.h"

namespace sluice::server {
namespace fs = std::filesystem;

namespace {

// Lets the executor be built before the scheduler that consumes its events.
class EventRelay final : public exec::EventSink {
 public:
  void SetTarget(exec::EventSink* target) { target_.store(target); }
  void OnExecutorEvent(const exec::ExecutorEvent& event) override {
    if (exec::EventSink* t = target_.load()) t->OnExecutorEvent(event);
  }

 private:
  std::atomic<exec::EventSink*> target_{nullptr};
};

// Holds an exclusive lock on <data_dir>/sluice.lock for the life of the process, so two
// servers never drive the same SQLite store and task directories.
Result<int> LockDataDir(const std::string& data_dir) {
  std::string path = data_dir + "/sluice.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Unavailable("another `sluice serve` is using the data dir " + data_dir +
                       " (" + path + " is locked)");
  }
  return fd;
}

// The replica id is stable across restarts so a restarted server reclaims its own runs at
// once instead of waiting for their leases to expire. With a shared store (PostgreSQL) the
// replicas may share one data dir (so each can reach the others' task directories when it
// takes their runs over): the id is then `<host>:<port>` unless configured, and a fresh one
// with --port 0.
Result<std::string> ReplicaId(const ServeConfig& config, IdGenerator& ids, bool shared_store) {
  if (!config.replica_id.empty()) return config.replica_id;
  if (shared_store) {
    if (config.port == 0) return "replica-" + ids.NewId().substr(0, 8);
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return IoError("gethostname failed");
    return std::string(host) + ":" + std::to_string(config.port);
  }
  std::string path = config.data_dir + "/replica-id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && !id.empty()) return id;
  id = "replica-" + ids.NewId().substr(0, 8);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << "\n";
    if (!out.flush()) return IoError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return IoError("cannot write " + path + ": " + ec.message());
  return id;
}

// The program that wraps each task: the lean `sluice-task-wrapper` installed next to this
// binary, or this binary itself (`sluice __task-wrapper`) when that one is missing.
std::string WrapperExe() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "sluice";
  fs::path lean = self.parent_path() / "sluice-task-wrapper";
  if (::access(lean.c_str(), X_OK) == 0) return lean.string();
  // Works, but every task start then loads the whole server binary and its libraries.
  spdlog::warn(
      "no {} next to this binary: tasks are wrapped by {} itself, which is slower to start",
      lean.string(), self.string());
  return self.string();
}

// The executor chosen by `executor:`. Slurm tasks run in their work dirs under the data
// dir, which must then be on a file system the compute nodes share; the cancel grace is
// the cluster's KillWait there (scancel), not cancel_grace_seconds.
Result<std::unique_ptr<exec::Executor>> MakeExecutor(const ServeConfig& config,
                                                     exec::EventSink& sink, const Clock& clock) {
  if (config.executor == "slurm") {
    exec::slurm::SlurmExecutorOptions options;
    options.partition = config.slurm_partition;
    options.account = config.slurm_account;
    options.sbatch_options = config.slurm_sbatch_options;
    options.poll_interval = config.slurm_poll_interval_ms * 1000;
    ASSIGN_OR_RETURN(auto slurm,
                     exec::slurm::SlurmExecutor::Create(sink, clock, nullptr, options));
    spdlog::info("executor: slurm (partition {}, poll every {} ms)",
                 options.partition.empty() ? "default" : options.partition,
                 config.slurm_poll_interval_ms);
    return std::unique_ptr<exec::Executor>(std::move(slurm));
  }
  exec::local::LocalExecutorOptions options;
  options.wrapper_exe = WrapperExe();
  options.cancel_grace =
      static_cast<Micros>(config.cancel_grace_seconds * static_cast<double>(kMicrosPerSecond));
  ASSIGN_OR_RETURN(auto local, exec::local::LocalExecutor::Create(sink, clock, options));
  return std::unique_ptr<exec::Executor>(std::move(local));
}

// The retention rules from the configuration (ages in days).
Result<service::RetentionOptions> RetentionOptionsFor(const ServeConfig& config) {
  auto age = [](double days) {
    return static_cast<Micros>(days * 86400.0 * static_cast<double>(kMicrosPerSecond));
  };
  service::RetentionOptions options;
  options.rules.default_age = age(config.retention_days);
  for (const auto& [rule, days] : config.retention_by_tag) {
    ASSIGN_OR_RETURN(auto tag, service::ParseTagRule(rule));
    options.rules.by_tag[tag] = age(days);
  }
  for (const auto& [type, days] : config.retention_by_workflow_type) {
    options.rules.by_workflow_type[type] = age(days);
  }
  options.sweep_every = config.retention_sweep_seconds * kMicrosPerSecond;
  options.archive_after = config.archive_after_seconds * kMicrosPerSecond;
  return options;
}

int Fail(const Status& st) {
  spdlog::critical("{}", st.ToString());
  std::fprintf(stderr, "sluice serve: %s\n", st.message().c_str());
  return 1;
}

}  // namespace

int Serve(const ServeConfig& config) {
  auto logger = spdlog::stderr_color_mt("sluice");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Signals are taken synchronously by this thread; every thread started later inherits
  // the mask, so SIGINT/SIGTERM never interrupt a worker.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) return Fail(IoError("cannot create data dir " + config.data_dir + ": " + ec.message()));
  std::string data_dir = fs::absolute(config.data_dir).lexically_normal().string();
  if (!data_dir.empty() && data_dir.back() == '/') data_dir.pop_back();

  // SQLite: one server per data dir. PostgreSQL: replicas share the store and may share the
  // data dir; leases, not a file lock, keep them from driving the same run.
  const bool shared_store = store::postgres::IsPostgresUrl(config.store);
  Result<int> lock_fd = -1;
  if (!shared_store) lock_fd = LockDataDir(data_dir);
  if (!lock_fd.ok()) return Fail(lock_fd.status());

  SystemClock clock;
  RandomIdGenerator ids;
  auto replica = ReplicaId(config, ids, shared_store);
  if (!replica.ok()) return Fail(replica.status());

  // The store: SQLite in the data dir, or a PostgreSQL database that replicas share
  // (config.store is "sqlite" or a postgres:// URL, checked by the config).
  auto open_store = [&]() -> Result<std::unique_ptr<store::RunStore>> {
    if (store::postgres::IsPostgresUrl(config.store)) {
      store::postgres::PgOptions pg_options;
      pg_options.url = config.store;
      ASSIGN_OR_RETURN(auto pg, store::postgres::PgRunStore::Open(pg_options));
      return std::unique_ptr<store::RunStore>(std::move(pg));
    }
    store::sqlite::SqliteOptions store_options;
    ASSIGN_OR_RETURN(auto db,
                     store::sqlite::SqliteRunStore::Open(data_dir + "/sluice.db", store_options));
    return std::unique_ptr<store::RunStore>(std::move(db));
  };
  auto store = open_store();
  if (!store.ok()) return Fail(store.status().WithPrefix("store"));

  engine::DriverRegistry drivers;
  drivers.Register("MOCK", std::make_unique<engine::MockDriver>());
  engine::AslDriverOptions asl_options;
  asl_options.default_max_concurrency = config.asl_max_concurrency;
  if (!config.asl_bindings_file.empty()) {
    std::ifstream in(config.asl_bindings_file, std::ios::binary);
    if (!in) {
      return Fail(InvalidArgument("asl_bindings_file: cannot read " + config.asl_bindings_file));
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto bindings = asl::ParseBindings(text);
    if (!bindings.ok()) return Fail(bindings.status().WithPrefix("asl_bindings_file"));
    asl_options.bindings.insert(bindings->begin(), bindings->end());
  }
  drivers.Register("ASL", std::make_unique<engine::AslDriver>(std::move(asl_options)));

  EventRelay relay;
  auto executor = MakeExecutor(config, relay, clock);
  if (!executor.ok()) return Fail(executor.status());

  service::SchedulerOptions sched_options;
  sched_options.data_dir = data_dir;
  sched_options.owner = *replica;
  sched_options.lease_duration = config.lease_seconds * kMicrosPerSecond;
  sched_options.max_concurrent_tasks = config.max_concurrent_tasks;
  sched_options.max_active_runs = config.max_active_runs;
  sched_options.workers = config.scheduler_workers;
  service::Scheduler scheduler(**store, drivers, **executor, clock, sched_options);

  // Executor events go to state sync, which applies them in batches and tells the scheduler.
  service::StateSyncOptions sync_options;
  sync_options.data_dir = data_dir;
  sync_options.reconcile_every = config.reconcile_interval_seconds * kMicrosPerSecond;
  sync_options.stale_after = config.task_stale_seconds * kMicrosPerSecond;
  service::StateSync state_sync(**store, clock, sync_options);
  state_sync.SetExecutor(executor->get());
  scheduler.ListenTo(state_sync);
  relay.SetTarget(&state_sync);

  service::RunServiceOptions run_options;
  run_options.data_dir = data_dir;
  run_options.limits.max_attachment_bytes = config.max_body_bytes;
  run_options.prices.per_cpu_hour = config.price_per_cpu_hour;
  run_options.prices.per_gb_hour = config.price_per_gb_hour;
  service::RunService runs(**store, drivers, ids, clock, scheduler, run_options);

  // Live events (SSE) from the store's outbox; running before the HTTP server takes
  // subscriptions.
  service::EventBusOptions bus_options;
  bus_options.outbox_retention = config.outbox_retention_seconds * kMicrosPerSecond;
  service::EventBus event_bus(**store, clock, bus_options);
  if (Status bus_started = event_bus.Start(); !bus_started.ok()) return Fail(bus_started);

  auto retention = RetentionOptionsFor(config);
  if (!retention.ok()) return Fail(retention.status());
  service::RetentionSweeper sweeper(**store, runs, clock, *retention);

  // State sync runs before the scheduler re-attaches tasks (their events go through it).
  if (Status sync_started = state_sync.Start(); !sync_started.ok()) return Fail(sync_started);

  api::HttpOptions http_options;
  http_options.host = config.host;
  http_options.port = static_cast<uint16_t>(config.port);
  http_options.io_threads = config.io_threads;
  http_options.max_body_bytes = config.max_body_bytes;
  auto http = api::NewHttpServer(runs, event_bus, http_options);
  auto port = http->Start();
  if (!port.ok()) return Fail(port.status());

  Status st = scheduler.Start();
  if (st.ok()) st = sweeper.Start();
  if (!st.ok()) {
    http->Stop();
    scheduler.Stop();
    return Fail(st);
  }
  std::string host = config.host.find(':') != std::string::npos ? "[" + config.host + "]"
                                                                  : config.host;
  std::printf("listening on http://%s:%u\n", host.c_str(), static_cast<unsigned>(*port));
  std::fflush(stdout);
  spdlog::info("sluice serve: replica {}, data dir {}, listening on {}:{}", *replica, data_dir,
               config.host, *port);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down (tasks keep running and are re-attached on the next "
               "start)", strsignal(sig));
  // The sweeper and the HTTP server first (no new work), then the scheduler; the executor
  // stops reporting before state sync applies what it queued; the bus goes last.
  sweeper.Stop();
  http->Stop();
  scheduler.Stop();
  (*executor)->Shutdown();
  state_sync.Stop();
  event_bus.Stop();
  if (*lock_fd >= 0) ::close(*lock_fd);
  return 0;
}

}  // namespace sluice::server
