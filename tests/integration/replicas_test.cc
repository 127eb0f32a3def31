// Several `sluice serve` replicas on one PostgreSQL: runs are driven by whichever replica
// claims them, a replica killed with -9 has its runs taken over by another once its leases
// expire, and every run completes exactly once with each task run once. Needs the test
// PostgreSQL of the CTest fixture `postgres` (scripts/postgres.sh; SLUICE_TEST_PG_DIR).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.h"

namespace sluice::testing {
namespace {

// The fixture's server URL (postgres://postgres@127.0.0.1:PORT/sluice), "" if none.
std::string FixtureUrl() {
  const char* dir = std::getenv("SLUICE_TEST_PG_DIR");
  if (dir == nullptr) return "";
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  return url;
}

// Runs one SQL statement with psql; returns its unaligned output ("" and a test failure on
// error).
std::string Psql(const std::string& url, const std::string& sql) {
  std::string cmd = "psql -q -At -v ON_ERROR_STOP=1 '" + url + "' -c \"" + sql + "\" 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[512];
  std::string out;
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (::pclose(p) != 0) {
    ADD_FAILURE() << cmd << ": " << out;
    return "";
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A new empty database on the fixture's server; returns its URL.
std::string FreshDatabase(const std::string& server_url, const std::string& name) {
  Psql(server_url, "CREATE DATABASE " + name);
  return server_url.substr(0, server_url.rfind('/') + 1) + name;
}

struct Scenario {
  std::string database;
  std::vector<std::string> extra_args;  // e.g. the executor
  int runs = 24;
  int tasks = 3;
  double task_seconds = 1.0;
  double settle_seconds = 1.2;  // before the kill (then until some run is RUNNING)
};

// Three replicas on a fresh database, `runs` MOCK runs submitted round robin, the replica
// driving the most unfinished runs killed with -9: every run completes, the victim's runs are
// finished by the others, and every task ran exactly once.
void KillOneOfThree(const Scenario& sc) {
  std::string server_url = FixtureUrl();
  ASSERT_FALSE(server_url.empty()) << "run through ctest (fixture postgres)";
  std::string url = FreshDatabase(server_url, sc.database + "_" + std::to_string(::getpid()));
  ASSERT_FALSE(url.empty());

  // One data dir for all (the task directories must be reachable by whoever takes a run
  // over); leases of 4 s so the takeover comes quickly.
  TempDir dir;
  std::vector<std::string> args = {"--store", url, "--lease-seconds", "4",
                                   "--max-concurrent-tasks", "8"};
  args.insert(args.end(), sc.extra_args.begin(), sc.extra_args.end());
  std::vector<std::unique_ptr<ServerProcess>> replicas;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> a = args;
    a.push_back("--replica-id");
    a.push_back("r" + std::to_string(i));
    replicas.push_back(std::make_unique<ServerProcess>(dir.path(), a));
  }

  // Runs of `tasks` tasks (2 at a time), submitted round robin.
  std::vector<std::string> runs;
  for (int i = 0; i < sc.runs; ++i) {
    runs.push_back(SubmitMock(*replicas[i % 3],
                              {{"tasks", sc.tasks}, {"parallelism", 2}, {"task_seconds", sc.task_seconds}}));
  }
  // Once runs are going on every replica, kill one of them mid-way: its runs have tasks
  // running (they go on: tasks outlive the server) and tasks still to start.
  std::this_thread::sleep_for(std::chrono::duration<double>(sc.settle_seconds));
  auto running_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    HttpResponse page = HttpGet(replicas[2]->url() + "/api/v1/runs?state=RUNNING&page_size=1");
    ASSERT_EQ(page.status, 200) << page.body;
    if (!page.Json()["runs"].empty()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), running_deadline) << "no run started";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The victim: the replica driving the most runs that are not over (states 5-10 but 9 are
  // terminal), with those runs, read in one statement: "r1|id,id,...".
  std::string row = Psql(url,
                         "SELECT owner || '|' || string_agg(id, ',') FROM runs WHERE (state < 5 "
                         "OR state = 9) AND owner IS NOT NULL GROUP BY owner "
                         "ORDER BY count(*) DESC, owner LIMIT 1");
  ASSERT_FALSE(row.empty()) << "no replica drives a run: nothing to take over";
  const std::string victim = row.substr(0, row.find('|'));
  const std::string taken = row.substr(row.find('|') + 1);
  const int v = victim.back() - '0';
  ASSERT_TRUE(v >= 0 && v < 3) << row;
  replicas[v]->Kill9();
  auto killed_at = std::chrono::steady_clock::now();
  ServerProcess& survivor = *replicas[(v + 1) % 3];
  std::string survivors_in = "'r" + std::to_string((v + 1) % 3) + "', 'r" +
                             std::to_string((v + 2) % 3) + "'";

  // Every run completes, seen from the survivors.
  for (const std::string& id : runs) {
    EXPECT_EQ(WaitForTerminal(survivor, id, 120), "COMPLETE") << id;
  }
  double takeover_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  // The victim's unfinished runs were finished by the survivors (all but any that the victim
  // itself finished in the moment between the query and the kill).
  std::string taken_in = "'" + taken + "'";
  for (size_t pos = 0; (pos = taken_in.find(',', pos)) != std::string::npos; pos += 3) {
    taken_in.replace(pos, 1, "','");
  }
  std::string by_survivors = Psql(url, "SELECT count(*) FROM runs WHERE id IN (" + taken_in +
                                           ") AND owner IN (" + survivors_in + ") AND state = 5");
  EXPECT_GE(std::atoi(by_survivors.c_str()), 1)
      << "no run of the killed replica " << victim << " was taken over: " << taken;

  // Exactly once: every task of every run ran one time (its output has one line of work),
  // none was started again by the replica that took the run over.
  for (const std::string& id : runs) {
    auto tasks = AllTasks(survivor, id);
    ASSERT_EQ(tasks.size(), static_cast<size_t>(sc.tasks)) << id;
    for (const auto& t : tasks) {
      EXPECT_EQ(t["exit_code"], 0) << id << " " << t.dump();
      std::string out =
          dir.path() + "/runs/" + id + "/tasks/" + t["id"].get<std::string>() + "/stdout";
      EXPECT_EQ(CountLines(out, "working for"), 1) << id << "/" << t["id"] << " ran "
                                                    << CountLines(out, "working for") << " times";
    }
  }
  std::printf("all runs complete %.1f s after the kill\n", takeover_s);
}

TEST(Replicas, KillingOneOfThreeLosesNothingAndRunsEveryTaskOnce) {
  Scenario sc;
  sc.database = "replicas_local";
  KillOneOfThree(sc);
}

// The same with every task a Slurm job (the CTest fixture `slurm_cluster`): the survivors
// re-attach to the killed replica's jobs through their job ids.
TEST(Replicas, SlurmJobsOfAKilledReplicaAreTakenOverOnce) {
  const char* slurm_dir = std::getenv("SLUICE_TEST_SLURM_DIR");
  ASSERT_NE(slurm_dir, nullptr) << "run through ctest (fixture slurm_cluster)";
  ::setenv("SLURM_CONF", (std::string(slurm_dir) + "/slurm.conf").c_str(), 1);
  Scenario sc;
  sc.database = "replicas_slurm";
  sc.extra_args = {"--executor", "slurm", "--slurm-poll-interval-ms", "500"};
  sc.runs = 9;
  sc.tasks = 2;
  // Slurm starts batch jobs about once a second; tasks long enough to be caught running.
  sc.task_seconds = 4.0;
  sc.settle_seconds = 0;
  KillOneOfThree(sc);
}

}  // namespace
}  // namespace sluice::testing
