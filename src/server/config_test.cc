#include "server/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sluice::server {
namespace {

// Writes YAML files into a fresh temporary directory removed at the end of the test.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& text) {
    std::string path = (dir_ / "sluice.yaml").string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, YamlSetsEveryKey) {
  std::string path = Write(
      "host: 0.0.0.0\n"
      "port: 9090\n"
      "data_dir: /srv/sluice\n"
      "store: postgresql://db/sluice\n"
      "max_concurrent_tasks: 64\n"
      "max_active_runs: 1000\n"
      "scheduler_workers: 6\n"
      "io_threads: 4\n"
      "max_body_bytes: 1048576\n"
      "cancel_grace_seconds: 2.5\n"
      "log_level: debug\n"
      "replica_id: node-1\n");
  ServeConfig c;
  ASSERT_TRUE(ApplyYamlConfig(path, c).ok());
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 9090);
  EXPECT_EQ(c.data_dir, "/srv/sluice");
  EXPECT_EQ(c.store, "postgresql://db/sluice");
  EXPECT_EQ(c.max_concurrent_tasks, 64);
  EXPECT_EQ(c.max_active_runs, 1000);
  EXPECT_EQ(c.scheduler_workers, 6);
  EXPECT_EQ(c.io_threads, 4);
  EXPECT_EQ(c.max_body_bytes, 1048576);
  EXPECT_DOUBLE_EQ(c.cancel_grace_seconds, 2.5);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.replica_id, "node-1");
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST_F(ConfigFileTest, EmptyFileKeepsDefaults) {
  ServeConfig c;
  ASSERT_TRUE(ApplyYamlConfig(Write(""), c).ok());
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.store, "sqlite");
}

TEST_F(ConfigFileTest, UnknownKeyIsNamed) {
  std::string path = Write("port: 9090\nmax_tasks: 3\n");
  ServeConfig c;
  Status st = ApplyYamlConfig(path, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(path + ":2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("max_tasks: unknown key"), std::string::npos) << st.message();
  EXPECT_EQ(c.port, 8080) << "a bad file must change nothing";
}

struct BadYamlCase {
  std::string yaml;
  std::string key;
  std::string problem;
};

TEST_F(ConfigFileTest, WrongTypeOrRangeNamesFileAndKey) {
  const BadYamlCase cases[] = {
      {"port: abc\n", "port", "must be an integer"},
      {"port: 70000\n", "port", "must be from 0 to 65535"},
      {"port: -1\n", "port", "must be from 0 to 65535"},
      {"port: 80.5\n", "port", "must be an integer"},
      {"port: [1, 2]\n", "port", "not a list"},
      {"host:\n", "host", "not empty"},
      {"host: {a: b}\n", "host", "not a mapping"},
      {"max_concurrent_tasks: 0\n", "max_concurrent_tasks", "must be from 1"},
      {"max_active_runs: 0\n", "max_active_runs", "must be from 1 to 100000"},
      {"scheduler_workers: 65\n", "scheduler_workers", "must be from 1 to 64"},
      {"io_threads: 1000\n", "io_threads", "must be from 1 to 256"},
      {"max_body_bytes: 12\n", "max_body_bytes", "must be from 1024"},
      {"cancel_grace_seconds: soon\n", "cancel_grace_seconds", "must be a number"},
      {"cancel_grace_seconds: -1\n", "cancel_grace_seconds", "must be from 0 to 3600"},
      {"log_level: loud\n", "log_level", "must be one of trace"},
      {"store: mysql://x\n", "store", "postgresql:// URL"},
      {"replica_id: a/b\n", "replica_id", "[A-Za-z0-9._-]"},
  };
  for (const BadYamlCase& tc : cases) {
    std::string path = Write(tc.yaml);
    ServeConfig c;
    Status st = ApplyYamlConfig(path, c);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << tc.yaml;
    EXPECT_NE(st.message().find(path + ":1: " + tc.key + ": "), std::string::npos)
        << tc.yaml << " -> " << st.message();
    EXPECT_NE(st.message().find(tc.problem), std::string::npos)
        << tc.yaml << " -> " << st.message();
  }
}

TEST_F(ConfigFileTest, SyntaxErrorNamesFileAndLine) {
  std::string path = Write("port: 1\nhost: [unclosed\n");
  ServeConfig c;
  Status st = ApplyYamlConfig(path, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(path + ":"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("invalid YAML"), std::string::npos) << st.message();
}

TEST_F(ConfigFileTest, NotAMappingIsRefused) {
  ServeConfig c;
  Status st = ApplyYamlConfig(Write("- port\n- host\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("must be a mapping"), std::string::npos) << st.message();
}

TEST(Config, MissingFileIsNamed) {
  ServeConfig c;
  Status st = ApplyYamlConfig("/nonexistent/sluice.yaml", c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("/nonexistent/sluice.yaml: cannot read"), std::string::npos)
      << st.message();
}

TEST_F(ConfigFileTest, EnvOverridesYaml) {
  ServeConfig c;
  ASSERT_TRUE(ApplyYamlConfig(Write("port: 9090\nhost: 0.0.0.0\nlog_level: warn\n"), c).ok());
  ASSERT_TRUE(ApplyEnvConfig({{"SLUICE_PORT", "7070"},
                              {"SLUICE_MAX_CONCURRENT_TASKS", "3"},
                              {"SLUICE_CANCEL_GRACE_SECONDS", "0.5"},
                              {"SLUICE_SERVER", "http://elsewhere"}},
                             c)
                  .ok());
  EXPECT_EQ(c.port, 7070);
  EXPECT_EQ(c.host, "0.0.0.0") << "keys absent from the environment keep the YAML value";
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.max_concurrent_tasks, 3);
  EXPECT_DOUBLE_EQ(c.cancel_grace_seconds, 0.5);
}

TEST(Config, BadEnvValueNamesVariable) {
  ServeConfig c;
  Status st = ApplyEnvConfig({{"SLUICE_HOST", "h"}, {"SLUICE_IO_THREADS", "many"}}, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("SLUICE_IO_THREADS: must be an integer"), std::string::npos)
      << st.message();
  EXPECT_EQ(c.host, "127.0.0.1") << "a bad environment must change nothing";

  st = ApplyEnvConfig({{"SLUICE_PORT", "99999"}}, c);
  EXPECT_NE(st.message().find("SLUICE_PORT: must be from 0 to 65535"), std::string::npos)
      << st.message();
}

TEST(Config, FlagsOverrideAndNameTheFlag) {
  ServeConfig c;
  c.port = 9090;
  ASSERT_TRUE(ApplyFlagConfig({{"port", "0"}, {"data_dir", "/tmp/x"}}, c).ok());
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.data_dir, "/tmp/x");

  Status st = ApplyFlagConfig({{"max_concurrent_tasks", "-4"}}, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--max-concurrent-tasks: must be from 1"), std::string::npos)
      << st.message();
  EXPECT_EQ(ApplyFlagConfig({{"no_such_key", "1"}}, c).code(), StatusCode::kInvalidArgument);
}

TEST(Config, ValidateDefaultsAreValid) { EXPECT_TRUE(ValidateConfig(ServeConfig{}).ok()); }

TEST(Config, ValidateChecksRanges) {
  struct Case {
    void (*mutate)(ServeConfig&);
    std::string key;
  };
  const Case cases[] = {
      {[](ServeConfig& c) { c.port = 65536; }, "port"},
      {[](ServeConfig& c) { c.host = ""; }, "host"},
      {[](ServeConfig& c) { c.data_dir = ""; }, "data_dir"},
      {[](ServeConfig& c) { c.store = "oracle"; }, "store"},
      {[](ServeConfig& c) { c.max_concurrent_tasks = 0; }, "max_concurrent_tasks"},
      {[](ServeConfig& c) { c.io_threads = 0; }, "io_threads"},
      {[](ServeConfig& c) { c.max_body_bytes = 0; }, "max_body_bytes"},
      {[](ServeConfig& c) { c.cancel_grace_seconds = -0.1; }, "cancel_grace_seconds"},
      {[](ServeConfig& c) { c.log_level = "INFO"; }, "log_level"},
      {[](ServeConfig& c) { c.replica_id = std::string(65, 'a'); }, "replica_id"},
      {[](ServeConfig& c) { c.lease_seconds = 2; }, "lease_seconds"},
  };
  for (const Case& tc : cases) {
    ServeConfig c;
    tc.mutate(c);
    Status st = ValidateConfig(c);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << tc.key;
    EXPECT_NE(st.message().find("configuration: " + tc.key + ": "), std::string::npos)
        << st.message();
  }
  ServeConfig edge;
  edge.port = 0;
  edge.cancel_grace_seconds = 0;
  edge.store = "postgres://u@h/db";
  EXPECT_TRUE(ValidateConfig(edge).ok());
}

TEST_F(ConfigFileTest, YamlSetsIndexSettingsAndRetentionRules) {
  std::string path = Write(
      "reconcile_interval_seconds: 10\n"
      "task_stale_seconds: 120\n"
      "outbox_retention_seconds: 3600\n"
      "retention_days: 90\n"
      "retention_sweep_seconds: 600\n"
      "lease_seconds: 20\n"
      "price_per_cpu_hour: 0.05\n"
      "price_per_gb_hour: 0.01\n"
      "retention_by_tag:\n"
      "  \"project:scratch\": 7\n"
      "  \"keep:forever\": 0\n"
      "retention_by_workflow_type:\n"
      "  ASL: 30.5\n");
  ServeConfig c;
  Status st = ApplyYamlConfig(path, c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.reconcile_interval_seconds, 10);
  EXPECT_EQ(c.task_stale_seconds, 120);
  EXPECT_EQ(c.outbox_retention_seconds, 3600);
  EXPECT_DOUBLE_EQ(c.retention_days, 90);
  EXPECT_EQ(c.retention_sweep_seconds, 600);
  EXPECT_EQ(c.lease_seconds, 20);
  EXPECT_DOUBLE_EQ(c.price_per_cpu_hour, 0.05);
  EXPECT_DOUBLE_EQ(c.price_per_gb_hour, 0.01);
  EXPECT_EQ(c.retention_by_tag.size(), 2u);
  EXPECT_DOUBLE_EQ(c.retention_by_tag.at("project:scratch"), 7);
  EXPECT_DOUBLE_EQ(c.retention_by_tag.at("keep:forever"), 0);
  EXPECT_DOUBLE_EQ(c.retention_by_workflow_type.at("ASL"), 30.5);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST_F(ConfigFileTest, BadRetentionRulesAreNamed) {
  ServeConfig c;
  Status st = ApplyYamlConfig(Write("retention_by_tag:\n  noColon: 3\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("retention_by_tag"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("key:value"), std::string::npos) << st.message();
  st = ApplyYamlConfig(Write("retention_by_workflow_type:\n  ASL: -1\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("ASL"), std::string::npos) << st.message();
  st = ApplyYamlConfig(Write("retention_by_tag: 3\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  st = ApplyYamlConfig(Write("retention_days: [1]\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.retention_by_tag.empty()) << "a bad file changes nothing";
}

TEST(Config, RetentionAndPricesFromEnvAndFlags) {
  ServeConfig c;
  ASSERT_TRUE(ApplyEnvConfig({{"SLUICE_RETENTION_DAYS", "30"},
                              {"SLUICE_PRICE_PER_CPU_HOUR", "0.1"},
                              {"SLUICE_RECONCILE_INTERVAL_SECONDS", "0"}},
                             c)
                  .ok());
  EXPECT_DOUBLE_EQ(c.retention_days, 30);
  EXPECT_DOUBLE_EQ(c.price_per_cpu_hour, 0.1);
  EXPECT_EQ(c.reconcile_interval_seconds, 0);
  ASSERT_TRUE(ApplyFlagConfig({{"retention_days", "7"}}, c).ok());
  EXPECT_DOUBLE_EQ(c.retention_days, 7);
  Status st = ApplyFlagConfig({{"price_per_gb_hour", "-2"}}, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--price-per-gb-hour"), std::string::npos) << st.message();
  st = ApplyEnvConfig({{"SLUICE_OUTBOX_RETENTION_SECONDS", "5"}}, c);
  EXPECT_NE(st.message().find("SLUICE_OUTBOX_RETENTION_SECONDS"), std::string::npos);
}

TEST_F(ConfigFileTest, SlurmExecutorKeysFromYaml) {
  ServeConfig c;
  ASSERT_TRUE(ApplyYamlConfig(Write("executor: slurm\n"
                                    "slurm_partition: long\n"
                                    "slurm_account: lab\n"
                                    "slurm_sbatch_options: [\"--qos=high\", \"--comment=a b\"]\n"
                                    "slurm_poll_interval_ms: 500\n"),
                              c)
                  .ok());
  EXPECT_EQ(c.executor, "slurm");
  EXPECT_EQ(c.slurm_partition, "long");
  EXPECT_EQ(c.slurm_account, "lab");
  EXPECT_EQ(c.slurm_sbatch_options, (std::vector<std::string>{"--qos=high", "--comment=a b"}));
  EXPECT_EQ(c.slurm_poll_interval_ms, 500);
  EXPECT_TRUE(ValidateConfig(c).ok());

  Status st = ApplyYamlConfig(Write("slurm_sbatch_options: [qos]\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("slurm_sbatch_options"), std::string::npos) << st.message();
  EXPECT_EQ(c.slurm_sbatch_options.size(), 2u) << "a bad file changes nothing";
}

TEST(Config, SlurmExecutorKeysFromEnvAndFlags) {
  ServeConfig c;
  EXPECT_EQ(c.executor, "local");
  ASSERT_TRUE(ApplyEnvConfig({{"SLUICE_EXECUTOR", "slurm"},
                              {"SLUICE_SLURM_SBATCH_OPTIONS", " --qos=high  --exclusive "}},
                             c)
                  .ok());
  EXPECT_EQ(c.executor, "slurm");
  EXPECT_EQ(c.slurm_sbatch_options, (std::vector<std::string>{"--qos=high", "--exclusive"}));
  Status st = ApplyFlagConfig({{"executor", "kubernetes"}}, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--executor: must be \"local\" or \"slurm\""), std::string::npos)
      << st.message();
  st = ApplyFlagConfig({{"slurm_poll_interval_ms", "10"}}, c);
  EXPECT_NE(st.message().find("--slurm-poll-interval-ms: must be from 50"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace sluice::server
