// loadgen: a small HTTP/1.1 load generator for Sluice's benchmarks.
//
//   loadgen --url http://127.0.0.1:8080/ga4gh/wes/v1/runs --method POST
//           --body-file run.json --content-type application/json
//           --connections 32 --duration 10 [--rate 2000] [--paths-file paths.txt]
//           [--threads 1]
//
// With --paths-file, requests cycle through the paths in the file (one per line, e.g. the
// status URLs of many stored runs) instead of always asking for the --url path.
//
// Without --rate it is closed-loop (each connection sends as soon as the previous answer
// arrived): the maximum rate. With --rate it is open-loop: requests are due on a fixed
// schedule and latency is measured from when a request was due, not when it was sent, so
// a stalled server cannot hide its queueing delay (no coordinated omission).
//
// The connections are driven by `--threads` event loops (Boost.Asio, default one), not by a
// thread each: on the two cores the server shares with it, 32 or 64 client threads waking
// for every request and every answer would compete with the server for the CPU and add
// their own wake-up delays to the latencies measured.
// Prints one JSON object: requests, errors, rate, and latency percentiles in milliseconds.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

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

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// What every connection shares (read-only once the loops run, but for the error count).
struct Plan {
  tcp::resolver::results_type endpoints;
  std::vector<std::string> requests;
  double rate = 0;  // in all; 0: closed loop
  int connections = 1;
  Clock::time_point start, end;
  std::atomic<long> errors{0};
};

// One keep-alive connection: sends a request when it is due (open loop) or as soon as the
// previous answer arrived (closed loop), one at a time, and records each answer's latency
// from when its request was due.
class Connection {
 public:
  Connection(asio::io_context& io, Plan& plan, int index)
      : plan_(plan),
        socket_(io),
        timer_(io),
        next_(static_cast<size_t>(index) * 7919 % plan.requests.size()),
        interval_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(plan.rate > 0 ? plan.connections / plan.rate : 0))),
        due_(plan.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                              plan.rate > 0 ? index / plan.rate : 0))) {}

  std::vector<double>& latencies() { return latencies_; }

  void Start() {
    Connect([this] {
      if (plan_.rate > 0) return Schedule();
      // Closed loop: the first request at the common start.
      timer_.expires_at(plan_.start);
      timer_.async_wait([this](error_code) { Schedule(); });
    });
  }

 private:
  void Schedule() {
    if (plan_.rate > 0) {
      if (due_ >= plan_.end) return Close();
      timer_.expires_at(due_);
      timer_.async_wait([this](error_code) { Send(); });
      return;
    }
    due_ = Clock::now();
    if (due_ >= plan_.end) return Close();
    Send();
  }

  void Send() {
    const std::string& request = plan_.requests[next_];
    next_ = (next_ + 1) % plan_.requests.size();
    asio::async_write(socket_, asio::buffer(request), [this](error_code ec, size_t) {
      if (ec) return Failed();
      response_.emplace();
      response_->body_limit(std::numeric_limits<std::uint64_t>::max());
      http::async_read(socket_, buffer_, *response_, [this](error_code ec, size_t) {
        if (ec) return Failed();
        const auto now = Clock::now();
        const unsigned status = response_->get().result_int();
        if (status < 200 || status >= 300) {
          ++plan_.errors;
        } else {
          latencies_.push_back(std::chrono::duration<double, std::milli>(now - due_).count());
        }
        if (!response_->get().keep_alive()) return Reconnect();
        Advance();
      });
    });
  }

  void Advance() {
    if (plan_.rate > 0) due_ += interval_;
    Schedule();
  }

  void Failed() {
    ++plan_.errors;
    Reconnect();
  }

  void Reconnect() {
    Close();
    buffer_.clear();
    Connect([this] { Advance(); });
  }

  // Connects (TCP_NODELAY), then `then`; a connection the server refuses gives up.
  template <typename Then>
  void Connect(Then then) {
    asio::async_connect(socket_, plan_.endpoints,
                        [this, then](error_code ec, const tcp::endpoint&) {
                          if (ec) {
                            ++plan_.errors;
                            return;
                          }
                          socket_.set_option(tcp::no_delay(true));
                          then();
                        });
  }

  void Close() {
    error_code ignored;
    socket_.close(ignored);
  }

  Plan& plan_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> response_;
  size_t next_;
  const Clock::duration interval_;
  Clock::time_point due_;
  std::vector<double> latencies_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP load generator for Sluice benchmarks"};
  std::string url, method = "GET", body_file, content_type = "application/json", paths_file;
  int connections = 16, threads = 1;
  double duration = 10, rate = 0;
  app.add_option("--url", url, "http://host:port/path")->required();
  app.add_option("--method", method);
  app.add_option("--body-file", body_file);
  app.add_option("--content-type", content_type);
  app.add_option("--connections", connections)->check(CLI::Range(1, 4096));
  app.add_option("--duration", duration, "seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rate", rate, "requests per second in all (0: as fast as possible)");
  app.add_option("--paths-file", paths_file, "cycle through these paths (one per line)");
  app.add_option("--threads", threads, "event loops driving the connections")
      ->check(CLI::Range(1, 64));
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
  Plan plan;
  for (const auto& path : paths) {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + target.host + ":" +
                          std::to_string(target.port) + "\r\n";
    if (!body.empty() || method == "POST") {
      request += "Content-Type: " + content_type + "\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n";
    }
    plan.requests.push_back(request + "\r\n" + body);
  }
  {
    asio::io_context io;
    error_code ec;
    plan.endpoints = tcp::resolver(io).resolve(target.host, std::to_string(target.port), ec);
    if (ec) {
      std::fprintf(stderr, "loadgen: cannot resolve %s: %s\n", target.host.c_str(),
                   ec.message().c_str());
      return 2;
    }
  }
  plan.rate = rate;
  plan.connections = connections;
  plan.start = Clock::now() + std::chrono::milliseconds(50);
  plan.end = plan.start +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));

  threads = std::min(threads, connections);
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<std::unique_ptr<Connection>> conns;
  for (int t = 0; t < threads; ++t) loops.push_back(std::make_unique<asio::io_context>(1));
  for (int c = 0; c < connections; ++c) {
    conns.push_back(
        std::make_unique<Connection>(*loops[static_cast<size_t>(c % threads)], plan, c));
    conns.back()->Start();
  }
  std::vector<std::thread> runners;
  for (auto& loop : loops) runners.emplace_back([&loop] { loop->run(); });
  for (auto& r : runners) r.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - plan.start).count();
  std::vector<double> all;
  for (auto& c : conns) all.insert(all.end(), c->latencies().begin(), c->latencies().end());
  nlohmann::json out = {{"requests", all.size()},
                        {"errors", plan.errors.load()},
                        {"seconds", elapsed},
                        {"rate", static_cast<double>(all.size()) / elapsed},
                        {"p50_ms", Percentile(all, 0.50)},
                        {"p90_ms", Percentile(all, 0.90)},
                        {"p99_ms", Percentile(all, 0.99)},
                        {"max_ms", all.empty() ? 0 : *std::max_element(all.begin(), all.end())}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
