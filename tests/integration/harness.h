// Test harness for black-box tests of the real `sluice` binary: starts `sluice serve` on
// port 0 with a temp data dir, reads the URL it prints, talks HTTP with libcurl, and can
// kill -9 and restart the server on the same data dir.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::testing {

using nlohmann::json;

// The sluice binary under test (set by CMake as SLUICE_BINARY).
std::string SluiceBinary();

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
  json Json() const;
};

struct FormPart {
  std::string name;
  std::string value;
  std::string filename;  // non-empty: sent as a file part
};

// Blocking HTTP client for tests.
HttpResponse HttpGet(const std::string& url);
HttpResponse HttpPost(const std::string& url, const std::string& body,
                      const std::string& content_type,
                      const std::vector<std::string>& extra_headers = {});
HttpResponse HttpPostForm(const std::string& url, const std::vector<FormPart>& parts,
                          const std::vector<std::string>& extra_headers = {});

class ServerProcess {
 public:
  // Starts `sluice serve --port 0 --data-dir DIR` plus `extra_args`; waits for its URL.
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // SIGTERM and wait

  const std::string& url() const { return url_; }
  std::string wes() const { return url_ + "/ga4gh/wes/v1"; }
  pid_t pid() const { return pid_; }
  // Simulates a crash: SIGKILL the server and reap it. Tasks keep running.
  void Kill9();
  // SIGTERM and wait; returns the exit status.
  int Stop();
  // Starts again on the same data dir (after Kill9 or Stop).
  void Restart();

 private:
  void Launch();
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  std::string url_;
};

// Submits a MOCK run (JSON body) and returns its id; fails the test on error.
std::string SubmitMock(const ServerProcess& server, const json& params,
                       const json& tags = json::object());
// Polls GET /status until the run is terminal or `timeout_s` passes; returns the last state.
std::string WaitForTerminal(const ServerProcess& server, const std::string& run_id,
                            double timeout_s = 60);
// Every task of a run (following next_page_token).
std::vector<json> AllTasks(const ServerProcess& server, const std::string& run_id);
// The lines of the file at `path` that contain `needle` (0 if unreadable): e.g. how many
// times a MOCK task did its work ("working for") according to its stdout.
int CountLines(const std::string& path, const std::string& needle);
// Writes `text` to the file at `path` (replacing it); returns `path`.
std::string WriteFile(const std::string& path, const std::string& text);

}  // namespace sluice::testing
