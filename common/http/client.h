#pragma once
// Asynchronous HTTP/1.1 client on libuv + llhttp, for scrapes and outbound calls.
//
// One request at a time per connection; idle keep-alive connections are pooled per host:port,
// scheme and TLS config (a plain connection never serves a TLS request, nor one TLS config's
// connection another's), and reused. With ClientRequest::tls set the connection runs a TLS
// handshake after connect (SNI and verification name: the config's server_name, else `host`),
// and the request and response travel encrypted.
//
// Each request has a deadline covering connect, the TLS handshake, send and the whole response;
// a response body over `max_body_bytes` (after gzip decoding, and also before it) fails the
// request with ResourceExhausted. gzip-encoded bodies are decoded. Errors: Unavailable (connect
// refused, reset, closed mid-body), DeadlineExceeded (timeout), InvalidArgument (malformed
// response), ResourceExhausted (body limit). TLS failures are Unavailable with the reason, e.g.
// "tls handshake with h:443: x509: certificate signed by unknown authority (mbedTLS: ...)".
// Thread affinity: loop thread only; the callback runs on the loop thread exactly once, never
// inside Do() itself.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/event/loop.h"
#include "common/tls/client_config.h"

namespace common::http {

struct ClientRequest {
  std::string method = "GET";
  std::string host;  // name or IP literal
  int port = 80;  // callers set 443 for https
  std::string target = "/";  // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t timeout_ms = 10000;
  size_t max_body_bytes = 0;  // 0 = unlimited
  // When set, the connection speaks TLS (https). Shared, immutable; see common/tls.
  std::shared_ptr<const tls::TlsClientConfig> tls;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;          // decoded
  size_t wire_body_bytes = 0;  // as received (compressed size when gzip)
  std::string_view Header(std::string_view lower_name) const;
};

using ClientCallback = std::function<void(Result<ClientResponse>)>;

class Client {
 public:
  explicit Client(event::Loop& loop);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Do(ClientRequest req, ClientCallback cb);
  // Closes pooled idle connections.
  void CloseIdle();

  struct Conn;

 private:
  friend struct Conn;
  event::Loop& loop_;
  // Idle keep-alive connections by PoolKey (a scraper holds one per target).
  std::unordered_map<std::string, std::vector<Conn*>> idle_;
  std::shared_ptr<bool> alive_;
};

}  // namespace common::http
