#include "cli/asl_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "exec/local/posix_util.h"

namespace sluice::cli {
namespace {

using exec::local::UniqueFd;

constexpr size_t kReadChunk = 64 * size_t{1024};
constexpr size_t kStderrKeep = 64 * size_t{1024};
constexpr size_t kMaxPendingLine = 64 * size_t{1024};
constexpr size_t kMaxDrain = 16 * size_t{1024} * 1024;

// A pipe whose parent end is non-blocking; both ends close on exec (dup2 clears that flag on
// the child's copy).
Status MakePipe(UniqueFd* read_end, UniqueFd* write_end, bool parent_reads) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return exec::local::ErrnoStatus(errno, "pipe");
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  int parent = parent_reads ? fds[0] : fds[1];
  int flags = ::fcntl(parent, F_GETFL);
  if (flags < 0 || ::fcntl(parent, F_SETFL, flags | O_NONBLOCK) != 0) {
    return exec::local::ErrnoStatus(errno, "fcntl");
  }
  return Status::Ok();
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // our stderr is gone: nothing better to do with the echo
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

struct ProcessSet::Stream {
  UniqueFd fd;
  bool keep = false;  // append to `text`
  bool echo = false;
  bool tail = false;  // keep only the end of `text`
  std::string text;
  std::string pending_line;  // echo: the part after the last newline
};

struct ProcessSet::Child {
  uint64_t id = 0;
  pid_t pid = -1;
  bool exited = false;
  int exit_code = 0;
  int term_signal = 0;
  UniqueFd stdin_fd;
  std::string stdin_data;
  size_t stdin_written = 0;
  Stream out;
  Stream err;
  std::string echo_prefix;
};

ProcessSet::ProcessSet() = default;

ProcessSet::~ProcessSet() {
  for (auto& [id, child] : children_) {
    if (!child->exited) ::kill(-child->pid, SIGKILL);
  }
  for (auto& [id, child] : children_) {
    if (child->exited) continue;
    while (::waitpid(child->pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

Result<uint64_t> ProcessSet::Start(const ProcessSpec& spec) {
  auto child = std::make_unique<Child>();
  UniqueFd stdin_child, stdout_child, stderr_child;
  if (!spec.stdin_from_null) {
    RETURN_IF_ERROR(MakePipe(&stdin_child, &child->stdin_fd, /*parent_reads=*/false));
    child->stdin_data = spec.stdin_data;
  }
  RETURN_IF_ERROR(MakePipe(&child->out.fd, &stdout_child, /*parent_reads=*/true));
  RETURN_IF_ERROR(MakePipe(&child->err.fd, &stderr_child, /*parent_reads=*/true));
  child->out.keep = spec.keep_stdout;
  child->out.echo = !spec.keep_stdout && spec.echo;
  child->err.keep = true;
  child->err.tail = true;
  child->err.echo = spec.echo;
  child->echo_prefix = spec.echo_prefix;

  exec::local::SpawnRequest request;
  request.argv = spec.argv;
  request.env = spec.env;
  request.search_path = spec.search_path;
  request.new_session = true;
  request.stdin_fd = spec.stdin_from_null ? -1 : stdin_child.get();
  request.stdout_fd = stdout_child.get();
  request.stderr_fd = stderr_child.get();
  pid_t pid = -1;
  int err = exec::local::Spawn(request, &pid);
  if (err != 0) {
    std::string what = spec.argv.empty() ? std::string("(no command)") : spec.argv[0];
    return Status(StatusCode::kInvalidArgument, what + ": " + std::strerror(err));
  }
  child->pid = pid;
  child->id = next_id_++;
  if (child->stdin_fd.valid() && child->stdin_data.empty()) child->stdin_fd.Reset();
  uint64_t id = child->id;
  by_pid_[pid] = id;
  children_[id] = std::move(child);
  return id;
}

void ProcessSet::Signal(uint64_t id, int signal) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  // The group outlives its leader only if the leader has exited; then signal nothing, as
  // its pid (and group id) may be reused once reaped.
  if (!it->second->exited) ::kill(-it->second->pid, signal);
}

void ProcessSet::SignalAll(int signal) {
  for (auto& [id, child] : children_) Signal(id, signal);
}

void ProcessSet::AppendPollFds(std::vector<pollfd>* fds) {
  poll_entries_.clear();
  for (auto& [id, child] : children_) {
    if (child->stdin_fd.valid()) {
      fds->push_back({child->stdin_fd.get(), POLLOUT, 0});
      poll_entries_.push_back({id, 0});
    }
    if (child->out.fd.valid()) {
      fds->push_back({child->out.fd.get(), POLLIN, 0});
      poll_entries_.push_back({id, 1});
    }
    if (child->err.fd.valid()) {
      fds->push_back({child->err.fd.get(), POLLIN, 0});
      poll_entries_.push_back({id, 2});
    }
  }
}

void ProcessSet::HandlePoll(const std::vector<pollfd>& fds, size_t first) {
  for (size_t i = 0; i < poll_entries_.size() && first + i < fds.size(); ++i) {
    const pollfd& p = fds[first + i];
    if (p.revents == 0) continue;
    auto it = children_.find(poll_entries_[i].id);
    if (it == children_.end()) continue;
    Child& child = *it->second;
    switch (poll_entries_[i].which) {
      case 0:
        if (p.revents & (POLLERR | POLLHUP)) {
          child.stdin_fd.Reset();  // the child closed its stdin: it does not want the rest
        } else {
          WriteSome(child);
        }
        break;
      case 1:
        ReadSome(child, child.out, /*drain=*/false);
        break;
      default:
        ReadSome(child, child.err, /*drain=*/false);
        break;
    }
  }
  poll_entries_.clear();
}

void ProcessSet::WriteSome(Child& child) {
  while (child.stdin_written < child.stdin_data.size()) {
    ssize_t n = ::write(child.stdin_fd.get(), child.stdin_data.data() + child.stdin_written,
                        child.stdin_data.size() - child.stdin_written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) break;  // EPIPE: the child does not read its stdin
    child.stdin_written += static_cast<size_t>(n);
  }
  child.stdin_fd.Reset();
  std::string().swap(child.stdin_data);
}

void ProcessSet::ReadSome(Child& child, Stream& stream, bool drain) {
  char buf[kReadChunk];
  size_t total = 0;
  while (stream.fd.valid()) {
    ssize_t n = ::read(stream.fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !drain) return;
    if (n <= 0) {
      // EOF, an error, or (draining) nothing more for now from what the child left behind.
      stream.fd.Reset();
      if (stream.echo) Echo(child, stream, {}, /*flush=*/true);
      return;
    }
    std::string_view data(buf, static_cast<size_t>(n));
    if (stream.keep) {
      stream.text.append(data);
      if (stream.tail && stream.text.size() > 2 * kStderrKeep) {
        stream.text.erase(0, stream.text.size() - kStderrKeep);
      }
    }
    if (stream.echo) Echo(child, stream, data, /*flush=*/false);
    total += data.size();
    // One read per wake-up keeps a chatty child from starving the others; when draining
    // an exited child, a grandchild that keeps the pipe open must not hold us for ever.
    if (!drain || total > kMaxDrain) {
      if (drain) stream.fd.Reset();
      return;
    }
  }
}

void ProcessSet::Echo(Child& child, Stream& stream, std::string_view data, bool flush) {
  stream.pending_line.append(data);
  size_t start = 0;
  for (size_t nl; (nl = stream.pending_line.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    WriteAll(STDERR_FILENO, child.echo_prefix + stream.pending_line.substr(start, nl + 1 - start));
  }
  stream.pending_line.erase(0, start);
  if ((flush && !stream.pending_line.empty()) || stream.pending_line.size() > kMaxPendingLine) {
    WriteAll(STDERR_FILENO, child.echo_prefix + stream.pending_line + "\n");
    stream.pending_line.clear();
  }
}

std::vector<ProcessResult> ProcessSet::Reap() {
  std::vector<ProcessResult> finished;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    auto id = by_pid_.find(pid);
    if (id == by_pid_.end()) continue;  // not one of ours
    auto it = children_.find(id->second);
    by_pid_.erase(id);
    if (it == children_.end()) continue;
    Child& child = *it->second;
    child.exited = true;
    if (WIFSIGNALED(status)) {
      child.term_signal = WTERMSIG(status);
    } else {
      child.exit_code = WEXITSTATUS(status);
    }
    // Everything the child wrote is in the pipes now; take it and finish.
    ReadSome(child, child.out, /*drain=*/true);
    ReadSome(child, child.err, /*drain=*/true);
    ProcessResult result;
    result.id = child.id;
    result.exit_code = child.exit_code;
    result.term_signal = child.term_signal;
    result.stdout_text = std::move(child.out.text);
    result.stderr_tail = std::move(child.err.text);
    children_.erase(it);
    finished.push_back(std::move(result));
  }
  return finished;
}

}  // namespace sluice::cli
