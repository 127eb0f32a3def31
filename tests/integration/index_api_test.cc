// The run index and live state on the real binary: filters, totals, fields and pages of
// GET /api/v1/runs (and the same filters on the WES listing), PATCH tags, DELETE, stats,
// and the Server-Sent Events streams with Last-Event-ID resume, and `sluice watch`/`list`
// on top of them.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "harness.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

size_t AppendTo(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

// PATCH (JSON body) or DELETE.
HttpResponse Send(const std::string& method, const std::string& url, const std::string& body = "") {
  CURL* curl = curl_easy_init();
  HttpResponse r;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.status = -1;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

struct Event {
  std::string id;
  std::string type;
  json data;
};

// Reads an SSE stream on its own thread until stopped or the server ends it.
class SseClient {
 public:
  explicit SseClient(std::string url, std::vector<std::string> headers = {})
      : url_(std::move(url)), headers_(std::move(headers)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SseClient() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Waits until `pred` holds for the events so far, the stream ends, or `timeout_s` passes.
  bool WaitFor(const std::function<bool(const std::vector<Event>&)>& pred, double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] {
      return pred(events_) || done_;
    }) && pred(events_);
  }
  bool WaitDone(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return done_; });
  }
  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  long status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::string content_type() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_type_;
  }
  std::string raw() {
    std::lock_guard<std::mutex> lock(mu_);
    return raw_;
  }

 private:
  static size_t OnData(char* p, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->raw_.append(p, size * n);
    size_t end;
    while ((end = self->raw_.find("\n\n", self->parsed_)) != std::string::npos) {
      std::string block = self->raw_.substr(self->parsed_, end - self->parsed_);
      self->parsed_ = end + 2;
      Event e;
      bool any = false;
      size_t pos = 0;
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        std::string line = block.substr(pos, nl == std::string::npos ? nl : nl - pos);
        pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
        if (line.rfind("event: ", 0) == 0) e.type = line.substr(7), any = true;
        if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6), nullptr, false);
      }
      if (any) self->events_.push_back(std::move(e));
    }
    self->cv_.notify_all();
    return size * n;
  }
  static int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<SseClient*>(user)->stop_ ? 1 : 0;
  }
  static size_t OnHeader(char* p, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    std::string line(p, size * n);
    std::lock_guard<std::mutex> lock(self->mu_);
    if (line.rfind("Content-Type: ", 0) == 0) {
      self->content_type_ = line.substr(14, line.find('\r') - 14);
    }
    return size * n;
  }

  void Run() {
    CURL* curl = curl_easy_init();
    curl_slist* h = nullptr;
    for (const auto& x : headers_) h = curl_slist_append(h, x.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }

  std::string url_;
  std::vector<std::string> headers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string raw_;
  size_t parsed_ = 0;
  std::vector<Event> events_;
  std::string content_type_;
  long status_ = 0;
  bool done_ = false;
};

std::vector<Event> OfRun(const std::vector<Event>& events, const std::string& run_id) {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (e.data.is_object() && e.data.value("run_id", "") == run_id) out.push_back(e);
  }
  return out;
}

bool RunReached(const std::vector<Event>& events, const std::string& run_id,
                const std::string& state) {
  for (const Event& e : OfRun(events, run_id)) {
    if (e.type == "RunStateChanged" && e.data["to"] == state) return true;
  }
  return false;
}

std::vector<std::string> Ids(const std::vector<Event>& events) {
  std::vector<std::string> ids;
  for (const Event& e : events) ids.push_back(e.id);
  return ids;
}

json GetJson(const std::string& url, long want_status = 200) {
  HttpResponse r = HttpGet(url);
  EXPECT_EQ(r.status, want_status) << url << ": " << r.body;
  return r.Json();
}

std::set<std::string> RunIds(const json& page) {
  std::set<std::string> ids;
  for (const json& r : page["runs"]) ids.insert(r["run_id"].get<std::string>());
  return ids;
}

// A server with `n` finished MOCK runs: run i has tags project=p<i%3>, user=u<i%2>,
// name=batch-<i>, and every fifth one fails.
struct Fleet {
  std::vector<std::string> ids;
  std::map<std::string, int> index;
};

Fleet SubmitFleet(const ServerProcess& server, int n) {
  Fleet f;
  for (int i = 0; i < n; ++i) {
    json params = {{"tasks", 1}, {"task_seconds", 0.01}};
    if (i % 5 == 4) params["failure_rate"] = 1;
    std::string id = SubmitMock(server, params,
                                {{"project", "p" + std::to_string(i % 3)},
                                 {"user", "u" + std::to_string(i % 2)},
                                 {"name", "batch-" + std::to_string(i)}});
    f.ids.push_back(id);
    f.index[id] = i;
  }
  for (const std::string& id : f.ids) EXPECT_NE(WaitForTerminal(server, id), "") << id;
  return f;
}

TEST(IndexApi, FiltersTotalsFieldsAndPages) {
  TempDir dir;
  ServerProcess server(dir.path());
  const int n = 30;
  Fleet fleet = SubmitFleet(server, n);
  const std::string runs = server.url() + "/api/v1/runs";

  json all = GetJson(runs + "?page_size=100&total=true");
  EXPECT_EQ(all["runs"].size(), static_cast<size_t>(n));
  EXPECT_EQ(all["total"], n);
  EXPECT_EQ(all["total_is_estimate"], false);
  // Newest first by default, with the index's row fields.
  for (size_t i = 0; i + 1 < all["runs"].size(); ++i) {
    EXPECT_GT(fleet.index[all["runs"][i]["run_id"]], fleet.index[all["runs"][i + 1]["run_id"]]);
  }
  const json& row = all["runs"][0];
  for (const char* field : {"run_id", "state", "user", "name", "workflow_type", "submitted_at",
                            "updated_at", "start_time", "end_time", "tags"}) {
    EXPECT_TRUE(row.contains(field)) << field << " in " << row.dump();
  }
  EXPECT_EQ(row["user"], "u" + std::to_string((n - 1) % 2));
  EXPECT_EQ(row["name"], "batch-" + std::to_string(n - 1));
  EXPECT_EQ(row["workflow_type"], "MOCK");

  // One filter at a time: exact totals.
  json p1 = GetJson(runs + "?tag=project:p1&total=true&page_size=100");
  EXPECT_EQ(p1["runs"].size(), 10u);
  EXPECT_EQ(p1["total"], 10);
  for (const json& r : p1["runs"]) EXPECT_EQ(r["tags"]["project"], "p1");
  json failed = GetJson(runs + "?state=EXECUTOR_ERROR&total=true&page_size=100");
  EXPECT_EQ(failed["runs"].size(), static_cast<size_t>(n / 5));
  EXPECT_EQ(failed["total"], n / 5);
  json ended = GetJson(runs + "?state=COMPLETE,EXECUTOR_ERROR&page_size=100");
  EXPECT_EQ(ended["runs"].size(), static_cast<size_t>(n));
  json u1 = GetJson(runs + "?user=u1&page_size=100&total=true");
  EXPECT_EQ(u1["runs"].size(), static_cast<size_t>(n / 2));
  for (const json& r : u1["runs"]) EXPECT_EQ(r["user"], "u1");

  // Several filters: the rows are exact, the total may be an estimate (and says so).
  json combo = GetJson(runs + "?user=u0&tag=project:p0&state=COMPLETE&total=true&page_size=100");
  std::set<std::string> want;
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0 && i % 3 == 0 && i % 5 != 4) want.insert(fleet.ids[i]);
  }
  EXPECT_EQ(RunIds(combo), want);
  EXPECT_TRUE(combo.contains("total") && combo.contains("total_is_estimate")) << combo.dump();

  json named = GetJson(runs + "?name=batch-1&page_size=100");  // batch-1, batch-10..19
  EXPECT_EQ(named["runs"].size(), 11u);
  json typed = GetJson(runs + "?workflow_type=MOCK&page_size=5");
  EXPECT_EQ(typed["runs"].size(), 5u);
  EXPECT_EQ(GetJson(runs + "?workflow_type=ASL")["runs"].size(), 0u);

  // Oldest first; fields trimmed.
  json asc = GetJson(runs + "?sort=submitted_at&order=asc&page_size=3&fields=run_id,state");
  ASSERT_EQ(asc["runs"].size(), 3u);
  EXPECT_EQ(asc["runs"][0]["run_id"], fleet.ids[0]);
  EXPECT_EQ(asc["runs"][0].size(), 2u) << asc["runs"][0].dump();
  json by_updated = GetJson(runs + "?sort=updated_at&page_size=100");
  EXPECT_EQ(by_updated["runs"].size(), static_cast<size_t>(n));
  for (size_t i = 0; i + 1 < by_updated["runs"].size(); ++i) {
    EXPECT_GE(by_updated["runs"][i]["updated_at"].get<std::string>(),
              by_updated["runs"][i + 1]["updated_at"].get<std::string>());
  }

  // Submitted time range.
  json none_before = GetJson(runs + "?submitted_before=2000-01-01T00:00:00Z");
  EXPECT_EQ(none_before["runs"].size(), 0u);
  json since = GetJson(runs + "?submitted_after=946684800&page_size=100");
  EXPECT_EQ(since["runs"].size(), static_cast<size_t>(n));

  // Pages of a filtered listing cover it exactly once.
  std::set<std::string> seen;
  std::string token;
  for (int page = 0; page < 20; ++page) {
    json j = GetJson(runs + "?tag=project:p2&page_size=3" +
                     (token.empty() ? "" : "&page_token=" + token));
    for (const json& r : j["runs"]) EXPECT_TRUE(seen.insert(r["run_id"]).second);
    token = j.value("next_page_token", "");
    if (token.empty()) break;
  }
  EXPECT_EQ(seen.size(), 10u);

  // Every bad parameter is a 400 that names it.
  for (std::string bad :
       {"state=DONE", "tag=novalue", "sort=name", "order=up", "total=maybe", "fields=secret",
        "submitted_after=soon", "page_size=x", "colour=red"}) {
    HttpResponse r = HttpGet(runs + "?" + bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    std::string name = bad.substr(0, bad.find('='));
    EXPECT_NE(r.Json().value("msg", "").find(name), std::string::npos) << r.body;
  }

  // WES: the same filters, the WES fields only (total only when asked).
  json wes = GetJson(server.wes() + "/runs?tag=project:p1&page_size=100");
  EXPECT_EQ(wes["runs"].size(), 10u);
  EXPECT_FALSE(wes.contains("total"));
  for (const json& r : wes["runs"]) {
    for (auto it = r.begin(); it != r.end(); ++it) {
      EXPECT_TRUE(it.key() == "run_id" || it.key() == "state" || it.key() == "start_time" ||
                  it.key() == "end_time" || it.key() == "tags")
          << it.key();
    }
  }
  EXPECT_EQ(GetJson(server.wes() + "/runs?state=EXECUTOR_ERROR&total=true")["total"], n / 5);
  EXPECT_EQ(HttpGet(server.wes() + "/runs?state=DONE").status, 400);
  EXPECT_EQ(GetJson(server.wes() + "/runs?page_size=100")["runs"].size(), static_cast<size_t>(n));
}

TEST(IndexApi, PatchTagsThenFilterAndDeleteEndedRuns) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string done = SubmitMock(server, {{"tasks", 1}, {"task_seconds", 0.01}}, {{"stage", "raw"}});
  std::string slow = SubmitMock(server, {{"tasks", 1}, {"task_seconds", 30}});
  ASSERT_EQ(WaitForTerminal(server, done), "COMPLETE");
  const std::string runs = server.url() + "/api/v1/runs";

  HttpResponse patched =
      Send("PATCH", runs + "/" + done, R"({"tags": {"stage": "clean", "owner": "ann"}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json()["tags"], json({{"stage", "clean"}, {"owner", "ann"}}));
  EXPECT_EQ(RunIds(GetJson(runs + "?tag=stage:clean")), std::set<std::string>{done});
  EXPECT_EQ(GetJson(runs + "?tag=stage:raw")["runs"].size(), 0u);
  EXPECT_EQ(GetJson(server.wes() + "/runs/" + done)["request"]["tags"]["owner"], "ann");

  patched = Send("PATCH", runs + "/" + done, R"({"tags": {"owner": null}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json()["tags"], json({{"stage", "clean"}}));
  EXPECT_EQ(GetJson(runs + "?tag=owner:ann")["runs"].size(), 0u);

  EXPECT_EQ(Send("PATCH", runs + "/" + done, R"({"state": "RUNNING"})").status, 400);
  EXPECT_EQ(Send("PATCH", runs + "/" + done, R"({"tags": {"a": 1}})").status, 400);
  EXPECT_EQ(Send("PATCH", runs + "/nosuchrun", R"({"tags": {"a": "1"}})").status, 404);

  // DELETE: only an ended run; then it is gone everywhere.
  EXPECT_EQ(Send("DELETE", runs + "/" + slow).status, 409);
  EXPECT_EQ(Send("DELETE", runs + "/nosuchrun").status, 404);
  HttpResponse deleted = Send("DELETE", runs + "/" + done);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(HttpGet(server.wes() + "/runs/" + done).status, 404);
  EXPECT_EQ(HttpGet(server.wes() + "/runs/" + done + "/status").status, 404);
  EXPECT_EQ(RunIds(GetJson(runs)), std::set<std::string>{slow});
  EXPECT_EQ(RunIds(GetJson(server.wes() + "/runs")), std::set<std::string>{slow});
  EXPECT_EQ(Send("DELETE", runs + "/" + done).status, 404);
  HttpPost(server.wes() + "/runs/" + slow + "/cancel", "", "application/json");
}

// The audit trail: every state change of a run and its tasks, with time and reason, oldest
// first, across pages; a tag change is part of it.
TEST(IndexApi, AuditTrailListsEveryChangeOfARunAndItsTasksInOrder) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string id = SubmitMock(server, {{"tasks", 2}, {"parallelism", 1}, {"task_seconds", 0.01}});
  ASSERT_EQ(WaitForTerminal(server, id), "COMPLETE");
  const std::string runs = server.url() + "/api/v1/runs/";
  ASSERT_EQ(Send("PATCH", runs + id, R"({"tags": {"stage": "done"}})").status, 200);

  std::vector<json> changes;
  std::string token;
  int pages = 0;
  do {
    json page =
        GetJson(runs + id + "/audit?page_size=3" + (token.empty() ? "" : "&page_token=" + token));
    for (const json& c : page["changes"]) changes.push_back(c);
    token = page["next_page_token"].get<std::string>();
    ASSERT_LT(++pages, 50);
  } while (!token.empty());
  ASSERT_GT(pages, 1);

  std::vector<std::string> run_states;
  std::map<std::string, std::vector<std::string>> task_states;
  int64_t last_id = 0;
  std::string last_time;
  for (const json& c : changes) {
    EXPECT_GT(c["id"].get<int64_t>(), last_id) << c.dump();
    last_id = c["id"].get<int64_t>();
    EXPECT_GE(c["timestamp"].get<std::string>(), last_time) << c.dump();
    last_time = c["timestamp"].get<std::string>();
    EXPECT_FALSE(c["reason"].get<std::string>().empty()) << c.dump();
    if (c["type"] == "RunStateChanged") run_states.push_back(c["to"]);
    if (c["type"] == "TaskStateChanged") task_states[c["task_id"]].push_back(c["to"]);
  }
  EXPECT_EQ(run_states,
            (std::vector<std::string>{"QUEUED", "INITIALIZING", "RUNNING", "COMPLETE"}));
  ASSERT_EQ(task_states.size(), 2u);
  for (const auto& [task, states] : task_states) {
    ASSERT_FALSE(states.empty()) << task;
    EXPECT_EQ(states.back(), "COMPLETE") << task;
    EXPECT_NE(std::find(states.begin(), states.end(), "RUNNING"), states.end()) << task;
  }
  EXPECT_EQ(changes.back()["type"], "TagsChanged");
  EXPECT_NE(changes.back()["reason"].get<std::string>().find("stage=done"), std::string::npos)
      << changes.back().dump();

  EXPECT_EQ(HttpGet(runs + "nosuchrun/audit").status, 404);
  EXPECT_EQ(HttpGet(runs + id + "/audit?page_size=-1").status, 400);
  EXPECT_EQ(HttpGet(runs + id + "/audit?page_token=%21%21").status, 400);
}

TEST(IndexApi, EventStreamsFollowAndResumeWithoutGaps) {
  TempDir dir;
  ServerProcess server(dir.path());
  const std::string events = server.url() + "/api/v1/events";

  SseClient all(events + "?tag=sse:yes");
  // Subscribed once the head is in (the retry hint comes with the head).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (all.raw().empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(all.content_type(), "text/event-stream");
  std::string other = SubmitMock(server, {{"tasks", 1}, {"task_seconds", 0.01}});
  std::string id = SubmitMock(server, {{"tasks", 3}, {"parallelism", 1}, {"task_seconds", 0.2}},
                              {{"sse", "yes"}});
  ASSERT_TRUE(all.WaitFor([&](const auto& ev) { return RunReached(ev, id, "COMPLETE"); }, 60))
      << all.raw();
  std::vector<Event> got = all.events();
  all.Stop();
  EXPECT_TRUE(OfRun(got, other).empty()) << "the tag filter lets only tagged runs through";

  // In order: increasing ids, run states only forward, every task created then ending.
  std::vector<Event> mine = OfRun(got, id);
  ASSERT_GE(mine.size(), 6u);
  std::vector<std::string> run_states;
  int64_t last_seq = 0;
  std::map<std::string, std::string> task_state;
  for (const Event& e : mine) {
    int64_t seq = std::stoll(e.id);
    EXPECT_GT(seq, last_seq);
    EXPECT_EQ(e.data["seq"], seq);
    last_seq = seq;
    EXPECT_EQ(e.type, e.data["type"]);
    EXPECT_EQ(e.data["tags"]["sse"], "yes");
    if (e.type == "RunStateChanged") run_states.push_back(e.data["to"]);
    if (!e.data["task_id"].get<std::string>().empty()) task_state[e.data["task_id"]] = e.data["to"];
  }
  ASSERT_FALSE(run_states.empty());
  EXPECT_EQ(run_states.back(), "COMPLETE");
  EXPECT_NE(std::find(run_states.begin(), run_states.end(), "RUNNING"), run_states.end());
  EXPECT_EQ(task_state.size(), 3u);
  for (const auto& [task, state] : task_state) EXPECT_EQ(state, "COMPLETE") << task;

  // Reconnect after the second event: exactly the missed ones, then `end` on the run stream.
  const std::string cut = mine[1].id;
  SseClient resumed(server.url() + "/api/v1/runs/" + id + "/events", {"Last-Event-ID: " + cut});
  ASSERT_TRUE(resumed.WaitDone(30)) << resumed.raw();
  EXPECT_EQ(resumed.status(), 200);
  std::vector<Event> after = resumed.events();
  ASSERT_FALSE(after.empty()) << resumed.raw();
  EXPECT_EQ(after.back().type, "end");
  EXPECT_EQ(after.back().data["run_state"], "COMPLETE");
  after.pop_back();
  std::vector<Event> want(mine.begin() + 2, mine.end());
  EXPECT_EQ(Ids(after), Ids(want));

  // The same through the global stream with ?last_event_id= and a run filter.
  SseClient again(events + "?run=" + id + "&last_event_id=" + cut);
  ASSERT_TRUE(again.WaitFor([&](const auto& ev) { return RunReached(ev, id, "COMPLETE"); }, 30));
  again.Stop();
  EXPECT_EQ(Ids(again.events()), Ids(want));

  // A run stream for an ended run without a resume point: its snapshot, then `end`.
  SseClient ended(server.url() + "/api/v1/runs/" + id + "/events");
  ASSERT_TRUE(ended.WaitDone(30));
  std::vector<Event> snap = ended.events();
  ASSERT_EQ(snap.size(), 2u) << ended.raw();
  EXPECT_EQ(snap[0].type, "snapshot");
  EXPECT_EQ(snap[0].data["run_state"], "COMPLETE");
  EXPECT_EQ(snap[0].data["tasks"].size(), 3u);
  EXPECT_EQ(snap[1].type, "end");

  EXPECT_EQ(HttpGet(server.url() + "/api/v1/runs/nosuchrun/events").status, 404);
  EXPECT_EQ(HttpGet(events + "?state=DONE").status, 400);
  EXPECT_EQ(HttpGet(events + "?last_event_id=abc").status, 400);
}

TEST(IndexApi, OpenStreamsDoNotHoldUpShutdown) {
  TempDir dir;
  ServerProcess server(dir.path());
  SseClient a(server.url() + "/api/v1/events");
  SseClient b(server.url() + "/api/v1/events?state=COMPLETE");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = Clock::now();
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(a.WaitDone(5));
  EXPECT_TRUE(b.WaitDone(5));
}

TEST(IndexApi, StatsAfterRunsFinish) {
  TempDir dir;
  ServerProcess server(dir.path());
  Fleet fleet = SubmitFleet(server, 12);
  json by_project = GetJson(server.url() + "/api/v1/stats?group_by=tag:project");
  EXPECT_EQ(by_project["group_by"], "tag:project");
  ASSERT_EQ(by_project["groups"].size(), 3u) << by_project.dump();
  int64_t runs = 0;
  for (const json& g : by_project["groups"]) {
    runs += g["runs"].get<int64_t>();
    EXPECT_EQ(g["runs"], 4) << g.dump();
    EXPECT_GE(g["tasks"], 1);
    for (const char* field :
         {"runs_by_state", "success_rate", "tasks_failed", "run_duration_seconds",
          "task_duration_seconds", "cpu_seconds", "cpu_hours", "gb_hours", "estimated_cost"}) {
      EXPECT_TRUE(g.contains(field)) << field;
    }
  }
  EXPECT_EQ(runs, 12);
  json by_day = GetJson(server.url() + "/api/v1/stats");
  EXPECT_EQ(by_day["group_by"], "day");
  ASSERT_GE(by_day["groups"].size(), 1u);
  int64_t complete = 0, failed = 0;
  for (const json& g : by_day["groups"]) {
    complete += g["runs_by_state"].value("COMPLETE", 0);
    failed += g["runs_by_state"].value("EXECUTOR_ERROR", 0);
  }
  EXPECT_EQ(complete, 10);
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(HttpGet(server.url() + "/api/v1/stats?group_by=month").status, 400);
  EXPECT_EQ(HttpGet(server.url() + "/api/v1/stats?from=10&to=5").status, 400);
}

struct CmdResult {
  int exit_code = -1;
  std::string out;
};

CmdResult Sluice(const ServerProcess& server, const std::string& args) {
  std::string cmd = SluiceBinary() + " " + args + " --server " + server.url() + " 2>&1";
  CmdResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(IndexApi, CliWatchFollowsTheStreamAndListFilters) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string ok = SubmitMock(server, {{"tasks", 2}, {"parallelism", 1}, {"task_seconds", 0.3}},
                              {{"project", "cli"}});
  CmdResult watch = Sluice(server, "watch " + ok);
  EXPECT_EQ(watch.exit_code, 0) << watch.out;
  EXPECT_NE(watch.out.find("run COMPLETE"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("COMPLETE"), watch.out.rfind("run RUNNING")) << watch.out;
  std::string bad = SubmitMock(server, {{"tasks", 1}, {"task_seconds", 0.05}, {"failure_rate", 1}});
  CmdResult failed = Sluice(server, "watch " + bad);
  EXPECT_EQ(failed.exit_code, 1) << failed.out;
  EXPECT_NE(failed.out.find("run EXECUTOR_ERROR"), std::string::npos) << failed.out;
  EXPECT_EQ(Sluice(server, "watch nosuchrun").exit_code, 3);

  CmdResult list = Sluice(server, "list --json --tag project:cli --total");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  json j = json::parse(list.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << list.out;
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["run_id"], ok);
  EXPECT_EQ(j["total"], 1);
  CmdResult by_state = Sluice(server, "list --state EXECUTOR_ERROR --sort submitted_at:asc");
  EXPECT_EQ(by_state.exit_code, 0) << by_state.out;
  EXPECT_NE(by_state.out.find(bad), std::string::npos) << by_state.out;
  EXPECT_EQ(by_state.out.find(ok), std::string::npos) << by_state.out;
  EXPECT_EQ(Sluice(server, "list --state DONE").exit_code, 2);
}

}  // namespace
}  // namespace sluice::testing
