// The Beast/Asio half of the API: accepting, reading requests, writing responses, keep-alive,
// timeouts and shutdown. Routing and everything WES-specific is in router.cc and handlers/.
//
// Each connection is a Session on its own strand. A session handles one request at a time:
// read, handle, write, then read the next one (bytes of a pipelined next request wait in the
// session's buffer), so responses always go out in request order. Handlers marked blocking
// run on a separate thread pool; their response is posted back to the session's strand.
// A route's asynchronous start (POST /runs without attachments) runs on the strand and
// answers later through a Responder, which posts the reply to the strand from whichever
// thread finished the work (the store's writer): no thread waits on the fsync.
// Responses are serialised by hand into a reused header string plus the body, written with
// one gather write.
//
// A streaming route (Server-Sent Events) turns the session into a stream: the head goes out
// with Content-Type text/event-stream and Connection: close (the body ends when the
// connection does), then whatever the route's StreamBody has ready is written each time it
// wakes the strand (an EventBus notification) or a write completes; a comment every
// sse_keepalive_seconds keeps proxies from timing out. A read kept pending on the socket sees
// the client go away; Stop() closes streams at once.
#include "api/http_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/router.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace sluice::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
// A connection's executor is its strand, named by its concrete type rather than through
// net::any_io_executor: every read, write and timer operation of the stream goes through
// it, and the type-erased executor costs a virtual dispatch and a shared_ptr copy each time.
using Strand = net::strand<net::io_context::executor_type>;
using Socket = net::basic_stream_socket<tcp, Strand>;
using Stream = beast::basic_stream<tcp, Strand>;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kFileChunk = 64 * 1024;
constexpr uint64_t kLingerDrainLimit = 1 << 20;

HttpMethod ToMethod(http::verb v) {
  switch (v) {
    case http::verb::get:
      return HttpMethod::kGet;
    case http::verb::head:
      return HttpMethod::kHead;
    case http::verb::post:
      return HttpMethod::kPost;
    case http::verb::put:
      return HttpMethod::kPut;
    case http::verb::delete_:
      return HttpMethod::kDelete;
    case http::verb::patch:
      return HttpMethod::kPatch;
    case http::verb::options:
      return HttpMethod::kOptions;
    default:
      return HttpMethod::kOther;
  }
}

std::string_view ToView(beast::string_view s) { return {s.data(), s.size()}; }

// The Date header value, formatted at most once per second per thread.
std::string_view HttpDate() {
  thread_local time_t cached_second = -1;
  thread_local char buf[64];
  thread_local size_t len = 0;
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm;
    gmtime_r(&now, &tm);
    len = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {buf, len};
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

class ServerImpl;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket&& socket, ServerImpl& server);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // On the strand: finish the current request, then close; close now if idle.
  void OnStop();
  Strand executor() { return stream_.get_executor(); }

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec, size_t);
  void ReadBody();
  void OnBody(beast::error_code ec, size_t);
  void Handle();
  void RunHandler(const Route& route, const PathParams& params);
  StartOutcome StartHandler(const Route& route, const PathParams& params);
  void LogIfServerError(std::string_view pattern);
  void Respond();
  void OnWrite(beast::error_code ec, size_t);
  void SendFileChunk();
  void Finish();
  void RespondErrorAndClose(int status, std::string_view msg);
  void LingerClose();
  void OnLingerRead(beast::error_code ec, size_t n);
  void Close();
  void CloseFile();
  bool OpenFileForResponse();
  // Streaming (SSE).
  void StartStream(const Route& route, const PathParams& params);
  void PumpStream();
  void OnStreamWrite(beast::error_code ec, size_t);
  void WatchPeer();
  void ArmKeepAlive();

  Stream stream_;
  ServerImpl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  HttpResponse res_;
  std::string head_;
  std::string_view route_pattern_;  // static storage
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool idle_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  int fd_ = -1;
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  std::vector<char> file_buf_;
  uint64_t linger_drained_ = 0;
  // Streaming state.
  std::unique_ptr<StreamBody> stream_body_;
  net::steady_timer keepalive_;
  std::string sse_out_;      // bytes ready to write next
  std::string sse_writing_;  // bytes of the write in flight
  std::array<char, 512> peer_buf_{};
  bool streaming_ = false;
  bool stream_writing_ = false;
  bool stream_done_ = false;
  bool keepalive_due_ = false;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(service::RunService& runs, service::EventBus& events, HttpOptions options)
      : options_(std::move(options)),
        ctx_{runs, events, options_, 0},
        router_(ApiRoutes()),
        ioc_(std::max(1, options_.io_threads)),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}

  ~ServerImpl() override { Stop(); }

  Result<uint16_t> Start() override;
  void Stop() override;

  const HttpOptions& options() const { return options_; }
  ApiContext& ctx() { return ctx_; }
  const Router& router() const { return router_; }
  net::thread_pool& pool() { return *pool_; }

  void Register(const std::shared_ptr<Session>& s) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_[s.get()] = s;
  }
  void Unregister(Session* s) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(s);
    if (sessions_.empty()) sessions_cv_.notify_all();
  }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  // Brackets an asynchronous handler until its reply is posted, from any thread.
  void BeginAsync() { async_in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void EndAsync() {
    if (async_in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      sessions_cv_.notify_all();
    }
  }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, Socket socket);

  // Declared before ioc_: sessions still queued in ioc_ unregister while it is destroyed.
  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  // Asynchronous handlers whose reply is not posted yet (see Session::StartHandler).
  std::atomic<int> async_in_flight_{0};

  HttpOptions options_;
  ApiContext ctx_;
  Router router_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::optional<net::thread_pool> pool_;
  std::vector<std::thread> threads_;
};

// ---- Session ----------------------------------------------------------------------------

Session::Session(Socket&& socket, ServerImpl& server)
    : stream_(std::move(socket)), server_(server), keepalive_(stream_.get_executor()) {}

Session::~Session() {
  CloseFile();
  server_.Unregister(this);
}

void Session::Start() {
  beast::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
}

void Session::OnStop() {
  stopping_ = true;
  // An idle keep-alive connection has no request in flight: close it now. A busy one closes
  // after its response (Finish sees stopping_). A stream never finishes: close it now.
  if ((idle_ || streaming_) && !closed_) Close();
}

void Session::ReadHeader() {
  if (stopping_ || server_.stopping()) {
    stopping_ = true;
    return Close();
  }
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(static_cast<uint64_t>(server_.options().max_body_bytes));
  idle_ = true;
  stream_.expires_after(std::chrono::seconds(server_.options().idle_timeout_seconds));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
}

void Session::OnHeader(beast::error_code ec, size_t) {
  idle_ = false;
  if (ec == http::error::body_limit) {
    return RespondErrorAndClose(413, "request body larger than " +
                                         std::to_string(server_.options().max_body_bytes) +
                                         " bytes (max_body_bytes)");
  }
  if (ec == http::error::header_limit) {
    return RespondErrorAndClose(431, "request headers larger than 16384 bytes");
  }
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
      ec == net::error::operation_aborted) {
    return Close();
  }
  if (ec) {
    if (IsHttpParseError(ec))
      return RespondErrorAndClose(400, "malformed HTTP request: " + ec.message());
    return Close();
  }
  const auto& msg = parser_->get();
  if (auto len = parser_->content_length();
      len && *len > static_cast<uint64_t>(server_.options().max_body_bytes)) {
    return RespondErrorAndClose(
        413, "request body of " + std::to_string(*len) + " bytes is larger than " +
                 std::to_string(server_.options().max_body_bytes) + " bytes (max_body_bytes)");
  }
  if (parser_->is_done()) return Handle();
  auto expect = msg.find(http::field::expect);
  if (expect != msg.end() && beast::iequals(expect->value(), "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(std::chrono::seconds(server_.options().transfer_timeout_seconds));
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code wec, size_t) {
                       if (wec) return self->Close();
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  stream_.expires_after(std::chrono::seconds(server_.options().transfer_timeout_seconds));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

void Session::OnBody(beast::error_code ec, size_t) {
  if (ec == http::error::body_limit) {
    return RespondErrorAndClose(413, "request body larger than " +
                                         std::to_string(server_.options().max_body_bytes) +
                                         " bytes (max_body_bytes)");
  }
  if (ec) {
    if (IsHttpParseError(ec) && ec != http::error::partial_message) {
      return RespondErrorAndClose(400, "malformed HTTP request body: " + ec.message());
    }
    return Close();
  }
  Handle();
}

void Session::Handle() {
  auto& msg = parser_->get();
  keep_alive_ = msg.keep_alive();
  req_.method = ToMethod(msg.method());
  std::string_view target = ToView(msg.target());
  size_t q = target.find('?');
  req_.path = target.substr(0, q);
  req_.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  req_.host = ToView(msg[http::field::host]);
  req_.content_type = ToView(msg[http::field::content_type]);
  req_.idempotency_key = ToView(msg["Idempotency-Key"]);
  req_.last_event_id = ToView(msg["Last-Event-ID"]);
  req_.body = msg.body();
  head_only_ = req_.method == HttpMethod::kHead;
  res_.Reset();

  Router::Match m = server_.router().Find(req_.method, req_.path);
  if (m.route == nullptr) {
    if (m.allow.empty()) {
      std::string path(req_.path.substr(0, 200));
      SetError(res_, 404, "no such endpoint: " + std::string(MethodName(req_.method)) + " " + path);
    } else {
      SetError(res_, 405,
               std::string(MethodName(req_.method)) + " is not allowed here; allowed: " + m.allow);
      res_.allow = std::move(m.allow);
    }
    return Respond();
  }
  if (m.route->stream != nullptr) return StartStream(*m.route, m.params);
  if (m.route->start != nullptr) {
    switch (StartHandler(*m.route, m.params)) {
      case StartOutcome::kDone:
        return Respond();
      case StartOutcome::kPending:
        return;  // the Responder posts the reply to the strand
      case StartOutcome::kBlocking:
        break;
    }
  }
  if (!m.route->blocking) {
    RunHandler(*m.route, m.params);
    return Respond();
  }
  // Writes wait on durable commits: run them on the blocking pool, then answer on the strand.
  net::post(server_.pool(), [self = shared_from_this(), route = m.route, params = m.params] {
    self->RunHandler(*route, params);
    net::post(self->executor(), [self] { self->Respond(); });
  });
}

StartOutcome Session::StartHandler(const Route& route, const PathParams& params) {
  // The reply may come from a store thread. It only posts to our strand, and the session
  // reads nothing more until then (its buffer holds any pipelined request), so responses
  // stay in request order. The server counts the reply as in flight until it has posted, so
  // Stop() keeps the io_context alive for it.
  server_.BeginAsync();
  Responder respond = [self = shared_from_this()](Reply reply) {
    ServerImpl& server = self->server_;
    net::post(self->executor(), [self, reply = std::move(reply)] {
      try {
        reply(self->res_);
      } catch (const std::exception& e) {
        self->res_.Reset();
        SetError(self->res_, 500, std::string("internal error: ") + e.what());
      }
      self->LogIfServerError(self->route_pattern_);
      self->Respond();
    });
    server.EndAsync();
  };
  StartOutcome outcome;
  try {
    route_pattern_ = route.pattern;
    outcome = route.start(server_.ctx(), req_, params, res_, respond);
  } catch (const std::exception& e) {
    spdlog::error("api: handler for {} {} threw: {}", MethodName(req_.method), route.pattern,
                  e.what());
    res_.Reset();
    SetError(res_, 500, std::string("internal error: ") + e.what());
    outcome = StartOutcome::kDone;
  }
  // kPending: `respond` (or a copy the handler kept) will end the async operation.
  if (outcome != StartOutcome::kPending) server_.EndAsync();
  if (outcome == StartOutcome::kDone) LogIfServerError(route.pattern);
  return outcome;
}

void Session::LogIfServerError(std::string_view pattern) {
  if (res_.status >= 500) {
    spdlog::warn("api: {} {} -> {}", MethodName(req_.method), pattern, res_.status);
  }
}

void Session::RunHandler(const Route& route, const PathParams& params) {
  try {
    route.handler(server_.ctx(), req_, params, res_);
  } catch (const std::exception& e) {
    spdlog::error("api: handler for {} {} threw: {}", MethodName(req_.method), route.pattern,
                  e.what());
    SetError(res_, 500, std::string("internal error: ") + e.what());
  }
  LogIfServerError(route.pattern);
}

bool Session::OpenFileForResponse() {
  fd_ = ::open(res_.file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    SetError(res_, err == ENOENT ? 404 : 500,
             std::string(err == ENOENT ? "log not found" : "cannot open log") + ": " +
                 std::strerror(err));
    return false;
  }
  struct stat st;
  if (fstat(fd_, &st) != 0) {
    int err = errno;
    CloseFile();
    SetError(res_, 500, std::string("cannot stat log: ") + std::strerror(err));
    return false;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  file_offset_ = std::min<uint64_t>(res_.file_offset, size);
  file_remaining_ = size - file_offset_;
  return true;
}

void Session::Respond() {
  if (closed_) return;
  bool file = !res_.file_path.empty() && OpenFileForResponse();
  if (stopping_ || server_.stopping()) keep_alive_ = false;

  uint64_t length = file ? file_remaining_ : res_.body.size();
  head_.clear();
  head_ += "HTTP/1.1 ";
  head_ += std::to_string(res_.status);
  head_ += ' ';
  head_ += ToView(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(res_.status))));
  head_ += "\r\nServer: sluice\r\nDate: ";
  head_ += HttpDate();
  if (res_.status != 204) {  // a 204 has neither (RFC 9110)
    head_ += "\r\nContent-Type: ";
    head_ += res_.content_type;
    head_ += "\r\nContent-Length: ";
    head_ += std::to_string(length);
  }
  if (!res_.allow.empty()) {
    head_ += "\r\nAllow: ";
    head_ += res_.allow;
  }
  if (res_.retry_after_seconds > 0) {
    head_ += "\r\nRetry-After: ";
    head_ += std::to_string(res_.retry_after_seconds);
  }
  if (!keep_alive_) {
    head_ += "\r\nConnection: close";
  } else if (parser_ && parser_->get().version() == 10) {
    head_ += "\r\nConnection: keep-alive";
  }
  head_ += "\r\n\r\n";

  if (head_only_ && file) CloseFile();
  std::array<net::const_buffer, 2> bufs = {
      net::buffer(head_), (head_only_ || file) ? net::const_buffer() : net::buffer(res_.body)};
  stream_.expires_after(std::chrono::seconds(server_.options().transfer_timeout_seconds));
  net::async_write(stream_, bufs, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
}

void Session::OnWrite(beast::error_code ec, size_t) {
  if (ec) return Close();
  if (fd_ >= 0) {
    if (file_remaining_ > 0) return SendFileChunk();
    CloseFile();
  }
  Finish();
}

void Session::SendFileChunk() {
  if (file_buf_.empty()) file_buf_.resize(kFileChunk);
  size_t want = static_cast<size_t>(std::min<uint64_t>(file_remaining_, file_buf_.size()));
  ssize_t n = ::pread(fd_, file_buf_.data(), want, static_cast<off_t>(file_offset_));
  if (n <= 0) {
    // The file shrank under us: the promised Content-Length cannot be met, so end the
    // connection rather than send a short response on a reused one.
    CloseFile();
    return Close();
  }
  file_offset_ += static_cast<uint64_t>(n);
  file_remaining_ -= static_cast<uint64_t>(n);
  stream_.expires_after(std::chrono::seconds(server_.options().transfer_timeout_seconds));
  net::async_write(stream_, net::buffer(file_buf_.data(), static_cast<size_t>(n)),
                   beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
}

void Session::Finish() {
  if (!keep_alive_ || stopping_) return LingerClose();
  ReadHeader();
}

void Session::RespondErrorAndClose(int status, std::string_view msg) {
  keep_alive_ = false;
  head_only_ = false;
  res_.Reset();
  SetError(res_, status, msg);
  Respond();
}

// Half-close and drain what the client is still sending (a rejected body, say) for a short
// while, so that closing does not reset the connection before the client reads the response.
void Session::LingerClose() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  linger_drained_ = 0;
  buffer_.clear();
  stream_.expires_after(std::chrono::seconds(2));
  stream_.async_read_some(buffer_.prepare(kFileChunk),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::OnLingerRead(beast::error_code ec, size_t n) {
  linger_drained_ += n;
  if (ec || linger_drained_ > kLingerDrainLimit) return Close();
  stream_.async_read_some(buffer_.prepare(kFileChunk),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  CloseFile();
  keepalive_.cancel();
  stream_body_.reset();  // ends its subscription
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

void Session::CloseFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

// ---- Streaming (SSE) --------------------------------------------------------------------

void Session::StartStream(const Route& route, const PathParams& params) {
  std::unique_ptr<StreamBody> body;
  try {
    route.stream(server_.ctx(), req_, params, res_, body);
  } catch (const std::exception& e) {
    spdlog::error("api: handler for {} {} threw: {}", MethodName(req_.method), route.pattern,
                  e.what());
    body.reset();
    res_.Reset();
    SetError(res_, 500, std::string("internal error: ") + e.what());
  }
  if (body == nullptr) {
    LogIfServerError(route.pattern);
    return Respond();
  }
  if (head_only_) {
    res_.Reset();
    res_.content_type = kEventStreamType;
    return Respond();
  }
  streaming_ = true;
  keep_alive_ = false;
  stream_body_ = std::move(body);
  sse_out_.clear();
  sse_out_ += "HTTP/1.1 200 OK\r\nServer: sluice\r\nDate: ";
  sse_out_ += HttpDate();
  sse_out_ += "\r\nContent-Type: ";
  sse_out_ += kEventStreamType;
  sse_out_ += "\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
  // The wake may come from the bus thread at any time, also after the session is gone: it
  // only posts to the strand, where the session is looked up.
  std::weak_ptr<Session> weak = shared_from_this();
  Strand strand = executor();
  stream_body_->Start([weak, strand] {
    net::post(strand, [weak] {
      if (auto s = weak.lock()) s->PumpStream();
    });
  });
  WatchPeer();
  ArmKeepAlive();
  PumpStream();
}

void Session::PumpStream() {
  if (closed_ || stream_writing_ || !stream_body_) return;
  if (!stream_done_) {
    bool more = false;
    try {
      more = stream_body_->Pull(sse_out_);
    } catch (const std::exception& e) {
      spdlog::error("api: event stream failed: {}", e.what());
    }
    if (!more) stream_done_ = true;
  }
  if (keepalive_due_ && sse_out_.empty()) sse_out_ = ": keep-alive\n\n";
  keepalive_due_ = false;
  if (sse_out_.empty()) {
    if (stream_done_) Close();
    return;
  }
  stream_writing_ = true;
  sse_writing_.swap(sse_out_);
  sse_out_.clear();
  stream_.expires_after(std::chrono::seconds(server_.options().transfer_timeout_seconds));
  net::async_write(stream_, net::buffer(sse_writing_),
                   beast::bind_front_handler(&Session::OnStreamWrite, shared_from_this()));
}

void Session::OnStreamWrite(beast::error_code ec, size_t) {
  stream_writing_ = false;
  if (ec || stopping_ || server_.stopping()) return Close();
  PumpStream();
}

// The client sends nothing more on a stream: a read completing means it went away (or broke
// the protocol), either way the stream ends.
void Session::WatchPeer() {
  stream_.socket().async_read_some(net::buffer(peer_buf_),
                                   [self = shared_from_this()](beast::error_code ec, size_t) {
                                     if (ec || self->closed_) return self->Close();
                                     self->WatchPeer();
                                   });
}

void Session::ArmKeepAlive() {
  keepalive_.expires_after(
      std::chrono::seconds(std::max(1, server_.options().sse_keepalive_seconds)));
  keepalive_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_) return;
    self->keepalive_due_ = true;
    self->PumpStream();
    self->ArmKeepAlive();
  });
}

// ---- ServerImpl -------------------------------------------------------------------------

Result<uint16_t> ServerImpl::Start() {
  if (started_) return FailedPrecondition("HTTP server already started");
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  auto fail = [&](const beast::error_code& ec) {
    return Unavailable("cannot listen on " + where + ": " + ec.message());
  };
  try {
    beast::error_code ec;
    tcp::endpoint endpoint;
    net::ip::address addr = net::ip::make_address(options_.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(addr, options_.port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                      tcp::resolver::passive, ec);
      if (ec) return fail(ec);
      if (results.empty()) return Unavailable("cannot listen on " + where + ": no address");
      endpoint = results.begin()->endpoint();
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail(ec);
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return fail(ec);
    acceptor_.bind(endpoint, ec);
    if (ec) return fail(ec);
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail(ec);
    ctx_.port = acceptor_.local_endpoint().port();

    pool_.emplace(static_cast<size_t>(std::max(1, options_.blocking_threads)));
    work_.emplace(ioc_.get_executor());
    started_ = true;
    Accept();
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      threads_.emplace_back([this] {
        NameThisThread("http-io");
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("api: I/O thread caught: {}", e.what());
          }
        }
      });
    }
  } catch (const std::exception& e) {
    Stop();
    return Unavailable("cannot listen on " + where + ": " + e.what());
  }
  return ctx_.port;
}

void ServerImpl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&ServerImpl::OnAccept, this));
}

void ServerImpl::OnAccept(beast::error_code ec, Socket socket) {
  if (!acceptor_.is_open() || stopping()) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // Typically EMFILE: back off briefly instead of spinning on the error.
    spdlog::warn("api: accept failed: {}", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](beast::error_code wec) {
      if (!wec && acceptor_.is_open() && !stopping()) Accept();
    });
    return;
  }
  auto session = std::make_shared<Session>(std::move(socket), *this);
  Register(session);
  session->Start();
  Accept();
}

void ServerImpl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true);

  // 1. Stop accepting (the acceptor lives on its strand).
  std::promise<void> closed;
  net::post(acceptor_.get_executor(), [this, &closed] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    closed.set_value();
  });
  closed.get_future().wait();

  // 2. Ask every connection to finish its request and close; idle ones close at once.
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) net::post(s->executor(), [s] { s->OnStop(); });
  live.clear();

  // 3. Wait (bounded) for in-flight requests to drain.
  {
    std::unique_lock<std::mutex> lock(sessions_mu_);
    sessions_cv_.wait_for(lock, std::chrono::seconds(options_.shutdown_grace_seconds),
                          [this] { return sessions_.empty(); });
  }
  // 4. Blocking handlers finish their writes (they are not interrupted mid-commit), and
  // asynchronous ones get their replies posted (the store finishes every queued write), so
  // nothing posts to ioc_ after it stops; then stop the I/O threads.
  if (pool_) pool_->join();
  {
    std::unique_lock<std::mutex> lock(sessions_mu_);
    sessions_cv_.wait(lock, [this] { return async_in_flight_.load() == 0; });
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace

std::unique_ptr<HttpServer> NewHttpServer(service::RunService& runs, service::EventBus& events,
                                          HttpOptions options) {
  return std::make_unique<ServerImpl>(runs, events, std::move(options));
}

}  // namespace sluice::api
