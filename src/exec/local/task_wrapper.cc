#include "exec/local/task_wrapper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/clock.h"
#include "exec/local/posix_util.h"
#include "exec/local/task_files.h"

extern char** environ;

namespace sluice::exec::local {
namespace {

// Exit codes of the wrapper itself (the task's status goes to the exit_code file).
constexpr int kWrapperUsage = 2;
constexpr int kWrapperFailed = 3;

struct WrapperArgs {
  int lock_fd = -1;  // an inherited fd whose flock the executor already holds for us
  std::string dir;
  std::vector<std::string> argv;
};

// Diagnostics go to the wrapper's own stderr (the executor points it at wrapper.log).
void Log(const std::string& message) {
  std::string line = "sluice task wrapper[" + std::to_string(::getpid()) + "]: " + message + "\n";
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

// [argv[0]] [__task-wrapper] [--lock-fd N] DIR -- ARGV...
bool ParseArgs(int argc, char** argv, WrapperArgs* out) {
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "__task-wrapper") == 0) ++i;
  if (i + 1 < argc && std::strcmp(argv[i], "--lock-fd") == 0) {
    std::string_view fd(argv[i + 1]);
    auto [end, ec] = std::from_chars(fd.data(), fd.data() + fd.size(), out->lock_fd);
    if (ec != std::errc() || end != fd.data() + fd.size() || out->lock_fd < 0) return false;
    i += 2;
  }
  if (i + 2 >= argc || std::strcmp(argv[i + 1], "--") != 0 || argv[i][0] != '/') return false;
  out->dir = argv[i];
  for (int j = i + 2; j < argc; ++j) out->argv.emplace_back(argv[j]);
  return true;
}

// Takes (or confirms) the exclusive lock on DIR/lock, held until this process exits.
bool TakeLock(const WrapperArgs& args, UniqueFd* lock) {
  if (args.lock_fd >= 0) {
    lock->Reset(args.lock_fd);
    // The task must not inherit the lock: a stray child would keep the task "alive".
    if (::fcntl(lock->get(), F_SETFD, FD_CLOEXEC) != 0) return false;
    // Same open file description as the executor's flock: succeeds at once if it is ours.
    return ::flock(lock->get(), LOCK_EX | LOCK_NB) == 0;
  }
  lock->Reset(::open(JoinPath(args.dir, kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock->valid()) return false;
  while (::flock(lock->get(), LOCK_EX) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// Appends, never truncates: should a task ever run twice, both runs show in its logs.
UniqueFd OpenOutput(const std::string& dir, std::string_view name) {
  return UniqueFd(
      ::open(JoinPath(dir, name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace

int TaskWrapperMain(int argc, char** argv) {
  WrapperArgs args;
  if (!ParseArgs(argc, argv, &args) || args.argv.empty()) {
    Log("usage: __task-wrapper [--lock-fd N] /ABSOLUTE/WORK_DIR -- PROGRAM [ARGS...]");
    return kWrapperUsage;
  }
  // The wrapper must outlive its task to record the exit status: Cancel's SIGTERM goes to
  // the whole process group and must only reach the task. Spawn() resets these for it.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
  // Started by hand rather than by the executor: become a group leader so that the pid we
  // record is also the task's process group id.
  if (::getpgrp() != ::getpid()) ::setsid();
  if (::chdir(args.dir.c_str()) != 0) {
    Log("cannot enter " + args.dir + ": " + std::strerror(errno));
    return kWrapperFailed;
  }

  UniqueFd lock;
  if (!TakeLock(args, &lock)) {
    Log("cannot lock " + JoinPath(args.dir, kLockFile) + ": " + std::strerror(errno));
    return kWrapperFailed;
  }
  // The pid file marks "started": a task is never started twice.
  if (PathExists(JoinPath(args.dir, kPidFile)) || PathExists(JoinPath(args.dir, kExitCodeFile))) {
    Log("task in " + args.dir + " was already started; not starting it again");
    return kWrapperFailed;
  }
  if (Status st = WriteFileAtomically(args.dir, kPidFile, std::to_string(::getpid()) + "\n");
      !st.ok()) {
    Log(st.ToString());
    return kWrapperFailed;
  }
  UniqueFd out = OpenOutput(args.dir, kStdoutFile);
  UniqueFd err = OpenOutput(args.dir, kStderrFile);
  if (!out.valid() || !err.valid()) {
    Log("cannot open the task's output files: " + std::string(std::strerror(errno)));
    return kWrapperFailed;
  }

  SystemClock clock;
  ExitRecord record;
  record.start_time = clock.Now();
  SpawnRequest request;
  request.argv = args.argv;
  request.env = CurrentEnvironment();
  request.search_path = true;
  request.stdin_fd = 0;
  request.stdout_fd = out.get();
  request.stderr_fd = err.get();
  pid_t child = 0;
  if (int spawn_err = Spawn(request, &child); spawn_err != 0) {
    std::string message =
        "sluice: cannot run '" + args.argv[0] + "': " + std::strerror(spawn_err) + "\n";
    ssize_t ignored = ::write(err.get(), message.data(), message.size());
    (void)ignored;
    record.exit_code = spawn_err == ENOENT ? 127 : 126;  // the shell's convention
  } else {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) {
        Log("waitpid: " + std::string(std::strerror(errno)));
        return kWrapperFailed;
      }
    }
    if (WIFSIGNALED(status)) {
      record.signal = WTERMSIG(status);
      record.exit_code = 128 + WTERMSIG(status);
    } else {
      record.exit_code = WEXITSTATUS(status);
    }
  }
  record.end_time = clock.Now();
  if (Status st = WriteFileAtomically(args.dir, kExitCodeFile, SerializeExitRecord(record));
      !st.ok()) {
    Log(st.ToString());
    return kWrapperFailed;
  }
  return record.exit_code & 0xff;
}

}  // namespace sluice::exec::local
