// The RunStore conformance cases about the run index: ListRuns filters, sorts and keyset
// cursors, CountRuns, UpdateTags, and the user/name of a run (the rest are in
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

int RunStoreIndexConformanceAnchor() { return 0; }

namespace {

const char* const kUsers[] = {"ana", "bo", "cy"};
const char* const kTypes[] = {"MOCK", "ASL"};

// Run i of the index data set: users, types, tags, names and states vary with i so that
// every filter selects a different, non-trivial subset.
NewRun IndexedRun(int i) {
  NewRun n;
  n.id = RunId(i);
  n.request = SampleRequest(std::to_string(i));
  n.request.workflow_type = kTypes[i % 2];
  n.request.tags = {{"project", "p" + std::to_string(i % 3)}, {"stage", i % 4 == 0 ? "qc" : "align"}};
  if (i % 5 != 0) n.request.tags["name"] = (i % 2 == 0 ? "exp-" : "trial-") + std::to_string(i);
  n.user = kUsers[(i / 2) % 3];
  n.submitted_at = 1'000'000 + i * 1000;
  return n;
}

State IndexedState(int i) {
  switch (i % 4) {
    case 0:
      return State::kQueued;
    case 1:
      return State::kRunning;
    case 2:
      return State::kComplete;
    default:
      return State::kExecutorError;
  }
}

bool Matches(const RunRecord& r, const RunFilter& f) {
  if (!f.states.empty() && std::find(f.states.begin(), f.states.end(), r.state) == f.states.end()) {
    return false;
  }
  if (!f.user.empty() && r.user != f.user) return false;
  if (!f.workflow_type.empty() && r.request.workflow_type != f.workflow_type) return false;
  for (const auto& [k, v] : f.tags) {
    auto it = r.request.tags.find(k);
    if (it == r.request.tags.end() || it->second != v) return false;
  }
  if (f.submitted_after && r.submitted_at < *f.submitted_after) return false;
  if (f.submitted_before && r.submitted_at >= *f.submitted_before) return false;
  if (!f.name_prefix.empty() && r.name.rfind(f.name_prefix, 0) != 0) return false;
  return true;
}

bool Before(const RunRecord& a, const RunRecord& b, RunSort sort) {
  switch (sort) {
    case RunSort::kSubmittedDesc:
      return a.seq > b.seq;
    case RunSort::kSubmittedAsc:
      return a.seq < b.seq;
    case RunSort::kUpdatedDesc:
      return a.updated_at != b.updated_at ? a.updated_at > b.updated_at : a.seq > b.seq;
    case RunSort::kUpdatedAsc:
      return a.updated_at != b.updated_at ? a.updated_at < b.updated_at : a.seq < b.seq;
  }
  return false;
}

const RunSort kSorts[] = {RunSort::kSubmittedDesc, RunSort::kSubmittedAsc, RunSort::kUpdatedDesc,
                          RunSort::kUpdatedAsc};

std::vector<RunFilter> InterestingFilters() {
  std::vector<RunFilter> out;
  auto add = [&](auto fill) {
    RunFilter f;
    fill(f);
    out.push_back(f);
  };
  add([](RunFilter&) {});
  add([](RunFilter& f) { f.states = {State::kRunning}; });
  add([](RunFilter& f) { f.states = {State::kQueued, State::kComplete, State::kExecutorError}; });
  add([](RunFilter& f) { f.user = "bo"; });
  add([](RunFilter& f) { f.user = "nobody"; });
  add([](RunFilter& f) { f.tags = {{"project", "p1"}}; });
  add([](RunFilter& f) { f.tags = {{"project", "p1"}, {"stage", "align"}}; });
  add([](RunFilter& f) { f.tags = {{"project", "p9"}}; });
  add([](RunFilter& f) { f.workflow_type = "ASL"; });
  add([](RunFilter& f) {
    f.submitted_after = 1'010'000;
    f.submitted_before = 1'040'500;
  });
  add([](RunFilter& f) { f.submitted_before = 1'020'000; });
  add([](RunFilter& f) { f.name_prefix = "exp-"; });
  add([](RunFilter& f) { f.name_prefix = "trial-1"; });
  add([](RunFilter& f) {
    f.user = "ana";
    f.states = {State::kRunning, State::kComplete};
  });
  add([](RunFilter& f) {
    f.user = "cy";
    f.states = {State::kQueued, State::kExecutorError};
    f.tags = {{"stage", "qc"}};
  });
  add([](RunFilter& f) {
    f.workflow_type = "MOCK";
    f.tags = {{"project", "p2"}};
    f.states = {State::kQueued};
  });
  add([](RunFilter& f) {
    f.user = "bo";
    f.name_prefix = "trial";
    f.submitted_after = 1'005'000;
  });
  add([](RunFilter& f) {
    f.states = {State::kComplete};
    f.workflow_type = "ASL";
    f.user = "ana";
    f.tags = {{"project", "p0"}, {"stage", "align"}};
    f.submitted_after = 1'000'000;
    f.submitted_before = 1'100'000;
    f.name_prefix = "e";
  });
  return out;
}

std::string Describe(const RunFilter& f, RunSort sort) {
  std::string s = "sort " + std::to_string(static_cast<int>(sort)) + " states";
  for (State st : f.states) s += " " + std::string(StateName(st));
  s += " user=" + f.user + " type=" + f.workflow_type + " name=" + f.name_prefix;
  for (const auto& [k, v] : f.tags) s += " tag " + k + "=" + v;
  if (f.submitted_after) s += " after " + std::to_string(*f.submitted_after);
  if (f.submitted_before) s += " before " + std::to_string(*f.submitted_before);
  return s;
}

// Every page of `query`, following the cursors; the ids in order.
Result<std::vector<std::string>> ListAll(RunStore& store, RunListQuery query) {
  std::vector<std::string> ids;
  for (int pages = 0; pages < 1000; ++pages) {
    ASSIGN_OR_RETURN(RunPage page, store.ListRuns(query));
    for (const RunRecord& r : page.runs) ids.push_back(r.id);
    if (!page.next) return ids;
    if (page.runs.empty()) return Internal("an empty page with a next cursor");
    query.after = page.next;
  }
  return Internal("too many pages");
}

}  // namespace

class RunIndexData {
 public:
  static constexpr int kRuns = 48;
  // Creates the data set; runs move to their states with increasing, interleaved times so
  // that updated_at order differs from submission order.
  static void Load(RunStore& store) {
    for (int i = 0; i < kRuns; ++i) ASSERT_OK(store.CreateRun(IndexedRun(i)));
    for (int i = kRuns - 1; i >= 0; --i) {
      State s = IndexedState(i);
      Micros at = 5'000'000 + (i * 7 % kRuns) * 1000;
      if (s == State::kQueued) continue;
      ASSERT_OK(store.TransitionRun(To(RunId(i), State::kInitializing, at)));
      ASSERT_OK(store.TransitionRun(To(RunId(i), State::kRunning, at + 1)));
      if (s != State::kRunning) {
        ASSERT_OK(store.TransitionRun(To(RunId(i), s, at + 2)));
      }
    }
  }
};

TEST_P(RunStoreConformanceTest, CreateRunRecordsUserAndName) {
  NewRun a = MakeRun("a");
  a.user = "ana";
  a.request.tags["name"] = "my run";
  ASSERT_OK(store().CreateRun(a));
  NewRun b = MakeRun("b");
  b.request.tags.erase("name");
  ASSERT_OK(store().CreateRun(b));
  ASSERT_OK_AND_ASSIGN(RunRecord ra, store().GetRun("a"));
  EXPECT_EQ(ra.user, "ana");
  EXPECT_EQ(ra.name, "my run");
  ASSERT_OK_AND_ASSIGN(RunRecord rb, store().GetRun("b"));
  EXPECT_EQ(rb.user, "anonymous");
  EXPECT_EQ(rb.name, "");
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns(RunsPage(10)));
  ASSERT_EQ(page.runs.size(), 2u);
  EXPECT_EQ(page.runs[1].user, "ana");
  EXPECT_EQ(page.runs[1].name, "my run");
}

TEST_P(RunStoreConformanceTest, EveryFilterAndSortPagesThroughExactlyTheMatchesInOrder) {
  RunIndexData::Load(store());
  std::vector<RunRecord> all;
  for (int i = 0; i < RunIndexData::kRuns; ++i) {
    ASSERT_OK_AND_ASSIGN(RunRecord r, store().GetRun(RunId(i)));
    all.push_back(r);
  }
  for (const RunFilter& f : InterestingFilters()) {
    for (RunSort sort : kSorts) {
      std::vector<RunRecord> want;
      for (const RunRecord& r : all) {
        if (Matches(r, f)) want.push_back(r);
      }
      std::sort(want.begin(), want.end(),
                [sort](const RunRecord& a, const RunRecord& b) { return Before(a, b, sort); });
      std::vector<std::string> want_ids;
      for (const RunRecord& r : want) want_ids.push_back(r.id);
      for (int page_size : {1, 4, 100}) {
        RunListQuery q;
        q.page_size = page_size;
        q.filter = f;
        q.sort = sort;
        ASSERT_OK_AND_ASSIGN(std::vector<std::string> got, ListAll(store(), q));
        EXPECT_EQ(got, want_ids) << Describe(f, sort) << " page_size " << page_size;
      }
    }
  }
}

TEST_P(RunStoreConformanceTest, SummaryListingsCarryTheListingFieldsOfEachRun) {
  RunIndexData::Load(store());
  for (RunSort sort : kSorts) {
    RunListQuery q;
    q.page_size = 7;
    q.sort = sort;
    q.filter.states = {State::kRunning, State::kComplete};
    for (int pages = 0; pages < 100; ++pages) {
      RunListQuery summary_q = q;
      summary_q.summary = true;
      ASSERT_OK_AND_ASSIGN(RunPage full, store().ListRuns(q));
      ASSERT_OK_AND_ASSIGN(RunPage summary, store().ListRuns(summary_q));
      ASSERT_EQ(summary.runs.size(), full.runs.size());
      EXPECT_EQ(summary.next, full.next);
      for (size_t i = 0; i < full.runs.size(); ++i) {
        const RunRecord& f = full.runs[i];
        const RunRecord& s = summary.runs[i];
        EXPECT_EQ(s.id, f.id);
        EXPECT_EQ(s.seq, f.seq);
        EXPECT_EQ(s.state, f.state);
        EXPECT_EQ(s.user, f.user);
        EXPECT_EQ(s.name, f.name);
        EXPECT_EQ(s.request.workflow_type, f.request.workflow_type);
        EXPECT_EQ(s.request.tags, f.request.tags);
        EXPECT_EQ(s.submitted_at, f.submitted_at);
        EXPECT_EQ(s.updated_at, f.updated_at);
        EXPECT_EQ(s.start_time, f.start_time);
        EXPECT_EQ(s.end_time, f.end_time);
      }
      if (!full.next) break;
      q.after = full.next;
    }
  }
}

TEST_P(RunStoreConformanceTest, CursorOfTheUpdatedSortCarriesTheUpdateTime) {
  RunIndexData::Load(store());
  RunListQuery q;
  q.page_size = 3;
  q.sort = RunSort::kUpdatedDesc;
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns(q));
  ASSERT_TRUE(page.next.has_value());
  EXPECT_EQ(page.next->key, page.runs.back().updated_at);
  EXPECT_EQ(page.next->seq, page.runs.back().seq);
  q.sort = RunSort::kSubmittedDesc;
  ASSERT_OK_AND_ASSIGN(page, store().ListRuns(q));
  ASSERT_TRUE(page.next.has_value());
  EXPECT_EQ(page.next->key, 0);
  EXPECT_EQ(page.next->seq, page.runs.back().seq);
}

TEST_P(RunStoreConformanceTest, FilteredPagingWhileInsertingSeesEachMatchOnceInOrder) {
  constexpr int kOriginal = 120;
  for (int i = 0; i < kOriginal; ++i) ASSERT_OK(store().CreateRun(IndexedRun(i)));
  std::atomic<bool> stop{false};
  std::string insert_error;
  std::thread inserter([&] {
    for (int i = 0; !stop.load(); ++i) {
      NewRun n = IndexedRun(kOriginal + i);
      n.id = RunId(50000 + i);
      Result<CreateRunResult> r = store().CreateRun(n);
      if (!r.ok()) {
        insert_error = r.status().ToString();
        break;
      }
    }
  });
  RunFilter f;
  f.user = "bo";
  f.tags = {{"project", "p1"}};
  std::vector<std::string> want;  // originals matching, newest first
  for (int i = kOriginal - 1; i >= 0; --i) {
    NewRun n = IndexedRun(i);
    if (n.user == "bo" && n.request.tags["project"] == "p1") want.push_back(n.id);
  }
  for (RunSort sort : kSorts) {
    RunListQuery q;
    q.page_size = 3;
    q.filter = f;
    q.sort = sort;
    Result<std::vector<std::string>> got = ListAll(store(), q);
    ASSERT_OK(got);
    std::set<std::string> seen;
    for (const std::string& id : *got) EXPECT_TRUE(seen.insert(id).second) << "twice: " << id;
    std::vector<std::string> originals;
    for (const std::string& id : *got) {
      if (id < RunId(50000)) originals.push_back(id);
    }
    std::vector<std::string> expected = want;
    if (sort == RunSort::kSubmittedAsc || sort == RunSort::kUpdatedAsc) {
      std::reverse(expected.begin(), expected.end());
    }
    EXPECT_EQ(originals, expected) << "sort " << static_cast<int>(sort);
    if (sort == RunSort::kSubmittedDesc) {
      // Newer runs sort before the first page's cursor: never seen after it.
      EXPECT_LE(got->size(), want.size() + 3);
    }
  }
  stop = true;
  inserter.join();
  EXPECT_EQ(insert_error, "");
}

TEST_P(RunStoreConformanceTest, CountRunsIsExactForOneDimensionWithStates) {
  RunIndexData::Load(store());
  std::vector<RunRecord> all;
  for (int i = 0; i < RunIndexData::kRuns; ++i) {
    ASSERT_OK_AND_ASSIGN(RunRecord r, store().GetRun(RunId(i)));
    all.push_back(r);
  }
  auto truth = [&](const RunFilter& f) {
    int64_t n = 0;
    for (const RunRecord& r : all) n += Matches(r, f) ? 1 : 0;
    return n;
  };
  for (const RunFilter& f : InterestingFilters()) {
    ASSERT_OK_AND_ASSIGN(RunCount c, store().CountRuns(f));
    size_t dims = (f.user.empty() ? 0 : 1) + (f.workflow_type.empty() ? 0 : 1) + f.tags.size();
    bool exact = dims <= 1 && !f.submitted_after && !f.submitted_before && f.name_prefix.empty();
    EXPECT_EQ(c.exact, exact) << Describe(f, RunSort::kSubmittedDesc);
    if (exact) {
      EXPECT_EQ(c.count, truth(f)) << Describe(f, RunSort::kSubmittedDesc);
    } else {
      EXPECT_GE(c.count, 0);
      EXPECT_LE(c.count, RunIndexData::kRuns);
    }
  }
  // Counts follow state changes.
  RunFilter running_ana;
  running_ana.user = "ana";
  running_ana.states = {State::kRunning};
  ASSERT_OK_AND_ASSIGN(RunCount before, store().CountRuns(running_ana));
  std::string id;
  for (const RunRecord& r : all) {
    if (r.user == "ana" && r.state == State::kRunning) id = r.id;
  }
  ASSERT_FALSE(id.empty());
  ASSERT_OK(store().TransitionRun(To(id, State::kComplete, 9'000'000)));
  ASSERT_OK_AND_ASSIGN(RunCount after, store().CountRuns(running_ana));
  EXPECT_EQ(after.count, before.count - 1);
  RunFilter tag;
  tag.tags = {{"project", "p0"}};
  tag.states = {State::kComplete};
  ASSERT_OK_AND_ASSIGN(RunCount tag_count, store().CountRuns(tag));
  all.clear();
  for (int i = 0; i < RunIndexData::kRuns; ++i) {
    ASSERT_OK_AND_ASSIGN(RunRecord r, store().GetRun(RunId(i)));
    all.push_back(r);
  }
  EXPECT_EQ(tag_count.count, truth(tag));
  EXPECT_TRUE(tag_count.exact);
}

TEST_P(RunStoreConformanceTest, UpdateTagsChangesTagsNameAndCountsButNotTheUser) {
  NewRun n = MakeRun("r1");
  n.user = "ana";
  n.request.tags = {{"project", "a"}, {"stage", "qc"}, {"name", "first"}};
  ASSERT_OK(store().CreateRun(n));
  ASSERT_OK_AND_ASSIGN(RunRecord r, store().UpdateTags("r1", {{"project", "b"}, {"name", "second"},
                                                              {"user", "bo"}},
                                                       {"stage", "absent"}, 5000));
  EXPECT_EQ(r.request.tags,
            (StringMap{{"project", "b"}, {"name", "second"}, {"user", "bo"}}));
  EXPECT_EQ(r.name, "second");
  EXPECT_EQ(r.user, "ana");
  ASSERT_OK_AND_ASSIGN(RunRecord got, store().GetRun("r1"));
  EXPECT_EQ(got.request.tags, r.request.tags);
  EXPECT_EQ(got.name, "second");

  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[1].type, "TagsChanged");
  EXPECT_EQ(h.events[1].from, State::kQueued);
  EXPECT_EQ(h.events[1].to, State::kQueued);
  EXPECT_EQ(h.events[1].at, 5000);
  EXPECT_NE(h.events[1].reason.find("project=b"), std::string::npos) << h.events[1].reason;
  EXPECT_NE(h.events[1].reason.find("removed stage"), std::string::npos) << h.events[1].reason;
  EXPECT_GT(h.events[1].seq, h.events[0].seq);

  RunFilter old_tag;
  old_tag.tags = {{"project", "a"}};
  RunFilter new_tag;
  new_tag.tags = {{"project", "b"}};
  RunFilter removed;
  removed.tags = {{"stage", "qc"}};
  RunFilter by_user;
  by_user.user = "bo";
  ASSERT_OK_AND_ASSIGN(RunCount c, store().CountRuns(old_tag));
  EXPECT_EQ(c.count, 0);
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(new_tag));
  EXPECT_EQ(c.count, 1);
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(removed));
  EXPECT_EQ(c.count, 0);
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(by_user));
  EXPECT_EQ(c.count, 0);  // the user is fixed at submission
  ASSERT_OK_AND_ASSIGN(RunPage p, store().ListRuns(RunListQuery{10, old_tag, {}, {}}));
  EXPECT_TRUE(p.runs.empty());
  ASSERT_OK_AND_ASSIGN(p, store().ListRuns(RunListQuery{10, new_tag, {}, {}}));
  ASSERT_EQ(p.runs.size(), 1u);
  RunFilter name;
  name.name_prefix = "sec";
  ASSERT_OK_AND_ASSIGN(p, store().ListRuns(RunListQuery{10, name, {}, {}}));
  ASSERT_EQ(p.runs.size(), 1u);

  // Tag counts follow the run's state after the change, too.
  ASSERT_OK(store().TransitionRun(To("r1", State::kCanceled, 6000)));
  new_tag.states = {State::kCanceled};
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(new_tag));
  EXPECT_EQ(c.count, 1);
  new_tag.states = {State::kQueued};
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(new_tag));
  EXPECT_EQ(c.count, 0);

  // Removing the name clears it; a change to nothing writes no event.
  ASSERT_OK_AND_ASSIGN(r, store().UpdateTags("r1", {}, {"name"}, 7000));
  EXPECT_EQ(r.name, "");
  ASSERT_OK_AND_ASSIGN(r, store().UpdateTags("r1", {{"project", "b"}}, {"nothing"}, 8000));
  ASSERT_OK_AND_ASSIGN(h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 4u);  // submitted, tags, canceled, tags
  EXPECT_CODE(store().UpdateTags("nope", {{"a", "b"}}, {}, 1), kNotFound);
}

TEST_P(RunStoreConformanceTest, DeletedRunLeavesTheIndexAndItsCounts) {
  NewRun n = MakeRun("gone");
  n.user = "ana";
  n.request.tags = {{"project", "x"}, {"name", "doomed"}};
  ASSERT_OK(store().CreateRun(n));
  NewRun kept = MakeRun("kept");
  kept.user = "ana";
  kept.request.tags = {{"project", "x"}};
  ASSERT_OK(store().CreateRun(kept));
  ASSERT_OK(store().TransitionRun(To("gone", State::kCanceled, 2000)));
  ASSERT_OK(store().DeleteRun("gone"));
  RunFilter tag;
  tag.tags = {{"project", "x"}};
  RunFilter user;
  user.user = "ana";
  user.states = {State::kCanceled};
  ASSERT_OK_AND_ASSIGN(RunCount c, store().CountRuns(tag));
  EXPECT_EQ(c.count, 1);
  ASSERT_OK_AND_ASSIGN(c, store().CountRuns(user));
  EXPECT_EQ(c.count, 0);
  ASSERT_OK_AND_ASSIGN(RunPage p, store().ListRuns(RunListQuery{10, tag, {}, {}}));
  ASSERT_EQ(p.runs.size(), 1u);
  EXPECT_EQ(p.runs[0].id, "kept");
  RunFilter name;
  name.name_prefix = "doom";
  ASSERT_OK_AND_ASSIGN(p, store().ListRuns(RunListQuery{10, name, {}, {}}));
  EXPECT_TRUE(p.runs.empty());
}

}  // namespace sluice::store
