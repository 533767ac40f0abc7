#pragma once
// Test-only: a small HTTPS/1.1 server on 127.0.0.1 built on mbedTLS (server side), for testing
// TLS clients without a network. Each accepted connection gets its own thread; connections are
// kept alive across requests. Every GET/HEAD/POST is answered with 200 and the body
//   "hello <target>"            or, with a verified client certificate,
//   "hello <target> client=<subject DN>".
// Request bodies are read (Content-Length) and ignored.
//
// Thread affinity: Start() and the destructor on one thread; the counters are thread-safe.
// The destructor stops accepting, wakes every connection thread and joins them.

#include <memory>
#include <string>

#include "common/base/status.h"

namespace common::tls {

class TestTlsServer {
 public:
  struct Options {
    std::string cert_file;  // server certificate chain (PEM)
    std::string key_file;   // its key
    std::string client_ca_file;  // when set, clients must present a certificate signed by it
  };

  // Listens on 127.0.0.1:<ephemeral>. Errors: the files cannot be loaded, or the socket fails.
  static Result<std::unique_ptr<TestTlsServer>> Start(const Options& options);
  ~TestTlsServer();
  TestTlsServer(const TestTlsServer&) = delete;
  TestTlsServer& operator=(const TestTlsServer&) = delete;

  int port() const;
  int accepted() const;    // TCP connections accepted so far
  int handshakes() const;  // TLS handshakes completed so far
  int requests() const;    // HTTP requests answered so far

  struct Impl;

 private:
  explicit TestTlsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace common::tls
