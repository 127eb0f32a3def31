#include "exec/local/posix_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

namespace sluice::exec::local {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status ErrnoStatus(int err, std::string_view prefix) {
  std::string message = std::string(prefix) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(std::move(message));
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return ResourceExhausted(std::move(message));
    default:
      return IoError(std::move(message));
  }
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status MakeDirs(const std::string& path) {
  if (path.empty()) return InvalidArgument("empty directory path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "mkdir " + prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return IoError(path + ": exists and is not a directory");
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open " + path);
  std::string content;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  return content;
}

namespace {

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("write " + what + ": " + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& dir, std::string_view name,
                           std::string_view content) {
  const std::string final_path = JoinPath(dir, name);
  // A unique temporary name, so two concurrent writers of the same file cannot collide.
  std::string tmp_path = final_path + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(tmp_path.data(), O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "create " + tmp_path);
  Status st = WriteAll(fd.get(), content, tmp_path);
  if (st.ok() && ::fchmod(fd.get(), 0644) != 0) st = ErrnoStatus(errno, "chmod " + tmp_path);
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus(errno, "fsync " + tmp_path);
  fd.Reset();
  if (st.ok() && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    st = ErrnoStatus(errno, "rename to " + final_path);
  }
  if (!st.ok()) {
    ::unlink(tmp_path.c_str());
    return st;
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return ErrnoStatus(errno, "open " + dir);
  if (::fsync(dir_fd.get()) != 0) return ErrnoStatus(errno, "fsync " + dir);
  return Status::Ok();
}

std::optional<Micros> FileMtime(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<Micros>(st.st_mtim.tv_sec) * kMicrosPerSecond + st.st_mtim.tv_nsec / 1000;
}

LockState ProbeLock(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno == ENOENT ? LockState::kMissing : LockState::kFree;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return LockState::kFree;
  return errno == EWOULDBLOCK ? LockState::kHeld : LockState::kFree;
}

bool ProcessGroupExists(pid_t pgid) {
  if (pgid <= 1) return false;
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  Result<std::string> text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return std::nullopt;
  // "PID (COMM) STATE PPID PGRP ...": COMM may hold spaces and parentheses.
  const size_t close_paren = text->rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  ProcStat stat;
  if (std::sscanf(text->c_str() + close_paren + 1, " %c %*d %d", &stat.state, &stat.pgrp) != 2) {
    return std::nullopt;
  }
  return stat;
}

Result<std::vector<LiveProcess>> ListLiveProcesses() {
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (proc == nullptr) return ErrnoStatus(errno, "open /proc");
  std::vector<LiveProcess> live;
  while (const dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    const std::string_view name(entry->d_name);
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size() || pid <= 0) continue;
    std::optional<ProcStat> stat = ReadProcStat(pid);  // nullopt: exited meanwhile
    if (stat && stat->alive()) live.push_back({pid, stat->pgrp});
  }
  return live;
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

void ReapIfChild(pid_t pid, int pidfd) {
  if (pidfd >= 0) {
    // Reaps exactly the process the pidfd names, and only if it is our child (ECHILD
    // otherwise): a re-attached wrapper belongs to another parent.
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                    WEXITED | WNOHANG) != 0 &&
           errno == EINTR) {
    }
    return;
  }
  while (::waitpid(pid, nullptr, WNOHANG) < 0 && errno == EINTR) {
  }
}

namespace {

// Signals whose disposition a child gets reset to default: the server or the wrapper may
// ignore or handle them, and ignored dispositions survive exec.
constexpr int kResetSignals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGPIPE,
                                 SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ};

class SpawnSetup {
 public:
  SpawnSetup() {
    actions_ok_ = ::posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = ::posix_spawnattr_init(&attr_) == 0;
  }
  ~SpawnSetup() {
    if (actions_ok_) ::posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) ::posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  bool ok() const { return actions_ok_ && attr_ok_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool actions_ok_ = false;
  bool attr_ok_ = false;
};

int SetStdio(posix_spawn_file_actions_t* actions, int target, int source, int null_flags) {
  if (source < 0)
    return ::posix_spawn_file_actions_addopen(actions, target, "/dev/null", null_flags, 0);
  return ::posix_spawn_file_actions_adddup2(actions, source, target);
}

}  // namespace

std::vector<std::string> MergedEnvironment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    if (!overrides.contains(key)) env.emplace_back(kv);
  }
  for (const auto& [key, value] : overrides) env.push_back(key + "=" + value);
  return env;
}

int Spawn(const SpawnRequest& request, pid_t* pid) {
  if (request.argv.empty()) return EINVAL;
  SpawnSetup setup;
  if (!setup.ok()) return ENOMEM;

  int err = SetStdio(setup.actions(), 0, request.stdin_fd, O_RDONLY);
  if (err == 0) err = SetStdio(setup.actions(), 1, request.stdout_fd, O_WRONLY);
  if (err == 0) err = SetStdio(setup.actions(), 2, request.stderr_fd, O_WRONLY);
  int first_closed = 3;
  for (const auto& [source, target] : request.extra_fds) {
    // adddup2 with source == target clears FD_CLOEXEC (glibc >= 2.29), as POSIX now asks.
    if (err == 0) err = ::posix_spawn_file_actions_adddup2(setup.actions(), source, target);
    first_closed = std::max(first_closed, target + 1);
  }
  // Nothing else leaks into the child, whatever other threads of the server opened
  // without O_CLOEXEC.
  if (err == 0) err = ::posix_spawn_file_actions_addclosefrom_np(setup.actions(), first_closed);
  if (err != 0) return err;

  sigset_t mask;
  sigemptyset(&mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : kResetSignals) sigaddset(&defaults, sig);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (request.new_session) flags |= POSIX_SPAWN_SETSID;
  err = ::posix_spawnattr_setflags(setup.attr(), flags);
  if (err == 0) err = ::posix_spawnattr_setsigmask(setup.attr(), &mask);
  if (err == 0) err = ::posix_spawnattr_setsigdefault(setup.attr(), &defaults);
  if (err != 0) return err;

  std::vector<char*> argv;
  for (const std::string& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& kv : request.env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);

  if (request.search_path) {
    return ::posix_spawnp(pid, argv[0], setup.actions(), setup.attr(), argv.data(), envp.data());
  }
  return ::posix_spawn(pid, argv[0], setup.actions(), setup.attr(), argv.data(), envp.data());
}

}  // namespace sluice::exec::local
