// The RunStore conformance cases about concurrency, claims and leases (the rest are in
// store_conformance.cc).
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "testing/store_conformance.h"
#include "testing/store_conformance_util.h"

namespace sluice::store {

using namespace conformance;  // NOLINT(google-build-using-namespace): test helpers

int RunStoreConcurrencyConformanceAnchor() { return 0; }

// ---------------------------------------------------------------------------------------
// Concurrency

TEST_P(RunStoreConformanceTest, ConcurrentCreatesFromSixteenThreadsAllSucceed) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  std::vector<std::string> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready++;
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = RunId(t * 1000 + i);
        Result<CreateRunResult> r = store().CreateRun(MakeRun(id, 100 + i));
        if (!r.ok() || !r->created) {
          errors[t] = id + ": " + r.status().ToString();
          return;
        }
        Result<RunRecord> run = store().GetRun(id);
        if (!run.ok()) {
          errors[t] = id + ": " + run.status().ToString();
          return;
        }
        seqs[t].push_back(run->seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    ASSERT_EQ(seqs[t].size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(seqs[t].begin(), seqs[t].end())) << "thread " << t;
    all.insert(seqs[t].begin(), seqs[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, kThreads * kPerThread}}));
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns(RunsPage(1000)));
  EXPECT_EQ(page.runs.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_P(RunStoreConformanceTest, PagingWhileInsertingSeesEachOriginalRunOnceInOrder) {
  constexpr int kOriginal = 250;
  std::vector<std::string> original;
  for (int i = 0; i < kOriginal; ++i) {
    original.push_back(RunId(i));
    ASSERT_OK(store().CreateRun(MakeRun(original.back(), 100 + i)));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::string insert_error;
  std::thread inserter([&] {
    for (int i = 0; !stop.load(); ++i) {
      Result<CreateRunResult> r = store().CreateRun(MakeRun(RunId(50000 + i), 9000 + i));
      if (!r.ok()) {
        insert_error = r.status().ToString();
        break;
      }
      inserted++;
    }
  });
  std::vector<std::string> seen;
  std::optional<RunCursor> before;
  int pages = 0;
  do {
    // Make sure at least one insert lands between any two pages.
    int mark = inserted.load();
    while (inserted.load() == mark && insert_error.empty()) std::this_thread::yield();
    RunListQuery q;
    q.page_size = 20;
    q.after = before;
    Result<RunPage> page = store().ListRuns(q);
    ASSERT_OK(page);
    for (const RunRecord& r : page->runs) seen.push_back(r.id);
    before = page->next;
    ++pages;
  } while (before.has_value() && pages < 1000);
  stop = true;
  inserter.join();
  EXPECT_EQ(insert_error, "");
  EXPECT_GE(inserted.load(), pages);

  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a run was listed twice";
  std::set<std::string> original_set(original.begin(), original.end());
  std::vector<std::string> seen_original;
  for (const std::string& id : seen) {
    if (original_set.count(id) > 0) seen_original.push_back(id);
  }
  std::vector<std::string> want(original.rbegin(), original.rend());
  EXPECT_EQ(seen_original, want);
}

TEST_P(RunStoreConformanceTest, ConcurrentCompareAndSetHasExactlyOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    std::string id = RunId(round);
    ASSERT_OK(store().CreateRun(MakeRun(id)));
    std::atomic<int> wins{0}, conflicts{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        RunTransition tr = To(id, State::kInitializing, 500 + t, "claimed by " + std::to_string(t));
        tr.expected_from = State::kQueued;
        Result<TransitionOutcome> r = store().TransitionRun(tr);
        if (r.ok() && r->changed) {
          wins++;
        } else if (r.status().code() == StatusCode::kConflict) {
          conflicts++;
        } else {
          other++;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
    ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({id, 100, std::nullopt}));
    EXPECT_EQ(h.events.size(), 2u);
  }
}

// ---------------------------------------------------------------------------------------
// Claims and leases

namespace {
std::vector<std::string> Ids(const std::vector<RunRecord>& runs) {
  std::vector<std::string> ids;
  for (const RunRecord& r : runs) ids.push_back(r.id);
  return ids;
}
}  // namespace

TEST_P(RunStoreConformanceTest, ClaimRunsTakesOldestFirstUpToLimit) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  ASSERT_OK_AND_ASSIGN(auto claimed, store().ClaimRuns({"A", 100, 200, 3}));
  EXPECT_EQ(Ids(claimed), (std::vector<std::string>{RunId(0), RunId(1), RunId(2)}));
  for (const RunRecord& r : claimed) {
    EXPECT_EQ(r.owner, "A");
    EXPECT_EQ(r.lease_until, 200);
    EXPECT_EQ(r.state, State::kQueued);
    EXPECT_EQ(r.request, SampleRequest());
  }
  ASSERT_OK_AND_ASSIGN(RunRecord r0, store().GetRun(RunId(0)));
  EXPECT_EQ(r0.owner, "A");
  EXPECT_EQ(r0.lease_until, 200);
  ASSERT_OK_AND_ASSIGN(RunRecord r4, store().GetRun(RunId(4)));
  EXPECT_EQ(r4.owner, "");
  ASSERT_OK_AND_ASSIGN(auto none, store().ClaimRuns({"A", 100, 200, 0}));
  EXPECT_TRUE(none.empty());
}

TEST_P(RunStoreConformanceTest, ClaimWithoutOwnedSkipsRunsTheOwnerHolds) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  ASSERT_OK(store().ClaimRuns({"A", 100, 200, 2}));
  ClaimRequest more{"A", 120, 300, 2};
  more.include_owned = false;
  ASSERT_OK_AND_ASSIGN(auto next, store().ClaimRuns(more));
  EXPECT_EQ(Ids(next), (std::vector<std::string>{RunId(2), RunId(3)}));
  ASSERT_OK_AND_ASSIGN(RunRecord r0, store().GetRun(RunId(0)));
  EXPECT_EQ(r0.lease_until, 200) << "a run already held is neither returned nor renewed";
  // An expired lease of another owner is still taken over.
  ClaimRequest b{"B", 250, 400, 10};
  b.include_owned = false;
  ASSERT_OK_AND_ASSIGN(auto taken, store().ClaimRuns(b));
  EXPECT_EQ(Ids(taken), (std::vector<std::string>{RunId(0), RunId(1), RunId(4)}));
}

TEST_P(RunStoreConformanceTest, LeasesBlockOtherOwnersUntilTheyExpire) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  ASSERT_OK(store().ClaimRuns({"A", 100, 200, 3}));

  // B gets only the unowned runs while A's leases hold.
  ASSERT_OK_AND_ASSIGN(auto b1, store().ClaimRuns({"B", 150, 300, 10}));
  EXPECT_EQ(Ids(b1), (std::vector<std::string>{RunId(3), RunId(4)}));
  // A re-claims its own runs (renewing them) and none of B's.
  ASSERT_OK_AND_ASSIGN(auto a2, store().ClaimRuns({"A", 150, 250, 10}));
  EXPECT_EQ(Ids(a2), (std::vector<std::string>{RunId(0), RunId(1), RunId(2)}));
  EXPECT_EQ(a2[0].lease_until, 250);

  ASSERT_OK(store().TransitionRun(To(RunId(1), State::kComplete, 160)));
  // A lease that ends exactly now still holds.
  ASSERT_OK_AND_ASSIGN(auto b2, store().ClaimRuns({"B", 250, 400, 10}));
  EXPECT_EQ(Ids(b2), (std::vector<std::string>{RunId(3), RunId(4)}));
  // Once A's lease has expired, B takes its non-terminal runs over, oldest first.
  ASSERT_OK_AND_ASSIGN(auto b3, store().ClaimRuns({"B", 251, 500, 10}));
  EXPECT_EQ(Ids(b3), (std::vector<std::string>{RunId(0), RunId(2), RunId(3), RunId(4)}));
  for (const RunRecord& r : b3) {
    EXPECT_EQ(r.owner, "B");
    EXPECT_EQ(r.lease_until, 500);
  }
  ASSERT_OK_AND_ASSIGN(RunRecord done, store().GetRun(RunId(1)));
  EXPECT_EQ(done.owner, "A");  // terminal runs are left alone
  ASSERT_OK_AND_ASSIGN(auto a3, store().ClaimRuns({"A", 260, 600, 10}));
  EXPECT_TRUE(a3.empty());
}

TEST_P(RunStoreConformanceTest, RenewLeasesExtendsOnlyTheOwnersActiveRuns) {
  for (int i = 0; i < 4; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  ASSERT_OK(store().ClaimRuns({"A", 100, 200, 2}));
  ASSERT_OK(store().ClaimRuns({"B", 100, 200, 1}));
  ASSERT_OK(store().TransitionRun(To(RunId(1), State::kCanceled, 150)));
  ASSERT_OK(store().RenewLeases("A", 900));
  ASSERT_OK(store().RenewLeases("nobody", 950));

  ASSERT_OK_AND_ASSIGN(RunRecord r0, store().GetRun(RunId(0)));
  EXPECT_EQ(r0.owner, "A");
  EXPECT_EQ(r0.lease_until, 900);
  ASSERT_OK_AND_ASSIGN(RunRecord r1, store().GetRun(RunId(1)));
  EXPECT_EQ(r1.lease_until, 200);
  ASSERT_OK_AND_ASSIGN(RunRecord r2, store().GetRun(RunId(2)));
  EXPECT_EQ(r2.owner, "B");
  EXPECT_EQ(r2.lease_until, 200);
  ASSERT_OK_AND_ASSIGN(RunRecord r3, store().GetRun(RunId(3)));
  EXPECT_EQ(r3.owner, "");
  EXPECT_EQ(r3.lease_until, 0);

  // The renewed lease keeps B out past the old expiry.
  ASSERT_OK_AND_ASSIGN(auto b, store().ClaimRuns({"B", 500, 1000, 10}));
  EXPECT_EQ(Ids(b), (std::vector<std::string>{RunId(2), RunId(3)}));
}

TEST_P(RunStoreConformanceTest, ConcurrentClaimsNeverShareARun) {
  constexpr int kRuns = 40;
  constexpr int kOwners = 4;
  for (int i = 0; i < kRuns; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  std::vector<std::set<std::string>> got(kOwners);
  std::vector<std::thread> threads;
  for (int o = 0; o < kOwners; ++o) {
    threads.emplace_back([&, o] {
      for (int round = 0; round < 4; ++round) {
        Result<std::vector<RunRecord>> r =
            store().ClaimRuns({"owner-" + std::to_string(o), 100, 1'000'000, 7});
        if (!r.ok()) return;
        for (const RunRecord& run : *r) got[o].insert(run.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  size_t total = 0;
  for (int o = 0; o < kOwners; ++o) {
    total += got[o].size();
    all.insert(got[o].begin(), got[o].end());
    for (const std::string& id : got[o]) {
      ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun(id));
      EXPECT_EQ(run.owner, "owner-" + std::to_string(o)) << id;
    }
  }
  EXPECT_EQ(all.size(), total) << "a run was claimed by two owners";
  EXPECT_GT(total, 0u);
}

}  // namespace sluice::store
