// The HTTP client over TLS: against the in-process mbedTLS test server (keep-alive, mutual TLS)
// and `openssl s_server -www` (HTTP/1.0 ended by close_notify), with a PKI generated at test time
// by the openssl tool. Each request is bounded by its own deadline and by the wait below.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "common/http/client.h"
#include "common/http/server.h"
#include "common/tls/client_config.h"
#include "common/tls/test_pki.h"
#include "common/tls/test_server.h"
#include "tests/support/process.h"

namespace common::http {
namespace {

using tls::TestPki;
using tls::TestTlsServer;
using tls::TlsClientConfig;
using tls::TlsClientOptions;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

class ClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { loop_.Run(); });
    std::promise<void> made;
    loop_.Post([&] {
      client_ = std::make_unique<Client>(loop_);
      made.set_value();
    });
    made.get_future().wait();
  }
  void TearDown() override {
    std::promise<void> gone;
    loop_.Post([&] {
      client_.reset();
      if (plain_server_) plain_server_->Close();
      gone.set_value();
    });
    gone.get_future().wait();
    loop_.Post([this] { loop_.Stop(); });
    thread_.join();
  }

  // Runs one request on the loop and waits for its callback (bounded by the request deadline).
  Result<ClientResponse> Fetch(ClientRequest req) {
    req.timeout_ms = 5000;
    auto done = std::make_shared<std::promise<Result<ClientResponse>>>();
    auto future = done->get_future();
    loop_.Post([this, req = std::move(req), done]() mutable {
      client_->Do(std::move(req),
                  [done](Result<ClientResponse> r) { done->set_value(std::move(r)); });
    });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return Status::DeadlineExceeded("test: no callback within 10 s");
    }
    return future.get();
  }

  std::shared_ptr<const TlsClientConfig> Config(const TlsClientOptions& o) {
    auto config = TlsClientConfig::Create(o);
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    return config.ok() ? *config : nullptr;
  }

  std::unique_ptr<TestTlsServer> StartServer(const TestPki& pki, bool require_client_cert) {
    TestTlsServer::Options o;
    o.cert_file = pki.server_pem();
    o.key_file = pki.server_key();
    if (require_client_cert) o.client_ca_file = pki.ca_pem();
    auto server = TestTlsServer::Start(o);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  ClientRequest Get(int port, std::string target, std::shared_ptr<const TlsClientConfig> tls) {
    ClientRequest r;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = std::move(target);
    r.tls = std::move(tls);
    return r;
  }

  event::Loop loop_;
  std::thread thread_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Server> plain_server_;
};

TEST_F(ClientTlsTest, GetWithCaFileReusesTheConnection) {
  REQUIRE_TEST_PKI(pki);
  auto server = StartServer(*pki, false);
  ASSERT_NE(server, nullptr);
  auto tls = Config({pki->ca_pem(), "", "", "localhost", false});
  ASSERT_NE(tls, nullptr);
  for (const std::string target : {"/a", "/b?x=1", "/c"}) {
    auto r = Fetch(Get(server->port(), target, tls));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello " + target);
  }
  // One TCP connection and one handshake served all three (keep-alive pool).
  EXPECT_EQ(server->accepted(), 1);
  EXPECT_EQ(server->handshakes(), 1);
  EXPECT_EQ(server->requests(), 3);
}

TEST_F(ClientTlsTest, HandshakeOutcomes) {
  REQUIRE_TEST_PKI(pki);
  auto server = StartServer(*pki, false);
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string name;
    TlsClientOptions options;
    bool ok;
    std::vector<std::string> message_parts;
  };
  const std::string where = "tls handshake with 127.0.0.1:" + std::to_string(server->port());
  const std::vector<Case> cases = {
      {"ca_file", {pki->ca_pem(), "", "", "localhost", false}, true, {}},
      {"unknown_ca",
       {pki->other_ca_pem(), "", "", "localhost", false},
       false,
       {where, "x509: certificate signed by unknown authority", "mbedTLS: "}},
      {"system_bundle_does_not_know_the_test_ca",
       {"", "", "", "localhost", false},
       false,
       {where, "x509: certificate signed by unknown authority"}},
      {"insecure_skip_verify_unknown_ca", {pki->other_ca_pem(), "", "", "", true}, true, {}},
      {"insecure_skip_verify_no_ca", {"", "", "", "wrong.example", true}, true, {}},
      // The host 127.0.0.1 is on the certificate as an IP subjectAltName.
      {"ip_host_matches_ip_san", {pki->ca_pem(), "", "", "", false}, true, {}},
      {"ip_not_on_certificate",
       {pki->ca_pem(), "", "", "127.0.0.2", false},
       false,
       {where, "x509: certificate is not valid for IP address 127.0.0.2"}},
      {"wrong_server_name",
       {pki->ca_pem(), "", "", "wrong.example", false},
       false,
       {where, "x509: certificate is not valid for name \"wrong.example\""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto tls = Config(c.options);
    ASSERT_NE(tls, nullptr);
    auto r = Fetch(Get(server->port(), "/" + c.name, tls));
    if (c.ok) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->body, "hello /" + c.name);
      continue;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
    for (const auto& part : c.message_parts) {
      EXPECT_TRUE(Contains(r.status().message(), part)) << r.status().ToString() << " lacks "
                                                        << part;
    }
  }
}

TEST_F(ClientTlsTest, MutualTls) {
  REQUIRE_TEST_PKI(pki);
  auto server = StartServer(*pki, true);
  ASSERT_NE(server, nullptr);
  // Without a client certificate the server aborts the handshake.
  auto anonymous = Config({pki->ca_pem(), "", "", "localhost", false});
  ASSERT_NE(anonymous, nullptr);
  auto r = Fetch(Get(server->port(), "/anon", anonymous));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(Contains(r.status().message(), "client certificate")) << r.status().ToString();
  // With one, the server sees who we are.
  auto mutual = Config({pki->ca_pem(), pki->client_pem(), pki->client_key(), "localhost", false});
  ASSERT_NE(mutual, nullptr);
  r = Fetch(Get(server->port(), "/me", mutual));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello /me client=CN=lookout-test-client");
}

// The idle pool never hands a plain connection to a TLS request (or the reverse), nor one TLS
// config's connection to another config.
TEST_F(ClientTlsTest, PoolKeysSeparateSchemesAndConfigs) {
  REQUIRE_TEST_PKI(pki);
  std::promise<int> listening;
  loop_.Post([&] {
    plain_server_ = std::make_unique<Server>(loop_, Server::Options(), log::Logger("test"));
    plain_server_->Handle("/plain", {"GET"}, [](Request&, Respond respond) {
      respond(Response::Text(200, "plain"));
    });
    listening.set_value(plain_server_->Listen("127.0.0.1:0").ok() ? plain_server_->port() : 0);
  });
  int plain_port = listening.get_future().get();
  ASSERT_NE(plain_port, 0);
  auto tls = Config({pki->ca_pem(), "", "", "localhost", false});
  ASSERT_NE(tls, nullptr);

  auto r = Fetch(Get(plain_port, "/plain", nullptr));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "plain\n");
  // A pooled plaintext connection exists now; the TLS request must not use it.
  r = Fetch(Get(plain_port, "/plain", tls));
  ASSERT_FALSE(r.ok()) << "TLS request was answered in plaintext: " << r->body;
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "tls handshake with")) << r.status().ToString();
  r = Fetch(Get(plain_port, "/plain", nullptr));
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  auto server = StartServer(*pki, false);
  ASSERT_NE(server, nullptr);
  auto other = Config({pki->ca_pem(), "", "", "localhost", false});
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(Fetch(Get(server->port(), "/1", tls)).ok());
  ASSERT_TRUE(Fetch(Get(server->port(), "/2", other)).ok());
  ASSERT_TRUE(Fetch(Get(server->port(), "/3", tls)).ok());
  ASSERT_TRUE(Fetch(Get(server->port(), "/4", other)).ok());
  EXPECT_EQ(server->accepted(), 2);  // one connection per config, each reused once
  EXPECT_EQ(server->handshakes(), 2);
}

TEST_F(ClientTlsTest, OpensslServerHttp10EndedByCloseNotify) {
  REQUIRE_TEST_PKI(pki);
  for (bool mutual : {false, true}) {
    SCOPED_TRACE(mutual ? "mutual" : "server-only");
    int port = tests::FreePort();
    std::string log = pki->dir() + "/s_server." + std::to_string(port) + ".log";
    std::vector<std::string> argv = {"openssl", "s_server", "-accept",
                                     "127.0.0.1:" + std::to_string(port), "-cert",
                                     pki->server_pem(), "-key", pki->server_key(), "-www"};
    if (mutual) argv.insert(argv.end(), {"-Verify", "1", "-CAfile", pki->ca_pem()});
    tests::Child child(argv, log);
    auto read_log = [&] {
      std::ifstream in(log);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    bool ready = false;
    for (int i = 0; i < 500 && !ready; ++i) {
      ready = Contains(read_log(), "ACCEPT");
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(ready) << read_log();
    TlsClientOptions o{pki->ca_pem(), "", "", "localhost", false};
    if (mutual) {
      o.cert_file = pki->client_pem();
      o.key_file = pki->client_key();
    }
    if (mutual) {
      // OpenSSL rejects an anonymous client with a fatal alert.
      auto anonymous = Config({pki->ca_pem(), "", "", "localhost", false});
      ASSERT_NE(anonymous, nullptr);
      auto r = Fetch(Get(port, "/", anonymous));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Code::kUnavailable);
      EXPECT_TRUE(Contains(r.status().message(), "fatal alert")) << r.status().ToString();
      EXPECT_TRUE(Contains(r.status().message(), "client certificate")) << r.status().ToString();
    }
    auto tls = Config(o);
    ASSERT_NE(tls, nullptr);
    auto r = Fetch(Get(port, "/", tls));
    ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << read_log();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(Contains(r->body, "s_server")) << r->body;
  }
}

// Regression: a body delimited by the server closing the connection (HTTP/1.0 without
// Content-Length) used to fail as "closed before the response ended", because llhttp_finish
// reports the pause from on_message_complete. Plain TCP here; the TLS path is covered above.
TEST_F(ClientTlsTest, PlainBodyDelimitedByEof) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::thread peer([listener] {
    pollfd p{listener, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return;
    int fd = accept(listener, nullptr, nullptr);
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    const std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil eof";
    (void)!write(fd, resp.data(), resp.size());
    close(fd);
  });
  auto r = Fetch(Get(ntohs(a.sin_port), "/", nullptr));
  peer.join();
  close(listener);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "until eof");
}

}  // namespace
}  // namespace common::http
