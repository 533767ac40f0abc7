#pragma once
// TLS for outbound connections, on mbedTLS (Debian's libmbedtls 2.28). mbedTLS headers stay in
// common/tls/*.cc; this header exposes none of them.
//
// TlsClientConfig: the immutable, shareable part (trusted CAs, optional client certificate and
// key, verification mode, random generator). Build one per distinct set of options and share it
// among connections through std::shared_ptr; it owns the mbedTLS config, certificates, key,
// entropy source and CTR-DRBG (RAII, freed on destruction).
//
// TlsSession: one TLS connection's state, driven over memory rather than a socket. The owner of
// the socket feeds it the bytes it receives (FeedCiphertext), sends whatever TakeCiphertext
// returns, and exchanges plaintext with WritePlaintext/ReadPlaintext. Nothing in here blocks or
// touches a file descriptor, so it fits the libuv loop (common/http/client.cc) as well as a
// blocking socket.
//
// Names: a DNS server name is sent as SNI and matched by mbedTLS against the certificate's DNS
// subjectAltNames (or its CN when it has none); an IP-literal server name is matched against the
// certificate's iPAddress subjectAltNames only, and no SNI is sent (as Go's crypto/tls does).
// Protocol: TLS 1.2 (mbedTLS 2.28 has no production TLS 1.3).
//
// Thread affinity: a TlsClientConfig is immutable after Create() and thread-safe (mbedTLS is
// built with MBEDTLS_THREADING_C, so the shared DRBG is locked). A TlsSession belongs to one
// thread at a time (in practice: its connection's loop thread).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace common::tls {

// Where Create() reads the trusted CAs when `ca_file` is empty (Debian's ca-certificates).
inline constexpr std::string_view kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

struct TlsClientOptions {
  std::string ca_file;    // PEM (or DER) CA certificates; empty = kSystemCaBundle
  std::string cert_file;  // client certificate chain for mutual TLS (PEM/DER); needs key_file
  std::string key_file;   // unencrypted private key for cert_file (PEM/DER); needs cert_file
  std::string server_name;  // name to verify and send as SNI; empty = the connection's host
  // Accept any server certificate (no chain, name or date check). The handshake still runs and
  // the traffic is still encrypted, but it is open to interception: for tests and labs only.
  bool insecure_skip_verify = false;
};

class TlsSession;

class TlsClientConfig : public std::enable_shared_from_this<TlsClientConfig> {
 public:
  // Loads the files and builds the mbedTLS configuration.
  // Errors (each message names the file and includes mbedTLS's own text from mbedtls_strerror):
  //   NotFound / IOError   a file cannot be read (errno text);
  //   InvalidArgument      a file holds no usable certificate or key, only one of cert_file and
  //                        key_file is set, or the key does not match the certificate;
  //   Internal             the random generator cannot be seeded or mbedTLS rejects the defaults.
  // With insecure_skip_verify and an empty ca_file, no CA bundle is read at all.
  static Result<std::shared_ptr<const TlsClientConfig>> Create(const TlsClientOptions& options);

  ~TlsClientConfig();
  TlsClientConfig(const TlsClientConfig&) = delete;
  TlsClientConfig& operator=(const TlsClientConfig&) = delete;

  const TlsClientOptions& options() const;
  // The name a connection to `host` verifies and sends as SNI: options().server_name, else host.
  std::string ServerNameFor(std::string_view host) const;

  // A new client session that verifies the peer against `server_name` (see ServerNameFor).
  // The session keeps this config alive. Errors: Internal (out of memory in mbedTLS setup),
  // InvalidArgument (server_name too long).
  Result<std::unique_ptr<TlsSession>> NewSession(std::string_view server_name) const;

  struct Impl;

 private:
  TlsClientConfig();
  std::unique_ptr<Impl> impl_;
};

// One client-side TLS connection over memory buffers. Typical use on a connected socket:
//   1. Handshake(); send TakeCiphertext(); repeat on every received chunk (FeedCiphertext first)
//      until handshake_done().
//   2. WritePlaintext(request); send TakeCiphertext().
//   3. On each received chunk: FeedCiphertext(chunk); ReadPlaintext(out); send TakeCiphertext()
//      if not empty; stop reading when peer_closed().
// Errors are sticky: after a failure every later call returns the same Status. Codes:
//   Unavailable   handshake or record failure, including certificate verification, whose message
//                 reads like "x509: certificate signed by unknown authority (mbedTLS: ...)";
//   Internal      misuse (WritePlaintext before the handshake finished).
class TlsSession {
 public:
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Appends bytes received from the peer.
  void FeedCiphertext(std::string_view data);
  // Bytes produced for the peer since the last call (handshake messages, records, alerts).
  std::string TakeCiphertext();
  bool HasCiphertext() const;

  // Advances the handshake with the input fed so far. OK while it is in progress (more input is
  // needed) and once it is done; check handshake_done().
  Status Handshake();
  bool handshake_done() const;

  // Encrypts all of `plaintext` into the outgoing buffer. Requires handshake_done().
  Status WritePlaintext(std::string_view plaintext);
  // Decrypts every complete record fed so far and appends the plaintext to `out`. OK also when
  // there is nothing (yet); a close_notify from the peer sets peer_closed().
  Status ReadPlaintext(std::string& out);
  bool peer_closed() const;

  // The error to report when the transport closed before handshake_done(): Unavailable, saying
  // so, and naming a missing client certificate when the server asked for one and the config
  // has none (servers often just hang up then).
  Status ClosedDuringHandshake() const;

  // Queues a close_notify alert for the peer (send TakeCiphertext() afterwards).
  void CloseNotify();

  // The negotiated protocol and cipher suite, e.g. "TLSv1.2 TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384";
  // empty before the handshake is done.
  std::string Describe() const;

  struct Impl;

 private:
  friend class TlsClientConfig;
  explicit TlsSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace common::tls
