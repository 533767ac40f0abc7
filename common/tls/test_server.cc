#include "common/tls/test_server.h"

#include <arpa/inet.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace common::tls {
namespace {

std::string MbedError(int rc) {
  char text[200];
  mbedtls_strerror(rc, text, sizeof text);
  return text;
}

// How long a connection thread waits for the next bytes before giving up.
constexpr int kIdleMs = 10000;

}  // namespace

struct TestTlsServer::Impl {
  Options options;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cert;
  mbedtls_x509_crt client_ca;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
  int listen_fd = -1;
  int stop_pipe[2] = {-1, -1};
  int port = 0;
  std::atomic<int> accepted{0}, handshakes{0}, requests{0};
  std::thread acceptor;
  std::mutex mu;
  std::vector<std::thread> workers;

  Impl() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&cert);
    mbedtls_x509_crt_init(&client_ca);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
  }
  ~Impl() {
    if (stop_pipe[1] >= 0) {
      char c = 'x';
      (void)!write(stop_pipe[1], &c, 1);
    }
    if (acceptor.joinable()) acceptor.join();
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& t : workers) t.join();
    }
    if (listen_fd >= 0) close(listen_fd);
    for (int fd : stop_pipe) {
      if (fd >= 0) close(fd);
    }
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&client_ca);
    mbedtls_x509_crt_free(&cert);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }

  Status Setup() {
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
    if (rc != 0) return Status::Internal("seed: " + MbedError(rc));
    rc = mbedtls_x509_crt_parse_file(&cert, options.cert_file.c_str());
    if (rc != 0) return Status::InvalidArgument(options.cert_file + ": " + MbedError(rc));
#if MBEDTLS_VERSION_MAJOR >= 3
    rc = mbedtls_pk_parse_keyfile(&key, options.key_file.c_str(), nullptr, mbedtls_ctr_drbg_random,
                                  &drbg);
#else
    rc = mbedtls_pk_parse_keyfile(&key, options.key_file.c_str(), nullptr);
#endif
    if (rc != 0) return Status::InvalidArgument(options.key_file + ": " + MbedError(rc));
    rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return Status::Internal("config: " + MbedError(rc));
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    rc = mbedtls_ssl_conf_own_cert(&conf, &cert, &key);
    if (rc != 0) return Status::Internal("own cert: " + MbedError(rc));
    if (!options.client_ca_file.empty()) {
      rc = mbedtls_x509_crt_parse_file(&client_ca, options.client_ca_file.c_str());
      if (rc != 0) return Status::InvalidArgument(options.client_ca_file + ": " + MbedError(rc));
      mbedtls_ssl_conf_ca_chain(&conf, &client_ca, nullptr);
      mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
      mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
    }

    if (pipe(stop_pipe) != 0) return Status::FromErrno(errno, "pipe");
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return Status::FromErrno(errno, "socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd, 16) != 0 ||
        getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return Status::FromErrno(errno, "listen on 127.0.0.1");
    }
    port = ntohs(a.sin_port);
    acceptor = std::thread([this] { AcceptLoop(); });
    return Status::Ok();
  }

  // Waits until `fd` is readable; false when stopping or after kIdleMs.
  bool WaitReadable(int fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
    int n = poll(fds, 2, kIdleMs);
    return n > 0 && !(fds[1].revents & POLLIN) && (fds[0].revents & (POLLIN | POLLHUP | POLLERR));
  }

  void AcceptLoop() {
    for (;;) {
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) return;
      if (!(fds[0].revents & POLLIN)) continue;
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted;
      std::lock_guard<std::mutex> lock(mu);
      workers.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  struct Bio {
    Impl* server;
    int fd;
  };
  static int Send(void* ctx, const unsigned char* buf, size_t len) {
    auto* b = static_cast<Bio*>(ctx);
    ssize_t n = send(b->fd, buf, len, MSG_NOSIGNAL);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(n);
  }
  static int Recv(void* ctx, unsigned char* buf, size_t len) {
    auto* b = static_cast<Bio*>(ctx);
    if (!b->server->WaitReadable(b->fd)) return MBEDTLS_ERR_SSL_TIMEOUT;
    ssize_t n = read(b->fd, buf, len);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(n);  // 0 = EOF
  }

  void Serve(int fd) {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    Bio bio{this, fd};
    if (mbedtls_ssl_setup(&ssl, &conf) == 0) {
      mbedtls_ssl_set_bio(&ssl, &bio, &Impl::Send, &Impl::Recv, nullptr);
      if (mbedtls_ssl_handshake(&ssl) == 0) {
        ++handshakes;
        ServeRequests(&ssl);
      }
    }
    mbedtls_ssl_free(&ssl);
  }

  void ServeRequests(mbedtls_ssl_context* ssl) {
    std::string client;
    if (const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(ssl)) {
      char dn[256];
      if (mbedtls_x509_dn_gets(dn, sizeof dn, &peer->subject) > 0) client = dn;
    }
    std::string in;
    unsigned char buf[4096];
    for (;;) {
      size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        int n = mbedtls_ssl_read(ssl, buf, sizeof buf);
        if (n <= 0) return;  // EOF, close_notify, timeout or error
        in.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
        continue;
      }
      std::string head = in.substr(0, end);
      size_t body_len = 0;
      for (size_t p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2)) {
        if (strncasecmp(head.c_str() + p + 2, "content-length:", 15) == 0) {
          body_len = std::strtoul(head.c_str() + p + 17, nullptr, 10);
        }
      }
      while (in.size() < end + 4 + body_len) {
        int n = mbedtls_ssl_read(ssl, buf, sizeof buf);
        if (n <= 0) return;
        in.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
      }
      in.erase(0, end + 4 + body_len);
      size_t sp1 = head.find(' ');
      size_t sp2 = head.find(' ', sp1 + 1);
      std::string target =
          sp1 == std::string::npos ? "?" : head.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string body = "hello " + target;
      if (!client.empty()) body += " client=" + client;
      ++requests;  // before the response, so a client that has it sees the count
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
      size_t off = 0;
      while (off < resp.size()) {
        int n = mbedtls_ssl_write(ssl, reinterpret_cast<const unsigned char*>(resp.data()) + off,
                                  resp.size() - off);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
      }
    }
  }
};

TestTlsServer::TestTlsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestTlsServer::~TestTlsServer() = default;

Result<std::unique_ptr<TestTlsServer>> TestTlsServer::Start(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LOOKOUT_RETURN_IF_ERROR(impl->Setup());
  return std::unique_ptr<TestTlsServer>(new TestTlsServer(std::move(impl)));
}

int TestTlsServer::port() const { return impl_->port; }
int TestTlsServer::accepted() const { return impl_->accepted.load(); }
int TestTlsServer::handshakes() const { return impl_->handshakes.load(); }
int TestTlsServer::requests() const { return impl_->requests.load(); }

}  // namespace common::tls
