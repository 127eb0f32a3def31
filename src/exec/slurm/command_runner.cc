#include "exec/slurm/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string_view>

#include "exec/local/posix_util.h"

namespace sluice::exec::slurm {

using local::ErrnoStatus;
using local::MergedEnvironment;
using local::UniqueFd;

Result<CommandResult> SubprocessRunner::Run(const std::vector<std::string>& argv,
                                            const std::map<std::string, std::string>& env,
                                            Micros timeout) {
  if (argv.empty()) return InvalidArgument("command: empty argv");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);

  local::SpawnRequest request;
  request.argv = argv;
  request.env = MergedEnvironment(env);
  request.search_path = true;
  request.stdout_fd = out_write.get();
  request.stderr_fd = err_write.get();
  pid_t pid = 0;
  if (int err = local::Spawn(request, &pid); err != 0) return ErrnoStatus(err, "start " + argv[0]);
  out_write.Reset();
  err_write.Reset();

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout);
  bool timed_out = false;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(left.count()) + 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "waitpid " + argv[0]);
  }
  if (timed_out) {
    return Unavailable(argv[0] + ": no answer within " + std::to_string(timeout / 1000) + " ms");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace sluice::exec::slurm
