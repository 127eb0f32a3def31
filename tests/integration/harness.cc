#include "harness.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sluice::testing {

std::string SluiceBinary() { return SLUICE_BINARY; }

TempDir::TempDir() {
  char tmpl[] = "/tmp/sluice-test-XXXXXX";
  char* p = mkdtemp(tmpl);
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

json HttpResponse::Json() const {
  return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

namespace {

size_t WriteBody(char* ptr, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * n);
  return size * n;
}

size_t WriteHeader(char* ptr, size_t size, size_t n, void* user) {
  std::string line(ptr, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}

HttpResponse Perform(CURL* curl, const std::string& url, curl_slist* headers) {
  HttpResponse r;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    r.status = -1;
    r.body = curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

curl_slist* Headers(const std::vector<std::string>& extra) {
  curl_slist* h = nullptr;
  for (const auto& e : extra) h = curl_slist_append(h, e.c_str());
  return h;
}

}  // namespace

HttpResponse HttpGet(const std::string& url) { return Perform(curl_easy_init(), url, nullptr); }

HttpResponse HttpPost(const std::string& url, const std::string& body,
                      const std::string& content_type,
                      const std::vector<std::string>& extra_headers) {
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
  auto headers = extra_headers;
  headers.push_back("Content-Type: " + content_type);
  headers.push_back("Expect:");
  return Perform(curl, url, Headers(headers));
}

HttpResponse HttpPostForm(const std::string& url, const std::vector<FormPart>& parts,
                          const std::vector<std::string>& extra_headers) {
  CURL* curl = curl_easy_init();
  curl_mime* mime = curl_mime_init(curl);
  for (const auto& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, p.name.c_str());
    curl_mime_data(part, p.value.data(), p.value.size());
    if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  auto headers = extra_headers;
  headers.push_back("Expect:");
  HttpResponse r = Perform(curl, url, Headers(headers));
  curl_mime_free(mime);
  return r;
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  Launch();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
}

void ServerProcess::Launch() {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {SluiceBinary(), "serve",  "--port", "0",
                                   "--data-dir",   data_dir_, "--log-level", "warn"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0) {
    throw std::runtime_error("server did not print its URL, first line: \"" + line + "\"");
  }
  url_ = line.substr(prefix.size());
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void ServerProcess::Restart() {
  if (pid_ > 0) Stop();
  Launch();
}

std::string SubmitMock(const ServerProcess& server, const json& params, const json& tags) {
  json body = {{"workflow_type", "MOCK"},
               {"workflow_type_version", "1.0"},
               {"workflow_url", "mock://test"},
               {"workflow_params", params},
               {"tags", tags}};
  HttpResponse r = HttpPost(server.wes() + "/runs", body.dump(), "application/json");
  EXPECT_EQ(r.status, 200) << r.body;
  json j = r.Json();
  if (!j.is_object() || !j.contains("run_id")) {
    ADD_FAILURE() << "no run_id in " << r.body;
    return "";
  }
  return j["run_id"].get<std::string>();
}

std::string WaitForTerminal(const ServerProcess& server, const std::string& run_id,
                            double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::string state;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = HttpGet(server.wes() + "/runs/" + run_id + "/status");
    if (r.status == 200) {
      state = r.Json().value("state", "");
      if (state == "COMPLETE" || state == "EXECUTOR_ERROR" || state == "SYSTEM_ERROR" ||
          state == "CANCELED" || state == "PREEMPTED") {
        return state;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return state;
}

int CountLines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::vector<json> AllTasks(const ServerProcess& server, const std::string& run_id) {
  std::vector<json> out;
  std::string token;
  for (int page = 0; page < 1000; ++page) {
    HttpResponse r = HttpGet(server.wes() + "/runs/" + run_id + "/tasks?page_size=50" +
                             (token.empty() ? "" : "&page_token=" + token));
    EXPECT_EQ(r.status, 200) << r.body;
    json j = r.Json();
    for (auto& t : j["task_logs"]) out.push_back(t);
    token = j.value("next_page_token", "");
    if (token.empty()) break;
  }
  return out;
}

}  // namespace sluice::testing
