#include "service/run_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <system_error>

#include "common/ids.h"
#include "common/json.h"
#include "engine/driver.h"
#include "store/stats_rollup.h"

namespace sluice::service {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kTokenMask = 0x5a17c3e9d24b8f61ULL;

struct PageRequest {
  int size = 0;
  std::optional<int64_t> cursor;
};

// Checks page_size (0 means `default_size`) and decodes page_token, for every list.
Result<PageRequest> ParsePage(int64_t page_size, std::string_view page_token,
                              const Limits& limits, int default_size) {
  if (page_size < 0 || page_size > limits.max_page_size) {
    return InvalidArgument("page_size: must be from 1 to " + std::to_string(limits.max_page_size) +
                           ", got " + std::to_string(page_size));
  }
  PageRequest page;
  page.size = page_size == 0 ? default_size : static_cast<int>(page_size);
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(page.cursor, DecodePageToken(page_token, "page_token"));
  }
  return page;
}

// Checks an attachment's name: a relative path without "..", empty or absolute parts.
Status CheckAttachmentName(const std::string& name) {
  if (name.empty()) return InvalidArgument("workflow_attachment: a part has no filename");
  if (name.size() > 1024) return InvalidArgument("workflow_attachment: filename too long");
  if (name.front() == '/') {
    return InvalidArgument("workflow_attachment: \"" + name + "\" must be a relative path");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return InvalidArgument("workflow_attachment: \"" + name +
                             "\" must not contain empty, '.' or '..' path parts");
    }
    if (part.find('\0') != std::string::npos) {
      return InvalidArgument("workflow_attachment: filename contains a NUL byte");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// Writes `content` to `path` and fsyncs it.
Status WriteFileDurably(const fs::path& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create " + path.string() + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("cannot write " + path.string() + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot fsync " + path.string() + ": " + std::strerror(err));
  }
  ::close(fd);
  return Status::Ok();
}

void FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string EncodePageToken(int64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "v1%016" PRIx64, static_cast<uint64_t>(seq) ^ kTokenMask);
  return buf;
}

Result<int64_t> DecodePageToken(std::string_view token, std::string_view field) {
  auto bad = [&] {
    return InvalidArgument(std::string(field) + ": \"" + std::string(token.substr(0, 64)) +
                           "\" is not a page token issued by this server");
  };
  if (token.size() != 18 || token.substr(0, 2) != "v1") return bad();
  uint64_t v = 0;
  for (char c : token.substr(2)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return bad();
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  auto seq = static_cast<int64_t>(v ^ kTokenMask);
  if (seq < 0) return bad();
  return seq;
}

RunService::RunService(store::RunStore& store, const engine::DriverRegistry& drivers,
                       IdGenerator& ids, const Clock& clock, RunWaker& waker,
                       RunServiceOptions options)
    : store_(store),
      drivers_(drivers),
      ids_(ids),
      clock_(clock),
      waker_(waker),
      options_(std::move(options)) {}

std::string RunService::RunDir(const std::string& data_dir, std::string_view run_id) {
  return data_dir + "/runs/" + std::string(run_id);
}

std::string RunService::TaskDir(const std::string& data_dir, std::string_view run_id,
                                std::string_view task_id) {
  return RunDir(data_dir, run_id) + "/tasks/" + std::string(task_id);
}

Status RunService::StoreAttachments(const std::string& run_id, SubmitRequest& req) {
  if (req.attachments.empty()) return Status::Ok();
  fs::path base = fs::path(RunDir(options_.data_dir, run_id)) / "attachments";
  for (const auto& a : req.attachments) {
    fs::path path = base / a.filename;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return IoError("cannot create " + path.parent_path().string() + ": " + ec.message());
    RETURN_IF_ERROR(WriteFileDurably(path, a.content));
    FsyncDir(path.parent_path());
    req.request.attachments.push_back(a.filename);
  }
  FsyncDir(base.parent_path());
  return Status::Ok();
}

Status RunService::ValidateSubmit(SubmitRequest& req) const {
  store::RunRequest& r = req.request;
  if (r.workflow_type.empty()) return InvalidArgument("workflow_type: required");
  if (r.workflow_type_version.empty()) return InvalidArgument("workflow_type_version: required");
  if (r.workflow_url.empty()) return InvalidArgument("workflow_url: required");
  if (r.workflow_params.empty()) r.workflow_params = "{}";
  {
    ASSIGN_OR_RETURN(Json params, ParseJson(r.workflow_params, "workflow_params"));
    if (!params.is_object()) return InvalidArgument("workflow_params: must be a JSON object");
  }
  if (!r.workflow_engine_version.empty() && r.workflow_engine.empty()) {
    return InvalidArgument("workflow_engine: required when workflow_engine_version is given");
  }
  if (req.idempotency_key.size() > 255) {
    return InvalidArgument("Idempotency-Key: at most 255 characters");
  }
  if (static_cast<int>(req.attachments.size()) > options_.limits.max_attachments) {
    return PayloadTooLarge("workflow_attachment: at most " +
                           std::to_string(options_.limits.max_attachments) + " files");
  }
  int64_t total = 0;
  for (const auto& a : req.attachments) {
    RETURN_IF_ERROR(CheckAttachmentName(a.filename));
    total += static_cast<int64_t>(a.content.size());
  }
  if (total > options_.limits.max_attachment_bytes) {
    return PayloadTooLarge("workflow_attachment: " + std::to_string(total) +
                           " bytes in all, more than the limit of " +
                           std::to_string(options_.limits.max_attachment_bytes));
  }
  r.attachments.clear();
  std::vector<engine::SubmittedFile> files;
  files.reserve(req.attachments.size());
  for (const auto& a : req.attachments) files.push_back({a.filename, a.content});
  return drivers_.Validate(r, files);
}

store::NewRun RunService::NewRunFor(const SubmitRequest& req) {
  store::NewRun run;
  run.id = ids_.NewId();
  // Until authentication exists, the submitting principal is the `user` tag.
  auto user = req.request.tags.find("user");
  run.user = user != req.request.tags.end() && !user->second.empty() ? user->second : "anonymous";
  run.submitted_at = clock_.Now();
  run.idempotency_key = req.idempotency_key;
  return run;
}

Result<store::CreateRunResult> RunService::Submit(SubmitRequest req) {
  RETURN_IF_ERROR(ValidateSubmit(req));
  store::NewRun run = NewRunFor(req);
  Status st = StoreAttachments(run.id, req);
  if (!st.ok()) {
    std::error_code ec;
    fs::remove_all(RunDir(options_.data_dir, run.id), ec);
    return st;
  }
  run.request = std::move(req.request);
  auto created = store_.CreateRun(run);
  if (!created.ok() || !created->created) {
    if (!run.request.attachments.empty()) {
      std::error_code ec;
      fs::remove_all(RunDir(options_.data_dir, run.id), ec);
    }
    return created;
  }
  waker_.WakeQueued();
  return created;
}

void RunService::SubmitAsync(SubmitRequest req,
                             std::function<void(Result<store::CreateRunResult>)> done) {
  if (Status st = ValidateSubmit(req); !st.ok()) return done(std::move(st));
  if (!req.attachments.empty()) {
    // Attachments mean file writes and fsyncs, which would block the caller: a caller bug.
    return done(FailedPrecondition("workflow_attachment: use Submit for runs with attachments"));
  }
  store::NewRun run = NewRunFor(req);
  run.request = std::move(req.request);
  store_.CreateRunAsync(run, [this, done = std::move(done)](Result<store::CreateRunResult> r) {
    // Before `done`: once the client hears of the run, the scheduler has been told of it.
    if (r.ok() && r->created) waker_.WakeQueued();
    done(std::move(r));
  });
}

Result<store::RunRecord> RunService::GetRun(std::string_view run_id) {
  return store_.GetRun(run_id);
}

Result<store::RunStatusRow> RunService::GetStatus(std::string_view run_id) {
  return store_.GetRunStatus(run_id);
}

Result<RunListPage> RunService::ListRuns(int64_t page_size, std::string_view page_token) {
  ASSIGN_OR_RETURN(PageRequest req, ParsePage(page_size, page_token, options_.limits,
                                              options_.limits.default_page_size));
  store::RunListQuery q;
  q.page_size = req.size;
  q.summary = true;
  if (req.cursor) q.after = store::RunCursor{0, *req.cursor};
  ASSIGN_OR_RETURN(store::RunPage page, store_.ListRuns(q));
  RunListPage out;
  out.runs = std::move(page.runs);
  if (page.next) out.next_page_token = EncodePageToken(page.next->seq);
  return out;
}

Status RunService::Cancel(std::string_view run_id) {
  // A few tries: a QUEUED run may be claimed between our read and our write.
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSIGN_OR_RETURN(store::RunStatusRow row, store_.GetRunStatus(run_id));
    if (IsTerminal(row.state)) {
      return FailedPrecondition("run " + row.id + " already ended (" +
                                std::string(StateName(row.state)) + ")");
    }
    if (row.state == State::kCanceling) return Status::Ok();
    store::RunTransition t;
    t.run_id = row.id;
    t.expected_from = row.state;
    t.at = clock_.Now();
    t.reason = "canceled by request";
    if (row.state == State::kQueued) {
      t.to = State::kCanceled;
      t.end_time = t.at;
      t.system_log = "canceled before it started";
    } else {
      t.to = State::kCanceling;
      t.system_log = "cancel requested";
    }
    auto outcome = store_.TransitionRun(t);
    if (outcome.ok()) {
      waker_.WakeRun(row.id);
      return Status::Ok();
    }
    if (outcome.status().code() != StatusCode::kConflict) return outcome.status();
  }
  return Conflict("run " + std::string(run_id) + " kept changing state; try again");
}

Result<TaskListPage> RunService::ListTasks(std::string_view run_id, int64_t page_size,
                                           std::string_view page_token) {
  ASSIGN_OR_RETURN(PageRequest req, ParsePage(page_size, page_token, options_.limits,
                                              options_.limits.default_task_page_size));
  store::TaskListQuery q;
  q.run_id = std::string(run_id);
  q.page_size = req.size;
  q.after_seq = req.cursor;
  // The store answers kNotFound for an unknown run, so a missing run is a 404, not an
  // empty list (store conformance checks it).
  ASSIGN_OR_RETURN(store::TaskPage page, store_.ListTasks(q));
  TaskListPage out;
  out.tasks = std::move(page.tasks);
  if (page.next_after_seq) out.next_page_token = EncodePageToken(*page.next_after_seq);
  return out;
}

Result<RunEventListPage> RunService::ListHistory(std::string_view run_id, int64_t page_size,
                                                std::string_view page_token) {
  ASSIGN_OR_RETURN(PageRequest req, ParsePage(page_size, page_token, options_.limits,
                                              options_.limits.default_task_page_size));
  store::RunEventQuery q;
  q.run_id = std::string(run_id);
  q.page_size = req.size;
  q.after_seq = req.cursor;
  q.filter = store::RunEventFilter::kHistoryOnly;
  ASSIGN_OR_RETURN(store::RunEventPage page, store_.ListRunEvents(q));
  RunEventListPage out;
  out.events = std::move(page.events);
  if (page.next_after_seq) out.next_page_token = EncodePageToken(*page.next_after_seq);
  return out;
}

Result<AuditPage> RunService::ListAudit(std::string_view run_id, int64_t page_size,
                                        std::string_view page_token) {
  ASSIGN_OR_RETURN(PageRequest req, ParsePage(page_size, page_token, options_.limits,
                                              options_.limits.default_task_page_size));
  store::HistoryQuery q;
  q.run_id = std::string(run_id);
  q.page_size = req.size;
  q.after_seq = req.cursor;
  ASSIGN_OR_RETURN(store::HistoryPage page, store_.ListHistory(q));
  AuditPage out;
  out.changes = std::move(page.events);
  if (page.next_after_seq) out.next_page_token = EncodePageToken(*page.next_after_seq);
  return out;
}

Result<store::TaskRecord> RunService::GetTask(std::string_view run_id, std::string_view task_id) {
  return store_.GetTask(run_id, task_id);
}

Result<std::string> RunService::TaskLogPath(std::string_view run_id, std::string_view task_id,
                                            std::string_view stream) {
  if (stream != "stdout" && stream != "stderr") {
    return NotFound("log stream \"" + std::string(stream) + "\": must be stdout or stderr");
  }
  RETURN_IF_ERROR(store_.GetTask(run_id, task_id).status());
  std::string path = TaskDir(options_.data_dir, run_id, task_id) + "/" + std::string(stream);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFound("task " + std::string(task_id) + " of run " + std::string(run_id) +
                    " has no " + std::string(stream) + " yet");
  }
  return path;
}

Result<std::map<State, int64_t>> RunService::StateCounts() { return store_.CountRunsByState(); }

namespace {

// Page tokens of filtered listings: "v2" + hex of (sort, cursor key, cursor seq, filter
// hash), masked. The hash ties a token to the filter it was issued for.
constexpr uint64_t kListTokenMask = 0x3c6ef372fe94f82bULL;

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // A separator, so ("ab", "c") and ("a", "bc") differ.
  h ^= 0xff;
  h *= 0x100000001b3ULL;
  return h;
}

// A hash of the filter and sort, independent of the order states and tags were given in.
uint64_t FilterHash(const store::RunFilter& f, store::RunSort sort) {
  uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<int> states;
  for (State s : f.states) states.push_back(static_cast<int>(s));
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  for (int s : states) h = Fnv1a(h, std::to_string(s));
  h = Fnv1a(h, "|u=" + f.user);
  auto tags = f.tags;
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  for (const auto& [k, v] : tags) h = Fnv1a(Fnv1a(h, "|t=" + k), v);
  h = Fnv1a(h, "|w=" + f.workflow_type);
  h = Fnv1a(h, "|a=" + (f.submitted_after ? std::to_string(*f.submitted_after) : "-"));
  h = Fnv1a(h, "|b=" + (f.submitted_before ? std::to_string(*f.submitted_before) : "-"));
  h = Fnv1a(h, "|n=" + f.name_prefix);
  h = Fnv1a(h, "|s=" + std::to_string(static_cast<int>(sort)));
  return h;
}

void AppendHex(std::string& out, uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  out += buf;
}

std::string EncodeListToken(store::RunSort sort, const store::RunCursor& cursor, uint64_t hash) {
  std::string t = "v2";
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(sort) ^ 0x5au);
  t += buf;
  AppendHex(t, static_cast<uint64_t>(cursor.key) ^ kListTokenMask);
  AppendHex(t, static_cast<uint64_t>(cursor.seq) ^ (kListTokenMask >> 1));
  AppendHex(t, hash);
  return t;
}

std::optional<uint64_t> ParseHex(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

Result<store::RunCursor> DecodeListToken(std::string_view token, const store::RunFilter& filter,
                                         store::RunSort sort) {
  const uint64_t hash = FilterHash(filter, sort);
  auto bad = [&] {
    return InvalidArgument("page_token: \"" + std::string(token.substr(0, 64)) +
                           "\" is not a page token issued by this server");
  };
  if (token.starts_with("v1")) {
    // A token of the unfiltered WES listing: valid for that listing only.
    if (!filter.empty() || sort != store::RunSort::kSubmittedDesc) {
      return InvalidArgument("page_token: was issued for another filter or sort order");
    }
    ASSIGN_OR_RETURN(int64_t seq, DecodePageToken(token, "page_token"));
    return store::RunCursor{0, seq};
  }
  if (token.size() != 2 + 2 + 48 || !token.starts_with("v2")) return bad();
  auto sort_byte = ParseHex(token.substr(2, 2));
  auto key = ParseHex(token.substr(4, 16));
  auto seq = ParseHex(token.substr(20, 16));
  auto token_hash = ParseHex(token.substr(36, 16));
  if (!sort_byte || !key || !seq || !token_hash) return bad();
  if (*token_hash != hash || (*sort_byte ^ 0x5au) != static_cast<uint64_t>(sort)) {
    return InvalidArgument("page_token: was issued for another filter or sort order");
  }
  store::RunCursor cursor;
  cursor.key = static_cast<Micros>(*key ^ kListTokenMask);
  cursor.seq = static_cast<int64_t>(*seq ^ (kListTokenMask >> 1));
  if (cursor.seq < 0) return bad();
  return cursor;
}

Status ValidateFilter(const store::RunFilter& f) {
  if (f.submitted_after && f.submitted_before && *f.submitted_after >= *f.submitted_before) {
    return InvalidArgument("submitted_after: must be before submitted_before");
  }
  for (State s : f.states) {
    if (s == State::kUnknown) return InvalidArgument("state: UNKNOWN is not a run state");
  }
  for (const auto& [key, value] : f.tags) {
    if (key.empty()) return InvalidArgument("tag: the key must not be empty (key:value)");
  }
  return Status::Ok();
}

}  // namespace

Result<RunListPage> RunService::ListRuns(const RunListRequest& req) {
  const Limits& limits = options_.limits;
  if (req.page_size < 0 || req.page_size > limits.max_page_size) {
    return InvalidArgument("page_size: must be from 1 to " + std::to_string(limits.max_page_size) +
                           ", got " + std::to_string(req.page_size));
  }
  RETURN_IF_ERROR(ValidateFilter(req.filter));
  store::RunListQuery q;
  q.page_size = req.page_size == 0 ? limits.default_page_size : static_cast<int>(req.page_size);
  q.filter = req.filter;
  q.sort = req.sort;
  q.summary = true;
  if (!req.page_token.empty()) {
    ASSIGN_OR_RETURN(q.after, DecodeListToken(req.page_token, req.filter, req.sort));
  }
  RunListPage out;
  if (req.total) {
    ASSIGN_OR_RETURN(store::RunCount count, store_.CountRuns(req.filter));
    out.total = count;
  }
  ASSIGN_OR_RETURN(store::RunPage page, store_.ListRuns(q));
  out.runs = std::move(page.runs);
  if (out.total && !out.total->exact) {
    // The page itself is evidence: a first page without a next one holds every match, and
    // no estimate may be below the rows already seen here.
    const auto seen = static_cast<int64_t>(out.runs.size());
    if (req.page_token.empty() && !page.next) {
      *out.total = store::RunCount{seen, true};
    } else {
      out.total->count = std::max(out.total->count, seen + (page.next ? 1 : 0));
    }
  }
  if (page.next) {
    out.next_page_token = EncodeListToken(req.sort, *page.next, FilterHash(req.filter, req.sort));
  }
  return out;
}

Result<store::RunRecord> RunService::UpdateTags(std::string_view run_id,
                                                const store::StringMap& set,
                                                const std::vector<std::string>& remove) {
  for (const auto& [key, value] : set) {
    if (key.empty()) return InvalidArgument("tags: a tag key must not be empty");
  }
  for (const auto& key : remove) {
    if (key.empty()) return InvalidArgument("remove_tags: a tag key must not be empty");
    if (set.contains(key)) {
      return InvalidArgument("remove_tags: \"" + key + "\" is also set in tags");
    }
  }
  if (!IsValidId(run_id)) return NotFound("run " + std::string(run_id) + " not found");
  return store_.UpdateTags(run_id, set, remove, clock_.Now());
}

Status RunService::DeleteRun(std::string_view run_id) {
  // The id names a directory below: refuse anything that could not be one of our ids.
  if (!IsValidId(run_id)) return NotFound("run " + std::string(run_id) + " not found");
  RETURN_IF_ERROR(store_.DeleteRun(run_id));
  std::error_code ec;
  fs::remove_all(RunDir(options_.data_dir, run_id), ec);
  if (ec) {
    // The rows are gone; leftover files are only disk space. Say so, but the run is deleted.
    spdlog::warn("run {}: deleted, but its directory could not be removed: {}", run_id,
                 ec.message());
  }
  return Status::Ok();
}

Result<std::vector<StatsGroupReport>> RunService::Stats(const store::StatsQuery& query) {
  if (query.from >= query.to) return InvalidArgument("from: must be before to");
  if (query.group_by == store::StatsGroupBy::kTag && query.tag_key.empty()) {
    return InvalidArgument("group_by: tag:<key> needs a tag key");
  }
  if (query.group_by == store::StatsGroupBy::kTag && !store::IsRolledUpTag(query.tag_key)) {
    return InvalidArgument("group_by: tag:" + query.tag_key +
                           " is not kept in the roll-ups (it names single runs)");
  }
  ASSIGN_OR_RETURN(std::vector<store::StatsGroup> groups, store_.QueryStats(query));
  std::vector<StatsGroupReport> out;
  out.reserve(groups.size());
  for (auto& g : groups) {
    StatsGroupReport r;
    if (g.runs > 0) {
      auto it = g.runs_by_state.find(State::kComplete);
      int64_t complete = it == g.runs_by_state.end() ? 0 : it->second;
      r.success_rate = static_cast<double>(complete) / static_cast<double>(g.runs);
    }
    r.cpu_hours = g.cpu_seconds / 3600.0;
    r.gb_hours = g.memory_gb_seconds / 3600.0;
    r.estimated_cost =
        r.cpu_hours * options_.prices.per_cpu_hour + r.gb_hours * options_.prices.per_gb_hour;
    r.group = std::move(g);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sluice::service
