#include "service/run_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "common/json.h"
#include "engine/driver.h"

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
  q.before_seq = req.cursor;
  ASSIGN_OR_RETURN(store::RunPage page, store_.ListRuns(q));
  RunListPage out;
  out.runs = std::move(page.runs);
  if (page.next_before_seq) out.next_page_token = EncodePageToken(*page.next_before_seq);
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

}  // namespace sluice::service
