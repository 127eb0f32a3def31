// Slurm executor figures, side by side on the same Slurm in one run (bench/slurm/run.sh):
//   (a) a plain loop of `sbatch` calls                       -> jobs/s
//   (b) SlurmExecutor::Submit of the same jobs, one by one    -> jobs/s, and (b)/(a)
//   (c) N concurrent jobs tracked by one executor for a while -> squeue+sacct calls/s
// After an unmeasured warm-up of --jobs sbatch calls, (a) and (b) alternate for --rounds
// rounds, in A-B then B-A order, so that a drift in Slurm's speed (it slows as ended jobs
// pile up in slurmctld's memory) hits both alike, and each starts once the jobs of the one
// before have ended. Rates are jobs over the total time of all rounds.
// Prints one JSON object on stdout.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "exec/executor.h"
#include "exec/slurm/command_runner.h"
#include "exec/slurm/slurm_executor.h"

namespace {

using namespace sluice;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

// Counts events; RUNNING and final states separately.
class CountingSink final : public exec::EventSink {
 public:
  void OnExecutorEvent(const exec::ExecutorEvent& event) override {
    if (event.state == State::kRunning) {
      ++running;
    } else if (IsTerminal(event.state)) {
      ++final;
    }
  }
  std::atomic<int64_t> running{0};
  std::atomic<int64_t> final{0};
};

// Times the commands the executor runs, to split Submit's time into sbatch and the rest.
class TimingRunner final : public exec::slurm::CommandRunner {
 public:
  Result<exec::slurm::CommandResult> Run(const std::vector<std::string>& argv,
                                         const std::map<std::string, std::string>& env,
                                         Micros timeout) override {
    const auto start = Steady::now();
    Result<exec::slurm::CommandResult> res = real_.Run(argv, env, timeout);
    if (!argv.empty() && argv[0] == "sbatch") {
      sbatch_micros +=
          std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - start).count();
    }
    return res;
  }
  std::atomic<int64_t> sbatch_micros{0};

 private:
  exec::slurm::SubprocessRunner real_;
};

exec::TaskSpec Spec(const std::string& root, const std::string& task_id,
                    std::vector<std::string> argv) {
  exec::TaskSpec spec;
  spec.run_id = "bench";
  spec.task_id = task_id;
  spec.argv = std::move(argv);
  spec.work_dir = root + "/" + task_id;
  return spec;
}

// Waits until the cluster has no job pending, running or completing, so that each phase
// starts on a quiet Slurm (job launches compete with sbatch for the same CPUs).
void WaitForQuietCluster(exec::slurm::CommandRunner& runner, const std::string& conf) {
  const std::map<std::string, std::string> env = {{"SLURM_CONF", conf}};
  for (int i = 0; i < 600; ++i) {
    Result<exec::slurm::CommandResult> res =
        runner.Run({"squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i"},
                   env, 60 * kMicrosPerSecond);
    if (res.ok() && res->exit_code == 0 && res->out.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// (a): what a shell loop does, with the same options the executor passes.
double PlainSbatchLoop(exec::slurm::CommandRunner& runner, const std::string& conf,
                       const std::string& root, int jobs) {
  std::vector<std::string> scripts;
  for (int i = 0; i < jobs; ++i) {
    const std::string dir = root + "/plain-" + std::to_string(i);
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/job.sh") << "#!/bin/sh\nexec 'true'\n";
    scripts.push_back(dir);
  }
  const std::map<std::string, std::string> env = {{"SLURM_CONF", conf}};
  const auto start = Steady::now();
  for (const std::string& dir : scripts) {
    Result<exec::slurm::CommandResult> res = runner.Run(
        {"sbatch", "--parsable", "--no-requeue", "--chdir=" + dir, "--output=" + dir + "/stdout",
         "--error=" + dir + "/stderr", "--cpus-per-task=1", dir + "/job.sh"},
        env, 60 * kMicrosPerSecond);
    if (!res.ok() || res->exit_code != 0) {
      std::cerr << "sbatch failed: " << (res.ok() ? res->err : res.status().ToString()) << "\n";
      std::exit(1);
    }
  }
  return jobs / Seconds(start);
}

// (b)
// (b), from `threads` threads at once (1: the side-by-side figure; 2: as the scheduler's two
// worker threads would submit).
double ExecutorSubmits(exec::slurm::SlurmExecutor& executor, const std::string& root,
                       const std::string& prefix, int jobs, int threads = 1) {
  std::vector<exec::TaskSpec> specs;
  for (int i = 0; i < jobs; ++i) {
    specs.push_back(Spec(root, prefix + std::to_string(i), {"true"}));
  }
  std::atomic<size_t> next{0};
  auto submit_some = [&] {
    for (size_t i = next++; i < specs.size(); i = next++) {
      Result<std::string> id = executor.Submit(specs[i]);
      if (!id.ok()) {
        std::cerr << "Submit failed: " << id.status().ToString() << "\n";
        std::exit(1);
      }
    }
  };
  const auto start = Steady::now();
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(submit_some);
  submit_some();
  for (std::thread& w : workers) w.join();
  return jobs / Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Slurm executor benchmark"};
  std::string conf;
  std::string root;
  int jobs = 300;
  int rounds = 2;
  int concurrent = 1000;
  double track_seconds = 20;
  int poll_ms = 1000;
  app.add_option("--slurm-conf", conf, "SLURM_CONF of the Slurm to use")->required();
  app.add_option("--work-dir", root, "Directory for the jobs' work dirs")->required();
  app.add_option("--jobs", jobs, "Jobs per round for (a) and (b)");
  app.add_option("--rounds", rounds, "Alternating rounds of (a) and (b)");
  app.add_option("--concurrent", concurrent, "Jobs tracked at once for (c)");
  app.add_option("--track-seconds", track_seconds, "How long (c) counts calls");
  app.add_option("--poll-ms", poll_ms, "The executor's poll interval");
  CLI11_PARSE(app, argc, argv);

  SystemClock clock;
  exec::slurm::SubprocessRunner runner;
  exec::slurm::SlurmExecutorOptions options;
  options.slurm_conf = conf;
  options.poll_interval = static_cast<Micros>(poll_ms) * 1000;

  nlohmann::json out;
  // Seconds spent by each side over all rounds: the rates are jobs over total time, so a
  // round that happened to be fast does not weigh more than a slow one.
  double plain_seconds = 0;
  double executor_seconds = 0;
  {
    CountingSink sink;
    auto timing = std::make_unique<TimingRunner>();
    TimingRunner* timer = timing.get();
    auto executor = exec::slurm::SlurmExecutor::Create(sink, clock, std::move(timing), options);
    if (!executor.ok()) {
      std::cerr << executor.status().ToString() << "\n";
      return 1;
    }
    // Warm-up, not measured: a fresh slurmctld with no job in memory answers sbatch several
    // times faster than one that keeps the last MinJobAge of ended jobs, as a cluster in use
    // does; whichever side went first would get that head start.
    PlainSbatchLoop(runner, conf, root + "/warm-up", jobs);
    for (int r = 0; r < rounds; ++r) {
      const std::string dir = root + "/round-" + std::to_string(r);
      double plain = 0;
      double submit = 0;
      double sbatch_ms = 0;
      auto run_plain = [&] {
        WaitForQuietCluster(runner, conf);
        plain = PlainSbatchLoop(runner, conf, dir, jobs);
      };
      auto run_executor = [&] {
        WaitForQuietCluster(runner, conf);
        const int64_t sbatch_before = timer->sbatch_micros.load();
        submit = ExecutorSubmits(**executor, dir, "task-", jobs);
        sbatch_ms =
            static_cast<double>(timer->sbatch_micros.load() - sbatch_before) / 1000.0 / jobs;
      };
      // A-B, then B-A: slurmctld slows down as ended jobs pile up in its memory (MinJobAge),
      // so whichever went second would always pay more.
      if (r % 2 == 0) {
        run_plain();
        run_executor();
      } else {
        run_executor();
        run_plain();
      }
      std::fprintf(stderr,
                   "round %d: plain sbatch %.1f jobs/s (%.1f ms each), Submit %.1f jobs/s "
                   "(%.1f ms each, of which %.1f ms in sbatch)\n",
                   r, plain, 1000.0 / plain, submit, 1000.0 / submit, sbatch_ms);
      out["rounds"].push_back({{"plain_sbatch_jobs_per_s", plain},
                               {"executor_submit_jobs_per_s", submit},
                               {"executor_sbatch_ms_per_job", sbatch_ms}});
      plain_seconds += jobs / plain;
      executor_seconds += jobs / submit;
    }
  }
  out["plain_sbatch_jobs_per_s"] = jobs * rounds / plain_seconds;
  out["executor_submit_jobs_per_s"] = jobs * rounds / executor_seconds;
  out["submit_ratio"] = plain_seconds / executor_seconds;
  {
    // Extra, not side by side: two submitting threads, as the scheduler has.
    CountingSink sink;
    auto executor = exec::slurm::SlurmExecutor::Create(sink, clock, nullptr, options);
    if (!executor.ok()) return 1;
    WaitForQuietCluster(runner, conf);
    const double two = ExecutorSubmits(**executor, root + "/two-threads", "task-", jobs, 2);
    std::fprintf(stderr, "Submit from 2 threads: %.1f jobs/s\n", two);
    out["executor_submit_2_threads_jobs_per_s"] = two;
  }

  // (c): `concurrent` long jobs tracked at once; calls counted over a window once all are
  // submitted.
  CountingSink sink;
  auto made = exec::slurm::SlurmExecutor::Create(sink, clock, nullptr, options);
  if (!made.ok()) {
    std::cerr << made.status().ToString() << "\n";
    return 1;
  }
  exec::slurm::SlurmExecutor& executor = **made;
  std::vector<exec::JobRef> refs;
  for (int i = 0; i < concurrent; ++i) {
    exec::TaskSpec spec = Spec(root + "/tracked", "long-" + std::to_string(i),
                               {"sleep", std::to_string(static_cast<int>(track_seconds) + 600)});
    Result<std::string> id = executor.Submit(spec);
    if (!id.ok()) {
      std::cerr << "Submit failed: " << id.status().ToString() << "\n";
      return 1;
    }
    refs.push_back(exec::JobRef{spec.run_id, spec.task_id, *id, spec.work_dir});
  }
  const exec::slurm::SlurmCallCounts before = executor.call_counts();
  const auto window = Steady::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(track_seconds));
  const exec::slurm::SlurmCallCounts after = executor.call_counts();
  const double elapsed = Seconds(window);
  const double calls =
      static_cast<double>((after.squeue - before.squeue) + (after.sacct - before.sacct));
  out["tracked_jobs"] = concurrent;
  out["tracked_running_reported"] = sink.running.load();
  out["track_window_s"] = elapsed;
  out["squeue_calls"] = after.squeue - before.squeue;
  out["sacct_calls"] = after.sacct - before.sacct;
  out["status_calls_per_s"] = calls / elapsed;

  // Cancel them all and wait until every end is reported: the tracking really tracks.
  const auto cancel_start = Steady::now();
  for (const exec::JobRef& ref : refs) {
    Status st = executor.Cancel(ref);
    if (!st.ok()) std::cerr << "Cancel failed: " << st.ToString() << "\n";
  }
  while (sink.final.load() < concurrent && Seconds(cancel_start) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  out["tracked_final_reported"] = sink.final.load();
  out["cancel_all_to_all_reported_s"] = Seconds(cancel_start);
  std::cout << out.dump(2) << std::endl;
  return sink.final.load() == concurrent ? 0 : 1;
}
