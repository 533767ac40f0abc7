#include "common/tls/client_config.h"

#include <arpa/inet.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace common::tls {
namespace {

// "<mbedTLS's text> (-0x2700)".
std::string MbedError(int rc) {
  char text[200];
  mbedtls_strerror(rc, text, sizeof text);
  char code[24];
  std::snprintf(code, sizeof code, " (-0x%04x)", static_cast<unsigned>(-rc));
  return std::string(text) + code;
}

// The whole file, or NotFound/IOError naming it.
Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::FromErrno(errno, "tls: read " + std::string(what) + " " + path);
  }
  std::string data;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Status::FromErrno(err, "tls: read " + std::string(what) + " " + path);
  return data;
}

// mbedTLS tells PEM from DER by a terminating NUL that the length must include.
size_t ParseLength(const std::string& data) {
  return data.find("-----BEGIN ") != std::string::npos ? data.size() + 1 : data.size();
}

Status LoadCerts(mbedtls_x509_crt* crt, const std::string& path, std::string_view what) {
  Result<std::string> data = ReadFile(path, what);
  if (!data.ok()) return data.status();
  int rc = mbedtls_x509_crt_parse(crt, reinterpret_cast<const unsigned char*>(data->c_str()),
                                  ParseLength(*data));
  // rc > 0: some certificates of a bundle were skipped (e.g. unsupported algorithms); the rest
  // loaded, as with mbedtls_x509_crt_parse_file.
  if (rc < 0) {
    return Status::InvalidArgument("tls: " + std::string(what) + " " + path + ": " +
                                   MbedError(rc));
  }
  if (crt->raw.p == nullptr) {
    return Status::InvalidArgument("tls: " + std::string(what) + " " + path +
                                   ": no usable certificate");
  }
  return Status::Ok();
}

const char* AlertName(int alert) {
  switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake_failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad_certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT: return "unsupported_certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate_revoked";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate_expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate_unknown";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown_ca";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access_denied";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol_version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient_security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal_error";
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME: return "unrecognized_name";
    case 116: return "certificate_required";  // TLS 1.3 (RFC 8446)
    default: return "alert";
  }
}

// Go-like wording first (the reason people search for), then mbedTLS's own verify info.
std::string VerifyError(uint32_t flags, const std::string& server_name, bool ip) {
  std::string what;
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    what = "certificate signed by unknown authority";
  } else if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) && ip) {
    what = "certificate is not valid for IP address " + server_name +
           " (no matching IP subjectAltName)";
  } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    what = "certificate is not valid for name \"" + server_name + "\"";
  } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
    what = "certificate has expired";
  } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
    what = "certificate is not yet valid";
  } else if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
    what = "certificate has been revoked";
  } else if (flags & MBEDTLS_X509_BADCERT_MISSING) {
    what = "server sent no certificate";
  } else {
    what = "certificate verification failed";
  }
  char info[1024];
  int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
  std::string details;
  if (n > 0) {
    std::string_view rest(info, static_cast<size_t>(n));
    while (!rest.empty()) {
      size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      if (!line.empty()) {
        if (!details.empty()) details += "; ";
        details += line;
      }
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 1);
    }
  }
  std::string msg = "x509: " + what;
  if (!details.empty()) msg += " (mbedTLS: " + details + ")";
  return msg;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TlsClientConfig

struct TlsClientConfig::Impl {
  TlsClientOptions options;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;

  Impl() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&cert);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Status Load() {
    static constexpr char kPersonalization[] = "lookout-tls-client";
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                   reinterpret_cast<const unsigned char*>(kPersonalization),
                                   sizeof kPersonalization - 1);
    if (rc != 0) return Status::Internal("tls: seed random generator: " + MbedError(rc));

    rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return Status::Internal("tls: config defaults: " + MbedError(rc));
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);

    if (!options.ca_file.empty() || !options.insecure_skip_verify) {
      std::string path =
          options.ca_file.empty() ? std::string(kSystemCaBundle) : options.ca_file;
      LOOKOUT_RETURN_IF_ERROR(LoadCerts(&ca, path, "CA file"));
      mbedtls_ssl_conf_ca_chain(&conf, &ca, nullptr);
    }
    mbedtls_ssl_conf_authmode(&conf, options.insecure_skip_verify ? MBEDTLS_SSL_VERIFY_NONE
                                                                  : MBEDTLS_SSL_VERIFY_REQUIRED);

    if (options.cert_file.empty() != options.key_file.empty()) {
      return Status::InvalidArgument(
          "tls: cert_file and key_file must be set together (cert_file \"" + options.cert_file +
          "\", key_file \"" + options.key_file + "\")");
    }
    if (!options.cert_file.empty()) {
      LOOKOUT_RETURN_IF_ERROR(LoadCerts(&cert, options.cert_file, "certificate file"));
      Result<std::string> pem = ReadFile(options.key_file, "key file");
      if (!pem.ok()) return pem.status();
      std::string& data = *pem;
#if MBEDTLS_VERSION_MAJOR >= 3
      rc = mbedtls_pk_parse_key(&key, reinterpret_cast<const unsigned char*>(data.c_str()),
                                ParseLength(data), nullptr, 0, mbedtls_ctr_drbg_random, &drbg);
#else
      rc = mbedtls_pk_parse_key(&key, reinterpret_cast<const unsigned char*>(data.c_str()),
                                ParseLength(data), nullptr, 0);
#endif
      mbedtls_platform_zeroize(data.data(), data.size());
      if (rc != 0) {
        return Status::InvalidArgument("tls: key file " + options.key_file + ": " +
                                       MbedError(rc));
      }
#if MBEDTLS_VERSION_MAJOR >= 3
      rc = mbedtls_pk_check_pair(&cert.pk, &key, mbedtls_ctr_drbg_random, &drbg);
#else
      rc = mbedtls_pk_check_pair(&cert.pk, &key);
#endif
      if (rc != 0) {
        return Status::InvalidArgument("tls: key file " + options.key_file +
                                       " does not match certificate file " + options.cert_file +
                                       ": " + MbedError(rc));
      }
      rc = mbedtls_ssl_conf_own_cert(&conf, &cert, &key);
      if (rc != 0) return Status::Internal("tls: client certificate: " + MbedError(rc));
    }
    return Status::Ok();
  }
};

TlsClientConfig::TlsClientConfig() : impl_(std::make_unique<Impl>()) {}
TlsClientConfig::~TlsClientConfig() = default;

Result<std::shared_ptr<const TlsClientConfig>> TlsClientConfig::Create(
    const TlsClientOptions& options) {
  std::shared_ptr<TlsClientConfig> config(new TlsClientConfig());
  config->impl_->options = options;
  LOOKOUT_RETURN_IF_ERROR(config->impl_->Load());
  return std::shared_ptr<const TlsClientConfig>(std::move(config));
}

const TlsClientOptions& TlsClientConfig::options() const { return impl_->options; }

std::string TlsClientConfig::ServerNameFor(std::string_view host) const {
  return impl_->options.server_name.empty() ? std::string(host) : impl_->options.server_name;
}

// ---------------------------------------------------------------------------------------------
// TlsSession

struct TlsSession::Impl {
  std::shared_ptr<const TlsClientConfig> config;
  std::string server_name;
  std::string ip;  // server_name as 4 or 16 address bytes when it is an IP literal
  mbedtls_ssl_context ssl;
  std::string in;  // received ciphertext; bytes before in_pos are consumed
  size_t in_pos = 0;
  std::string out;  // ciphertext for the peer
  Status error;     // sticky
  bool handshake_done = false;
  bool peer_closed = false;

  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  static int Send(void* ctx, const unsigned char* buf, size_t len) {
    auto* s = static_cast<Impl*>(ctx);
    len = std::min<size_t>(len, INT_MAX);
    s->out.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }
  static int Recv(void* ctx, unsigned char* buf, size_t len) {
    auto* s = static_cast<Impl*>(ctx);
    size_t avail = s->in.size() - s->in_pos;
    if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = std::min({len, avail, static_cast<size_t>(INT_MAX)});
    std::memcpy(buf, s->in.data() + s->in_pos, n);
    s->in_pos += n;
    if (s->in_pos == s->in.size()) {
      s->in.clear();
      s->in_pos = 0;
    }
    return static_cast<int>(n);
  }

  // mbedTLS 2.28 matches the server name only against DNS names (subjectAltName dNSName, else
  // CN). For an IP literal we set no hostname and check the leaf's iPAddress subjectAltNames
  // here instead (RFC 5280 4.2.1.6; what Go's crypto/tls does). This is name matching only; the
  // chain and signatures are still verified by mbedTLS.
  static int VerifyIp(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    if (depth != 0) return 0;
    const auto* s = static_cast<const Impl*>(ctx);
    for (const mbedtls_x509_sequence* san = &crt->subject_alt_names; san != nullptr;
         san = san->next) {
      if (san->buf.p != nullptr &&
          san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&  // iPAddress [7]
          san->buf.len == s->ip.size() &&
          std::memcmp(san->buf.p, s->ip.data(), s->ip.size()) == 0) {
        return 0;
      }
    }
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
  }

  Status Fail(Status s) {
    error = std::move(s);
    return error;
  }

  Status HandshakeError(int rc) {
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      return Status::Unavailable(
          VerifyError(mbedtls_ssl_get_verify_result(&ssl), server_name, !ip.empty()));
    }
#if MBEDTLS_VERSION_MAJOR < 3
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl.in_msg != nullptr) {
      int alert = ssl.in_msg[1];
      return Status::Unavailable("peer sent fatal alert " + std::to_string(alert) + " (" +
                                 AlertName(alert) + ")" + ClientCertHint());
    }
#endif
    return Status::Unavailable("handshake: " + MbedError(rc) + ClientCertHint());
  }

  // Why a server might have given up on us: it asked for a client certificate (TLS 1.2
  // CertificateRequest) and the config has none.
  std::string ClientCertHint() const {
#if MBEDTLS_VERSION_MAJOR < 3
    if (ssl.client_auth && config->options().cert_file.empty()) {
      return "; the server requested a client certificate and none is configured "
             "(cert_file/key_file)";
    }
#endif
    return "";
  }
};

TlsSession::TlsSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsSession::~TlsSession() = default;

Result<std::unique_ptr<TlsSession>> TlsClientConfig::NewSession(
    std::string_view server_name) const {
  auto impl = std::make_unique<TlsSession::Impl>();
  impl->config = shared_from_this();
  impl->server_name = std::string(server_name);
  int rc = mbedtls_ssl_setup(&impl->ssl, &impl_->conf);
  if (rc != 0) return Status::Internal("tls: session setup: " + MbedError(rc));
  unsigned char addr[16];
  if (inet_pton(AF_INET, impl->server_name.c_str(), addr) == 1) {
    impl->ip.assign(reinterpret_cast<char*>(addr), 4);
  } else if (inet_pton(AF_INET6, impl->server_name.c_str(), addr) == 1) {
    impl->ip.assign(reinterpret_cast<char*>(addr), 16);
  }
  if (!impl->ip.empty()) {
    // No SNI for IP literals (RFC 6066 section 3); names are checked by VerifyIp.
    mbedtls_ssl_set_verify(&impl->ssl, &TlsSession::Impl::VerifyIp, impl.get());
  } else if (!impl->server_name.empty()) {
    rc = mbedtls_ssl_set_hostname(&impl->ssl, impl->server_name.c_str());
    if (rc != 0) {
      return Status::InvalidArgument("tls: server name \"" + impl->server_name +
                                     "\": " + MbedError(rc));
    }
  }
  // The BIO context is the Impl, whose address is stable (it lives on the heap).
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), &TlsSession::Impl::Send, &TlsSession::Impl::Recv,
                      nullptr);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(impl)));
}

void TlsSession::FeedCiphertext(std::string_view data) {
  Impl& s = *impl_;
  if (s.in_pos > 0 && s.in_pos >= s.in.size() / 2) {
    s.in.erase(0, s.in_pos);
    s.in_pos = 0;
  }
  s.in.append(data);
}

std::string TlsSession::TakeCiphertext() {
  std::string out;
  out.swap(impl_->out);
  return out;
}

bool TlsSession::HasCiphertext() const { return !impl_->out.empty(); }

Status TlsSession::Handshake() {
  Impl& s = *impl_;
  if (!s.error.ok()) return s.error;
  if (s.handshake_done) return Status::Ok();
  int rc = mbedtls_ssl_handshake(&s.ssl);
  if (rc == 0) {
    s.handshake_done = true;
    return Status::Ok();
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::Ok();
  return s.Fail(s.HandshakeError(rc));
}

bool TlsSession::handshake_done() const { return impl_->handshake_done; }
bool TlsSession::peer_closed() const { return impl_->peer_closed; }

Status TlsSession::WritePlaintext(std::string_view plaintext) {
  Impl& s = *impl_;
  if (!s.error.ok()) return s.error;
  if (!s.handshake_done) return Status::Internal("tls: write before the handshake finished");
  const auto* p = reinterpret_cast<const unsigned char*>(plaintext.data());
  size_t off = 0;
  while (off < plaintext.size()) {
    int rc = mbedtls_ssl_write(&s.ssl, p + off, plaintext.size() - off);
    if (rc > 0) {
      off += static_cast<size_t>(rc);
    } else if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
      // Only renegotiation (disabled) would make a memory-backed write wait.
      return s.Fail(Status::Internal("tls: write would block: " + MbedError(rc)));
    } else {
      return s.Fail(Status::Unavailable("write: " + MbedError(rc)));
    }
  }
  return Status::Ok();
}

Status TlsSession::ReadPlaintext(std::string& out) {
  Impl& s = *impl_;
  if (!s.error.ok()) return s.error;
  if (!s.handshake_done) return Status::Internal("tls: read before the handshake finished");
  if (s.peer_closed) return Status::Ok();
  unsigned char buf[16384];
  for (;;) {
    int rc = mbedtls_ssl_read(&s.ssl, buf, sizeof buf);
    if (rc > 0) {
      out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(rc));
      continue;
    }
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      s.peer_closed = true;
      return Status::Ok();
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::Ok();
    return s.Fail(Status::Unavailable("read: " + MbedError(rc)));
  }
}

Status TlsSession::ClosedDuringHandshake() const {
  return Status::Unavailable("connection closed by the peer during the handshake" +
                             impl_->ClientCertHint());
}

void TlsSession::CloseNotify() {
  Impl& s = *impl_;
  if (s.handshake_done && s.error.ok()) (void)mbedtls_ssl_close_notify(&s.ssl);
}

std::string TlsSession::Describe() const {
  if (!impl_->handshake_done) return "";
  const char* version = mbedtls_ssl_get_version(&impl_->ssl);
  const char* suite = mbedtls_ssl_get_ciphersuite(&impl_->ssl);
  return std::string(version ? version : "?") + " " + (suite ? suite : "?");
}

}  // namespace common::tls
