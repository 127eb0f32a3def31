// Small POSIX helpers shared by the local executor and the task wrapper: an owning file
// descriptor, durable file writes, flock probes, process-group probes, pidfd_open and a
// posix_spawn front end (no fork: the server is multithreaded).
// Thread-safety: stateless functions, safe from any thread; UniqueFd is a value type.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::exec::local {

// Owns one file descriptor and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "<prefix>: <strerror(err)>" as a Status: kNotFound for ENOENT, kResourceExhausted for
// EAGAIN/ENOMEM/EMFILE/ENFILE, kIo otherwise.
Status ErrnoStatus(int err, std::string_view prefix);

// `dir + "/" + name`.
std::string JoinPath(std::string_view dir, std::string_view name);

bool PathExists(const std::string& path);

// mkdir -p. kIo on failure.
Status MakeDirs(const std::string& path);

// Reads a whole file. kNotFound if it does not exist, kIo on other errors.
Result<std::string> ReadFile(const std::string& path);

// Writes dir/name atomically and durably: dir/name.tmp, fsync, rename, fsync(dir). Readers
// see either no file or the whole content, also after a machine crash. kIo on failure.
Status WriteFileAtomically(const std::string& dir, std::string_view name, std::string_view content);

// Modification time of `path` in micros since the epoch; nullopt if it cannot be stat'ed.
std::optional<Micros> FileMtime(const std::string& path);

enum class LockState { kMissing, kFree, kHeld };

// Whether some process holds an exclusive flock on `path`, without waiting. The probe takes
// a shared lock for an instant, so probes never disturb each other; an exclusive locker
// using LOCK_NB may see EWOULDBLOCK during that instant and must retry.
LockState ProbeLock(const std::string& path);

// True while the process group has at least one member (zombies included).
bool ProcessGroupExists(pid_t pgid);

// A process as /proc/PID/stat describes it.
struct ProcStat {
  char state = 0;  // 'R', 'S', 'D', 'Z' (zombie), 'X' (dead), ...
  pid_t pgrp = 0;
  bool alive() const { return state != 'Z' && state != 'X'; }
};
// nullopt if there is no such process (or /proc cannot be read).
std::optional<ProcStat> ReadProcStat(pid_t pid);

// Every process that is alive (not a zombie) with its process group, read from /proc: a
// snapshot, processes come and go meanwhile. kIo if /proc cannot be listed.
struct LiveProcess {
  pid_t pid = 0;
  pid_t pgrp = 0;
};
Result<std::vector<LiveProcess>> ListLiveProcesses();

// pidfd_open(2). -1 with errno set on failure (ENOSYS on kernels before 5.3).
int PidfdOpen(pid_t pid);

// Reaps `pid` if it is an exited child of this process; no-op otherwise.
void ReapIfChild(pid_t pid, int pidfd);

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE"
  bool search_path = false;      // look argv[0] up on the PATH of the calling process
  bool new_session = false;      // setsid(): the child leads a new session and process group
  int stdin_fd = -1;             // -1: /dev/null
  int stdout_fd = -1;
  int stderr_fd = -1;
  // (source fd, target fd) pairs made available in the child besides 0-2; every other
  // descriptor is closed in the child.
  std::vector<std::pair<int, int>> extra_fds;
};

// Starts a process with posix_spawn(p). Signal dispositions the child cares about are reset
// to default and its signal mask is emptied. Returns 0 and sets *pid, or an errno value
// (exec failures such as ENOENT/EACCES are reported here by glibc).
int Spawn(const SpawnRequest& request, pid_t* pid);

// The calling process's environment with `overrides` applied, as "KEY=VALUE" strings (what
// a task or a Slurm command is started with).
std::vector<std::string> MergedEnvironment(const std::map<std::string, std::string>& overrides);

}  // namespace sluice::exec::local
