// loadgen: a small HTTP/1.1 load generator for Sluice's benchmarks.
//
//   loadgen --url http://127.0.0.1:8080/ga4gh/wes/v1/runs --method POST
//           --body-file run.json --content-type application/json
//           --connections 32 --duration 10 [--rate 2000] [--paths-file paths.txt]
//
// With --paths-file, requests cycle through the paths in the file (one per line, e.g. the
// status URLs of many stored runs) instead of always asking for the --url path.
//
// Without --rate it is closed-loop (each connection sends as soon as the previous answer
// arrived): the maximum rate. With --rate it is open-loop: requests are due on a fixed
// schedule and latency is measured from when a request was due, not when it was sent, so
// a stalled server cannot hide its queueing delay (no coordinated omission).
// Prints one JSON object: requests, errors, rate, and latency percentiles in milliseconds.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  int port = 80;
  std::string path;
};

bool ParseUrl(const std::string& url, Target& t) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return false;
  std::string rest = url.substr(prefix.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  t.host = hostport.substr(0, colon);
  if (colon != std::string::npos) t.port = std::stoi(hostport.substr(colon + 1));
  return !t.host.empty();
}

int Connect(const Target& t) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(t.host.c_str(), std::to_string(t.port).c_str(), &hints, &res) != 0) return -1;
  int fd = socket(res->ai_family, res->ai_socktype, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// Reads one HTTP response (Content-Length bodies only); returns the status or -1.
int ReadResponse(int fd, std::string& buf) {
  while (true) {
    size_t head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      int status = std::atoi(buf.c_str() + 9);
      size_t len = 0;
      std::string head = buf.substr(0, head_end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t cl = head.find("content-length:");
      if (cl != std::string::npos) len = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
      size_t total = head_end + 4 + len;
      while (buf.size() < total) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) return -1;
        buf.append(tmp, static_cast<size_t>(n));
      }
      buf.erase(0, total);
      return status;
    }
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP load generator for Sluice benchmarks"};
  std::string url, method = "GET", body_file, content_type = "application/json", paths_file;
  int connections = 16;
  double duration = 10, rate = 0;
  app.add_option("--url", url, "http://host:port/path")->required();
  app.add_option("--method", method);
  app.add_option("--body-file", body_file);
  app.add_option("--content-type", content_type);
  app.add_option("--connections", connections)->check(CLI::Range(1, 4096));
  app.add_option("--duration", duration, "seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rate", rate, "requests per second in all (0: as fast as possible)");
  app.add_option("--paths-file", paths_file, "cycle through these paths (one per line)");
  CLI11_PARSE(app, argc, argv);

  Target target;
  if (!ParseUrl(url, target)) {
    std::fprintf(stderr, "loadgen: --url must look like http://host:port/path\n");
    return 2;
  }
  std::string body;
  if (!body_file.empty()) {
    std::ifstream in(body_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "loadgen: cannot read %s\n", body_file.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  std::vector<std::string> paths;
  if (!paths_file.empty()) {
    std::ifstream in(paths_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
    if (paths.empty()) {
      std::fprintf(stderr, "loadgen: no paths in %s\n", paths_file.c_str());
      return 2;
    }
  } else {
    paths.push_back(target.path);
  }
  std::vector<std::string> requests;
  for (const auto& path : paths) {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + target.host + ":" +
                          std::to_string(target.port) + "\r\n";
    if (!body.empty() || method == "POST") {
      request += "Content-Type: " + content_type + "\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n";
    }
    requests.push_back(request + "\r\n" + body);
  }

  std::atomic<long> errors{0};
  std::vector<std::vector<double>> latencies(connections);
  auto start = Clock::now() + std::chrono::milliseconds(50);
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      int fd = Connect(target);
      if (fd < 0) {
        ++errors;
        return;
      }
      std::string buf;
      size_t next = static_cast<size_t>(c) * 7919 % requests.size();
      auto interval = rate > 0 ? std::chrono::duration<double>(connections / rate)
                               : std::chrono::duration<double>(0);
      auto due = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(rate > 0 ? c / rate : 0));
      std::this_thread::sleep_until(start);
      while (true) {
        if (rate > 0) {
          if (due >= end) break;
          std::this_thread::sleep_until(due);
        } else {
          due = Clock::now();
          if (due >= end) break;
        }
        int status = -1;
        const std::string& request = requests[next];
        next = (next + 1) % requests.size();
        if (WriteAll(fd, request)) status = ReadResponse(fd, buf);
        auto now = Clock::now();
        if (status < 200 || status >= 300) {
          ++errors;
          if (status < 0) {
            close(fd);
            fd = Connect(target);
            buf.clear();
            if (fd < 0) return;
          }
        } else {
          latencies[c].push_back(std::chrono::duration<double, std::milli>(now - due).count());
        }
        if (rate > 0) due += std::chrono::duration_cast<Clock::duration>(interval);
      }
      if (fd >= 0) close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  nlohmann::json out = {{"requests", all.size()},
                        {"errors", errors.load()},
                        {"seconds", elapsed},
                        {"rate", static_cast<double>(all.size()) / elapsed},
                        {"p50_ms", Percentile(all, 0.50)},
                        {"p90_ms", Percentile(all, 0.90)},
                        {"p99_ms", Percentile(all, 0.99)},
                        {"max_ms", all.empty() ? 0 : *std::max_element(all.begin(), all.end())}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
