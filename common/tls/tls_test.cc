// TlsClientConfig loading errors, and TlsSession driven by hand over a blocking loopback socket
// against the in-process mbedTLS test server and against `openssl s_server` (interop). The PKI is
// generated at test time with the openssl tool (common/tls/test_pki.h).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/tls/client_config.h"
#include "common/tls/test_pki.h"
#include "common/tls/test_server.h"
#include "tests/support/process.h"

namespace common::tls {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

TEST(TlsClientConfigTest, LoadErrorsNameTheFileAndMbedTlsReason) {
  REQUIRE_TEST_PKI(pki);
  const std::string garbage = pki->dir() + "/garbage.pem";
  std::ofstream(garbage) << "this is not a certificate\n";
  const std::string missing = pki->dir() + "/missing.pem";
  struct Case {
    std::string name;
    TlsClientOptions options;
    Code code;
    std::vector<std::string> message_parts;
  };
  const std::vector<Case> cases = {
      {"ok_ca_only", {pki->ca_pem(), "", "", "", false}, Code::kOk, {}},
      {"ok_mutual", {pki->ca_pem(), pki->client_pem(), pki->client_key(), "", false}, Code::kOk,
       {}},
      {"ok_insecure_without_ca", {"", "", "", "", true}, Code::kOk, {}},
      {"missing_ca", {missing, "", "", "", false}, Code::kNotFound, {"CA file", missing}},
      {"garbage_ca", {garbage, "", "", "", false}, Code::kInvalidArgument,
       {"CA file", garbage, "(-0x"}},
      {"garbage_ca_even_when_insecure", {garbage, "", "", "", true}, Code::kInvalidArgument,
       {garbage}},
      {"cert_without_key", {pki->ca_pem(), pki->client_pem(), "", "", false},
       Code::kInvalidArgument, {"together"}},
      {"key_without_cert", {pki->ca_pem(), "", pki->client_key(), "", false},
       Code::kInvalidArgument, {"together"}},
      {"missing_key", {pki->ca_pem(), pki->client_pem(), missing, "", false}, Code::kNotFound,
       {"key file", missing}},
      {"garbage_key", {pki->ca_pem(), pki->client_pem(), garbage, "", false},
       Code::kInvalidArgument, {"key file", garbage, "(-0x"}},
      {"garbage_cert", {pki->ca_pem(), garbage, pki->client_key(), "", false},
       Code::kInvalidArgument, {"certificate file", garbage}},
      {"key_does_not_match_cert", {pki->ca_pem(), pki->client_pem(), pki->server_key(), "", false},
       Code::kInvalidArgument, {"does not match", pki->server_key(), pki->client_pem()}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto config = TlsClientConfig::Create(c.options);
    EXPECT_EQ(config.status().code(), c.code) << config.status().ToString();
    for (const auto& part : c.message_parts) {
      EXPECT_TRUE(Contains(config.status().message(), part))
          << config.status().ToString() << " lacks " << part;
    }
  }
}

TEST(TlsClientConfigTest, EmptyCaFileMeansSystemBundle) {
  if (!std::filesystem::exists(std::string(kSystemCaBundle))) {
    auto config = TlsClientConfig::Create({});
    EXPECT_FALSE(config.ok());
    EXPECT_TRUE(Contains(config.status().message(), kSystemCaBundle));
    return;
  }
  auto config = TlsClientConfig::Create({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ((*config)->ServerNameFor("example.org"), "example.org");
}

TEST(TlsClientConfigTest, ServerNameOverridesHost) {
  auto config = TlsClientConfig::Create({"", "", "", "metrics.internal", true});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ((*config)->ServerNameFor("10.0.0.1"), "metrics.internal");
}

// A blocking loopback TCP connection with a read deadline, for driving a TlsSession by hand.
class Socket {
 public:
  explicit Socket(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Socket() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    return data.empty() ||
           send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Returns false on timeout or EOF.
  bool Recv(std::string& out, int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[16384];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    out.assign(buf, static_cast<size_t>(n));
    return true;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// Handshake, send `request`, and read plaintext until `done(plain)` or the peer closes.
Status Exchange(TlsSession& session, Socket& sock, const std::string& request,
                const std::function<bool(const std::string&)>& done, std::string& plain) {
  std::string chunk;
  for (int rounds = 0; !session.handshake_done(); ++rounds) {
    LOOKOUT_RETURN_IF_ERROR(session.Handshake());
    if (!sock.Send(session.TakeCiphertext())) return Status::Unavailable("send failed");
    if (session.handshake_done()) break;
    if (rounds > 20 || !sock.Recv(chunk)) {
      return Status::Unavailable("peer closed or timed out during the handshake");
    }
    session.FeedCiphertext(chunk);
  }
  LOOKOUT_RETURN_IF_ERROR(session.WritePlaintext(request));
  if (!sock.Send(session.TakeCiphertext())) return Status::Unavailable("send failed");
  while (!done(plain) && !session.peer_closed()) {
    if (!sock.Recv(chunk)) break;
    session.FeedCiphertext(chunk);
    LOOKOUT_RETURN_IF_ERROR(session.ReadPlaintext(plain));
    sock.Send(session.TakeCiphertext());
  }
  return Status::Ok();
}

class TlsSessionTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestTlsServer> StartServer(const TestPki& pki, bool require_client_cert) {
    TestTlsServer::Options o;
    o.cert_file = pki.server_pem();
    o.key_file = pki.server_key();
    if (require_client_cert) o.client_ca_file = pki.ca_pem();
    auto server = TestTlsServer::Start(o);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }
};

TEST_F(TlsSessionTest, HandshakeAndRequestOverMemoryBuffers) {
  REQUIRE_TEST_PKI(pki);
  auto server = StartServer(*pki, false);
  ASSERT_NE(server, nullptr);
  auto config = TlsClientConfig::Create({pki->ca_pem(), "", "", "", false});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto session = (*config)->NewSession("localhost");
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_FALSE((*session)->handshake_done());
  EXPECT_EQ((*session)->Describe(), "");
  // Plaintext I/O before the handshake is a programmer error, reported, not a crash.
  std::string ignored;
  EXPECT_EQ((*session)->ReadPlaintext(ignored).code(), Code::kInternal);

  Socket sock(server->port());
  ASSERT_TRUE(sock.connected());
  std::string plain;
  Status s = Exchange(
      **session, sock, "GET /memory HTTP/1.1\r\nHost: localhost\r\n\r\n",
      [](const std::string& p) { return Contains(p, "hello /memory"); }, plain);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE((*session)->handshake_done());
  EXPECT_TRUE(Contains((*session)->Describe(), "TLSv1.2")) << (*session)->Describe();
  EXPECT_TRUE(Contains(plain, "HTTP/1.1 200 OK")) << plain;
  EXPECT_TRUE(Contains(plain, "hello /memory")) << plain;
  (*session)->CloseNotify();
  EXPECT_TRUE((*session)->HasCiphertext());
}

TEST_F(TlsSessionTest, VerificationFailuresSaySo) {
  REQUIRE_TEST_PKI(pki);
  auto server = StartServer(*pki, false);
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string name;
    std::string ca_file;
    std::string server_name;
    std::vector<std::string> message_parts;
  };
  const std::vector<Case> cases = {
      {"unknown_authority", pki->other_ca_pem(), "localhost",
       {"x509: certificate signed by unknown authority", "mbedTLS: "}},
      {"wrong_name", pki->ca_pem(), "wrong.example",
       {"x509: certificate is not valid for name \"wrong.example\"", "mbedTLS: "}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto config = TlsClientConfig::Create({c.ca_file, "", "", "", false});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto session = (*config)->NewSession(c.server_name);
    ASSERT_TRUE(session.ok());
    Socket sock(server->port());
    ASSERT_TRUE(sock.connected());
    std::string plain;
    Status s = Exchange(
        **session, sock, "GET / HTTP/1.1\r\n\r\n", [](const std::string&) { return true; }, plain);
    EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
    for (const auto& part : c.message_parts) {
      EXPECT_TRUE(Contains(s.message(), part)) << s.ToString() << " lacks " << part;
    }
    // Errors are sticky.
    EXPECT_EQ((*session)->Handshake().ToString(), s.ToString());
    EXPECT_FALSE((*session)->handshake_done());
  }
}

// Interop with OpenSSL: `openssl s_server -www` answers with an HTTP/1.0 status page and closes
// with a close_notify; with -Verify it requires a client certificate.
class OpensslServer {
 public:
  OpensslServer(const TestPki& pki, bool require_client_cert) {
    port_ = tests::FreePort();
    log_ = pki.dir() + "/s_server." + std::to_string(port_) + ".log";
    std::vector<std::string> argv = {"openssl", "s_server", "-accept",
                                     "127.0.0.1:" + std::to_string(port_), "-cert",
                                     pki.server_pem(), "-key", pki.server_key(), "-www"};
    if (require_client_cert) {
      argv.insert(argv.end(), {"-Verify", "1", "-CAfile", pki.ca_pem()});
    }
    child_ = tests::Child(argv, log_);
    // s_server prints ACCEPT once it listens.
    for (int i = 0; i < 500 && !ready_; ++i) {
      std::ifstream in(log_);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      ready_ = Contains(text, "ACCEPT");
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  int port_ = 0;
  std::string log_;
  tests::Child child_;
  bool ready_ = false;
};

TEST_F(TlsSessionTest, InteropWithOpensslServer) {
  REQUIRE_TEST_PKI(pki);
  for (bool mutual : {false, true}) {
    SCOPED_TRACE(mutual ? "mutual" : "server-only");
    OpensslServer server(*pki, mutual);
    ASSERT_TRUE(server.ready()) << server.Log();
    TlsClientOptions o{pki->ca_pem(), "", "", "localhost", false};
    if (mutual) {
      o.cert_file = pki->client_pem();
      o.key_file = pki->client_key();
    }
    auto config = TlsClientConfig::Create(o);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto session = (*config)->NewSession((*config)->ServerNameFor("127.0.0.1"));
    ASSERT_TRUE(session.ok());
    Socket sock(server.port());
    ASSERT_TRUE(sock.connected());
    std::string plain;
    Status s = Exchange(
        **session, sock, "GET / HTTP/1.0\r\n\r\n", [](const std::string&) { return false; },
        plain);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << server.Log();
    EXPECT_TRUE(Contains(plain, "HTTP/1.0 200 ok")) << plain;
    EXPECT_TRUE((*session)->peer_closed()) << "s_server ends -www pages with close_notify";
    if (mutual) {
      EXPECT_TRUE(Contains(plain, "lookout-test-client")) << plain;  // s_server shows the peer
    }
  }
}

}  // namespace
}  // namespace common::tls
