// The child processes of `sluice asl run` (bound commands and local Batch jobs), driven by
// the caller's poll loop: no threads. Each child is started with posix_spawn in a session
// (and so a process group) of its own, so that cancelling a task signals everything it
// started; its stdin is fed from memory and its stdout/stderr are read through non-blocking
// pipes. Output that is not kept for the result is echoed, a line at a time and prefixed with
// the task's name, on our stderr (stdout of `sluice asl run` carries only the result line).
//
// The owner blocks SIGCHLD and calls Reap() when it arrives; a child is finished once it
// has exited and what it wrote before exiting has been read.
//
// Thread-safety: not thread-safe; one thread owns a ProcessSet.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace sluice::cli {

struct ProcessSpec {
  std::vector<std::string> argv;
  bool search_path = false;      // look argv[0] up on PATH
  std::vector<std::string> env;  // the complete environment, "KEY=VALUE"
  bool stdin_from_null = false;  // else `stdin_data` is written to stdin, which is then closed
  std::string stdin_data;
  bool keep_stdout = true;  // false: stdout is echoed like stderr instead of kept
  bool echo = true;         // echo stderr (and stdout unless kept) on our stderr
  std::string echo_prefix;  // put before every echoed line, e.g. "[Align] "
};

struct ProcessResult {
  uint64_t id = 0;
  int exit_code = 0;        // when term_signal == 0
  int term_signal = 0;      // non-zero: killed by that signal
  std::string stdout_text;  // when keep_stdout
  std::string stderr_tail;  // the last 64 KiB or more of stderr
};

class ProcessSet {
 public:
  ProcessSet();
  // Kills (SIGKILL to the process group) and reaps every child still running.
  ~ProcessSet();
  ProcessSet(const ProcessSet&) = delete;
  ProcessSet& operator=(const ProcessSet&) = delete;

  // Starts a child; returns its id (never 0). On failure the Status message says why
  // ("/no/such: No such file or directory"); nothing is left running.
  Result<uint64_t> Start(const ProcessSpec& spec);

  // Sends `signal` to the child's process group (no-op once it has finished).
  void Signal(uint64_t id, int signal);
  void SignalAll(int signal);
  bool Running(uint64_t id) const { return children_.count(id) != 0; }
  bool empty() const { return children_.empty(); }
  size_t size() const { return children_.size(); }

  // Appends the descriptors to watch; HandlePoll then takes the same entries back (from
  // `fds[first]` on) after poll() returned.
  void AppendPollFds(std::vector<pollfd>* fds);
  void HandlePoll(const std::vector<pollfd>& fds, size_t first);

  // Collects exited children (call after SIGCHLD) and returns those now finished.
  std::vector<ProcessResult> Reap();

 private:
  struct Stream;
  struct Child;
  void ReadSome(Child& child, Stream& stream, bool drain);
  void WriteSome(Child& child);
  void Echo(Child& child, Stream& stream, std::string_view data, bool flush);

  std::unordered_map<uint64_t, std::unique_ptr<Child>> children_;
  std::unordered_map<pid_t, uint64_t> by_pid_;
  struct PollEntry {
    uint64_t id;
    int which;  // 0 stdin, 1 stdout, 2 stderr
  };
  std::vector<PollEntry> poll_entries_;
  uint64_t next_id_ = 1;
};

}  // namespace sluice::cli
