#pragma once
// HTTP/1.1 server on libuv + llhttp.
//
// Keep-alive (pipelined requests are answered in order), gzip of responses when the client sends
// Accept-Encoding: gzip, limits on header and body bytes (431 / 413), an idle timeout per
// connection, and 400 (malformed request), 404 (no route) and 405 (route without that method,
// with an Allow header) answered with a one-line reason in the body.
// Thread affinity: loop thread only. Handlers run on the loop thread and must call their
// Respond exactly once, on the loop thread (after QueueWork, say); a Respond called after the
// client went away is a no-op.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/event/loop.h"
#include "common/log/log.h"

namespace common::http {

struct Request {
  std::string method;
  std::string target;  // path and query as sent
  std::string path;    // percent-decoding is left to handlers
  std::string query;   // after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address "ip:port"

  // First header of that (lower-case) name, or "".
  std::string_view Header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Text(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
    return r;
  }
};

using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&, Respond)>;

class Server {
 public:
  struct Options {
    size_t max_header_bytes = 64 << 10;
    size_t max_body_bytes = 32 << 20;
    uint64_t idle_timeout_ms = 120000;
    size_t gzip_min_bytes = 1024;  // smaller bodies are sent as they are
  };
  Server(event::Loop& loop, Options opts, log::Logger log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes an exact path to a handler for the given methods (e.g. {"GET", "HEAD"}).
  void Handle(std::string path, std::vector<std::string> methods, Handler h);
  // Routes every path starting with `prefix` (exact routes win).
  void HandlePrefix(std::string prefix, std::vector<std::string> methods, Handler h);
  // Listens on "host:port", ":port" (all interfaces) or "[v6]:port". Port 0 picks a free one.
  Status Listen(std::string_view address);
  // The bound port (after Listen).
  int port() const { return port_; }
  // Stops accepting and closes every connection.
  void Close();

  struct Conn;

 private:
  struct Route {
    bool prefix = false;
    std::string path;
    std::vector<std::string> methods;
    Handler handler;
  };
  friend struct Conn;
  void Dispatch(const std::shared_ptr<Conn>& c);

  event::Loop& loop_;
  Options opts_;
  log::Logger log_;
  std::vector<Route> routes_;
  std::vector<void*> listeners_;
  std::vector<std::shared_ptr<Conn>> conns_;
  int port_ = 0;
};

// Splits "host:port" / ":port" / "[v6]:port"; host "" means all interfaces.
Result<std::pair<std::string, int>> SplitHostPort(std::string_view address);

}  // namespace common::http
