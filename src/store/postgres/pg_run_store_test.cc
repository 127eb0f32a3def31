// PgRunStore against a real PostgreSQL (scripts/postgres.sh, started by a CTest fixture that
// sets SLUICE_TEST_PG_DIR; or give SLUICE_TEST_PG_URL directly). Every test gets a schema of
// its own, so each store starts empty.
#include "store/postgres/pg_run_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "testing/store_conformance.h"
#include "testing/store_conformance_util.h"

namespace sluice::store::postgres {
namespace {

using namespace conformance;  // NOLINT(google-build-using-namespace): test helpers

std::string TestUrl() {
  if (const char* url = std::getenv("SLUICE_TEST_PG_URL"); url != nullptr && *url != '\0') {
    return url;
  }
  const char* dir = std::getenv("SLUICE_TEST_PG_DIR");
  if (dir == nullptr) return "";
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  return url;
}

std::string FreshSchema() {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

Result<std::unique_ptr<RunStore>> MakeStore(const std::string& schema) {
  std::string url = TestUrl();
  if (url.empty()) {
    return FailedPrecondition(
        "no test database: run through ctest (fixture postgres) or set SLUICE_TEST_PG_URL");
  }
  PgOptions options;
  options.url = url;
  options.schema = schema;
  options.pool_size = 4;
  options.async_threads = 2;
  ASSIGN_OR_RETURN(std::unique_ptr<PgRunStore> store, PgRunStore::Open(options));
  return std::unique_ptr<RunStore>(std::move(store));
}

}  // namespace

SLUICE_INSTANTIATE_RUN_STORE_CONFORMANCE(
    Postgres, RunStoreBackend{"Postgres", [](const std::string&) {
                                return MakeStore(FreshSchema());
                              }});

namespace {

// Two stores on one schema: what two replicas sharing a database are.
struct TwoReplicas {
  std::unique_ptr<RunStore> a;
  std::unique_ptr<RunStore> b;
};

TwoReplicas OpenTwo() {
  std::string schema = FreshSchema();
  Result<std::unique_ptr<RunStore>> a = MakeStore(schema);
  Result<std::unique_ptr<RunStore>> b = MakeStore(schema);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  if (!a.ok() || !b.ok()) return {};
  return TwoReplicas{std::move(a).value(), std::move(b).value()};
}

TEST(PgRunStore, RecognisesPostgresUrls) {
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h:5432/db"));
  EXPECT_TRUE(IsPostgresUrl("postgresql://h/db"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/sluice/sluice.db"));
  EXPECT_FALSE(IsPostgresUrl("sqlite://x"));
}

TEST(PgRunStore, OpeningASecondStoreOnTheSameSchemaSeesTheFirstOnesRuns) {
  TwoReplicas r = OpenTwo();
  ASSERT_NE(r.a, nullptr);
  ASSERT_OK(r.a->CreateRun(MakeRun("r1", 100)));
  ASSERT_OK_AND_ASSIGN(RunRecord run, r.b->GetRun("r1"));
  EXPECT_EQ(run.state, State::kQueued);
  ASSERT_OK_AND_ASSIGN(auto counts, r.b->CountRunsByState());
  EXPECT_EQ(counts[State::kQueued], 1);
}

TEST(PgRunStore, TwoStoresClaimingConcurrentlyNeverGetTheSameRun) {
  TwoReplicas r = OpenTwo();
  ASSERT_NE(r.a, nullptr);
  constexpr int kRuns = 300;
  for (int i = 0; i < kRuns; ++i) ASSERT_OK(r.a->CreateRun(MakeRun(RunId(i), 100 + i)));
  // Each replica claims with two threads, a few runs at a time, until nothing is left.
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::atomic<int> errors{0};
  auto claimer = [&](RunStore* store, std::string owner) {
    for (;;) {
      ClaimRequest req;
      req.owner = owner;
      req.now = 1000;
      req.lease_until = 1'000'000'000;
      req.limit = 7;
      req.include_owned = false;
      Result<std::vector<RunRecord>> got = store->ClaimRuns(req);
      if (!got.ok()) {
        errors++;
        return;
      }
      if (got->empty()) return;
      std::lock_guard<std::mutex> lock(mu);
      for (const RunRecord& run : *got) {
        EXPECT_EQ(run.owner, owner);
        claimed.insert(run.id);
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(claimer, r.a.get(), "replica-a");
  threads.emplace_back(claimer, r.a.get(), "replica-a2");
  threads.emplace_back(claimer, r.b.get(), "replica-b");
  threads.emplace_back(claimer, r.b.get(), "replica-b2");
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kRuns));
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kRuns)) << "a run was claimed twice";
}

ClaimRequest Claim(const std::string& owner, Micros now, bool include_owned) {
  ClaimRequest req;
  req.owner = owner;
  req.now = now;
  req.lease_until = now + 1000;
  req.limit = 10;
  req.include_owned = include_owned;
  return req;
}

TEST(PgRunStore, ClaimingMoreWorkSkipsARunLockedByAnotherTransaction) {
  std::string schema = FreshSchema();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunStore> store, MakeStore(schema));
  ASSERT_OK(store->CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store->CreateRun(MakeRun("r2", 110)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgConn> other, PgConn::Connect(TestUrl(), schema));
  ASSERT_OK(other->ExecScript("BEGIN; SELECT 1 FROM runs WHERE id = 'r1' FOR UPDATE"));
  // Returns at once (no wait on r1's lock) with the run nobody holds.
  ASSERT_OK_AND_ASSIGN(std::vector<RunRecord> got, store->ClaimRuns(Claim("b", 2000, false)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "r2");
  ASSERT_OK(other->ExecScript("COMMIT"));
  ASSERT_OK_AND_ASSIGN(got, store->ClaimRuns(Claim("b", 2000, false)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "r1");
}

// A replica whose host or network died inside a transaction cannot hide runs for long: the
// server ends a transaction left idle (idle_in_transaction_session_timeout, 2 s, set by
// every Sluice connection), and its row locks go with it.
TEST(PgRunStore, ALockHeldByAVanishedClientsTransactionIsReleased) {
  std::string schema = FreshSchema();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunStore> store, MakeStore(schema));
  ASSERT_OK(store->CreateRun(MakeRun("r1", 100)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgConn> vanished, PgConn::Connect(TestUrl(), schema));
  ASSERT_OK(vanished->ExecScript("BEGIN; SELECT 1 FROM runs WHERE id = 'r1' FOR UPDATE"));
  // The client sends nothing more, as if its machine were gone.
  ASSERT_OK_AND_ASSIGN(std::vector<RunRecord> got, store->ClaimRuns(Claim("b", 2000, false)));
  EXPECT_TRUE(got.empty()) << "r1 is locked: skipped";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_OK_AND_ASSIGN(got, store->ClaimRuns(Claim("b", 2000, false)));
  }
  ASSERT_EQ(got.size(), 1u) << "the lock outlived the transaction's client";
  EXPECT_EQ(got[0].id, "r1");
}

TEST(PgRunStore, StartUpClaimWaitsForALockedOwnRunInsteadOfSkippingIt) {
  std::string schema = FreshSchema();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunStore> store, MakeStore(schema));
  ASSERT_OK(store->CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store->CreateRun(MakeRun("r2", 110)));
  ASSERT_OK_AND_ASSIGN(std::vector<RunRecord> mine, store->ClaimRuns(Claim("a", 1000, false)));
  ASSERT_EQ(mine.size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgConn> other, PgConn::Connect(TestUrl(), schema));
  ASSERT_OK(other->ExecScript("BEGIN; SELECT 1 FROM runs WHERE id = 'r1' FOR UPDATE"));
  std::atomic<bool> returned{false};
  Result<std::vector<RunRecord>> got = std::vector<RunRecord>{};
  std::thread restart([&] {
    got = store->ClaimRuns(Claim("a", 1500, true));
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(returned.load()) << "the claim skipped a run its owner must re-adopt";
  ASSERT_OK(other->ExecScript("COMMIT"));
  restart.join();
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, "r1");
  EXPECT_EQ((*got)[1].id, "r2");
}

TEST(PgRunStore, AChangeOnOneStoreWakesTheOtherStoresOutboxListener) {
  TwoReplicas r = OpenTwo();
  ASSERT_NE(r.a, nullptr);
  std::atomic<int> woken{0};
  std::atomic<int64_t> seen_last{0};
  RunStore* b = r.b.get();
  r.b->SetOutboxListener([&woken, &seen_last, b] {
    Result<OutboxBounds> bounds = b->GetOutboxBounds();
    if (bounds.ok()) seen_last = bounds->last_seq;
    woken++;
  });
  ASSERT_OK(r.a->CreateRun(MakeRun("r1", 100)));
  for (int i = 0; i < 500 && seen_last.load() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(woken.load(), 1);
  EXPECT_EQ(seen_last.load(), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<ChangeEvent> events, r.b->ReadOutbox(0, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].run_id, "r1");
  r.b->SetOutboxListener(nullptr);
}

TEST(PgRunStore, OutboxReadersNeverSkipAnEntryThatCommitsLate) {
  // Writers on both stores and a reader following the outbox: every entry the reader sees
  // has a seq above the last one it saw, and in the end it has seen every entry exactly once.
  TwoReplicas r = OpenTwo();
  ASSERT_NE(r.a, nullptr);
  constexpr int kPerWriter = 150;
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    RunStore* s = (w % 2 == 0) ? r.a.get() : r.b.get();
    writers.emplace_back([s, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        Result<CreateRunResult> c = s->CreateRun(MakeRun(RunId(w * 10000 + i), 100 + i));
        EXPECT_TRUE(c.ok()) << c.status().ToString();
      }
    });
  }
  std::vector<int64_t> seqs;
  std::set<std::string> runs;
  auto drain = [&] {
    Result<std::vector<ChangeEvent>> got =
        r.b->ReadOutbox(seqs.empty() ? 0 : seqs.back(), 1000);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const ChangeEvent& e : *got) {
      if (!seqs.empty()) {
        EXPECT_EQ(e.seq, seqs.back() + 1) << "gap or reorder after " << seqs.back();
      }
      seqs.push_back(e.seq);
      runs.insert(e.run_id);
    }
  };
  std::thread reader([&] {
    while (!done) drain();
  });
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();
  drain();
  EXPECT_EQ(seqs.size(), static_cast<size_t>(4 * kPerWriter));
  EXPECT_EQ(runs.size(), static_cast<size_t>(4 * kPerWriter));
}

TEST(PgRunStore, CreateRunAsyncCallsBackOnceDurable) {
  TwoReplicas r = OpenTwo();
  ASSERT_NE(r.a, nullptr);
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < 50; ++i) {
    r.a->CreateRunAsync(MakeRun(RunId(i), 100 + i), [&](Result<CreateRunResult> res) {
      if (!res.ok() || !res->created) failed++;
      done++;
    });
  }
  for (int i = 0; i < 1000 && done.load() < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_OK_AND_ASSIGN(RunCount n, r.b->CountRuns(RunFilter{}));
  EXPECT_EQ(n.count, 50);
}

}  // namespace
}  // namespace sluice::store::postgres
