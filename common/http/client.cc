#include "common/http/client.h"

#include <llhttp.h>
#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/zlib/gzip.h"

namespace common::http {

std::string_view ClientResponse::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

namespace {

// One uv_write with the bytes it sends; freed in the write callback.
struct WriteReq {
  uv_write_t w;
  std::string data;
  Client::Conn* conn;
};

// The idle pool's key: a connection serves only requests with the same host, port, scheme and
// TLS config. The config's address identifies it; it cannot be reused by another config while a
// pooled connection exists, because the connection's last request holds a reference to it.
std::string PoolKey(const ClientRequest& req) {
  std::string key = req.host + ":" + std::to_string(req.port);
  if (req.tls) key += "|tls@" + std::to_string(reinterpret_cast<uintptr_t>(req.tls.get()));
  return key;
}

}  // namespace

struct Client::Conn {
  Client* client;
  std::shared_ptr<bool> client_alive;
  std::string key;       // host:port, for messages
  std::string pool_key;  // PoolKey()
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect_req;
  uv_getaddrinfo_t dns_req;
  llhttp_t parser;
  llhttp_settings_t settings;
  int open_handles = 0;
  bool connected = false;
  bool closing = false;
  bool busy = false;
  bool keep_alive = false;
  bool done = false;
  bool gzip = false;
  bool over_limit = false;
  ClientRequest req;
  ClientCallback cb;
  ClientResponse resp;
  std::string field, value;
  bool in_value = false;
  std::unique_ptr<tls::TlsSession> tls;  // set after connect when req.tls is
  char readbuf[65536];

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

  void FlushHeader() {
    if (!field.empty()) {
      std::transform(field.begin(), field.end(), field.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      resp.headers.emplace_back(std::move(field), std::move(value));
    }
    field.clear();
    value.clear();
    in_value = false;
  }

  void Finish(Result<ClientResponse> r) {
    if (done) return;
    done = true;
    uv_timer_stop(&timer);
    ClientCallback callback = std::move(cb);
    cb = nullptr;
    bool reuse = r.ok() && keep_alive && !closing && !(tls && tls->peer_closed());
    if (reuse) {
      busy = false;
      if (*client_alive) {
        client->idle_[pool_key].push_back(this);
        // While idle, any byte or EOF from the server means the connection is unusable.
        StartReading([](uv_stream_t* s, ssize_t, const uv_buf_t*) {
          auto* c = static_cast<Conn*>(s->data);
          if (!c->busy) c->Close();
        });
      } else {
        Close();
      }
    } else {
      Close();
    }
    if (callback) callback(std::move(r));
  }

  void Fail(Status s) { Finish(Result<ClientResponse>(std::move(s))); }

  void Close() {
    if (closing) return;
    closing = true;
    if (*client_alive) {
      if (auto it = client->idle_.find(pool_key); it != client->idle_.end()) {
        auto& v = it->second;
        v.erase(std::remove(v.begin(), v.end(), this), v.end());
        if (v.empty()) client->idle_.erase(it);
      }
    }
    auto on_close = [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      if (--c->open_handles == 0) delete c;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_close);
  }

  void Start() {
    busy = true;
    done = false;
    over_limit = false;
    if (connected) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
    resp = ClientResponse();
    field.clear();
    value.clear();
    in_value = false;
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = this;
    uv_timer_start(&timer, [](uv_timer_t* t) {
      auto* c = static_cast<Conn*>(t->data);
      c->Fail(Status::DeadlineExceeded("request to " + c->key + " timed out after " +
                                       std::to_string(c->req.timeout_ms) + "ms"));
    }, req.timeout_ms, 0);
    if (connected) {
      Send();
      return;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(req.host.c_str(), req.port, reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
        uv_ip6_addr(req.host.c_str(), req.port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
      Connect(reinterpret_cast<sockaddr*>(&ss));
      return;
    }
    dns_req.data = this;
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int r = uv_getaddrinfo(uv_handle_get_loop(reinterpret_cast<uv_handle_t*>(&tcp)), &dns_req,
                           [](uv_getaddrinfo_t* q, int status, struct addrinfo* res) {
                             auto* c = static_cast<Conn*>(q->data);
                             if (c->done || c->closing) {
                               uv_freeaddrinfo(res);
                               return;
                             }
                             if (status != 0 || res == nullptr) {
                               c->Fail(Status::Unavailable("lookup " + c->req.host + ": " +
                                                           uv_strerror(status)));
                               uv_freeaddrinfo(res);
                               return;
                             }
                             struct sockaddr_storage a;
                             std::memcpy(&a, res->ai_addr, res->ai_addrlen);
                             uv_freeaddrinfo(res);
                             if (a.ss_family == AF_INET) {
                               reinterpret_cast<sockaddr_in*>(&a)->sin_port = htons(static_cast<uint16_t>(c->req.port));
                             } else {
                               reinterpret_cast<sockaddr_in6*>(&a)->sin6_port = htons(static_cast<uint16_t>(c->req.port));
                             }
                             c->Connect(reinterpret_cast<sockaddr*>(&a));
                           },
                           req.host.c_str(), nullptr, &hints);
    if (r != 0) Fail(Status::Unavailable("lookup " + req.host + ": " + uv_strerror(r)));
  }

  void Connect(const sockaddr* addr) {
    connect_req.data = this;
    int r = uv_tcp_connect(&connect_req, &tcp, addr, [](uv_connect_t* cr, int status) {
      auto* c = static_cast<Conn*>(cr->data);
      if (c->closing) return;
      if (c->done) {
        c->Close();
        return;
      }
      if (status != 0) {
        c->Fail(Status::Unavailable("connect " + c->key + ": " + uv_strerror(status)));
        return;
      }
      c->connected = true;
      uv_tcp_nodelay(&c->tcp, 1);
      if (c->req.tls) {
        c->StartTls();
      } else {
        c->Send();
      }
    });
    if (r != 0) Fail(Status::Unavailable("connect " + key + ": " + uv_strerror(r)));
  }

  // (Re)starts reading into readbuf with `cb`; replaces any previous read callback.
  void StartReading(uv_read_cb cb) {
    uv_read_stop(stream());
    uv_read_start(
        stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* c = static_cast<Conn*>(h->data);
          *b = uv_buf_init(c->readbuf, sizeof c->readbuf);
        },
        cb);
  }

  // Queues `data` on the socket. Returns false (after failing the request) when libuv refuses.
  bool Write(std::string data) {
    auto* w = new WriteReq{uv_write_t{}, std::move(data), this};
    w->w.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int r = uv_write(&w->w, stream(), &buf, 1, [](uv_write_t* req, int status) {
      // Runs before the handle's close callback (libuv cancels pending writes first), so the
      // Conn is still alive here.
      auto* wr = static_cast<WriteReq*>(req->data);
      Conn* c = wr->conn;
      delete wr;
      if (status != 0 && !c->closing && !c->done) {
        c->Fail(Status::Unavailable("send to " + c->key + ": " + uv_strerror(status)));
      }
    });
    if (r != 0) {
      delete w;
      Fail(Status::Unavailable("send to " + key + ": " + uv_strerror(r)));
      return false;
    }
    return true;
  }

  // Sends whatever the TLS session produced (handshake messages, records, alerts).
  bool FlushTls() { return !tls->HasCiphertext() || Write(tls->TakeCiphertext()); }

  void StartTls() {
    auto session = req.tls->NewSession(req.tls->ServerNameFor(req.host));
    if (!session.ok()) {
      const Status& s = session.status();
      Fail(Status(s.code(), "tls setup for " + key + ": " + std::string(s.message())));
      return;
    }
    tls = std::move(session).value();
    StartReading(&Conn::OnRead);
    DriveHandshake();
  }

  void DriveHandshake() {
    Status s = tls->Handshake();
    if (!FlushTls()) return;
    if (!s.ok()) {
      Fail(Status(s.code(), "tls handshake with " + key + ": " + std::string(s.message())));
      return;
    }
    if (!tls->handshake_done()) return;
    Send();
    // Records that arrived together with the last handshake message.
    if (!done && !closing) ReadTls();
  }

  void Send() {
    std::string out;
    out += req.method + " " + req.target + " HTTP/1.1\r\nHost: " + req.host;
    if (req.port != (req.tls ? 443 : 80)) out += ":" + std::to_string(req.port);
    out += "\r\n";
    bool has_ae = false;
    for (const auto& [k, v] : req.headers) {
      out += k + ": " + v + "\r\n";
      if (strcasecmp(k.c_str(), "accept-encoding") == 0) has_ae = true;
    }
    if (!has_ae) out += "Accept-Encoding: gzip\r\n";
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
      out += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
    }
    out += "\r\n";
    out += req.body;
    if (tls) {
      Status s = tls->WritePlaintext(out);
      if (!s.ok()) {
        Fail(Status(s.code(), "tls send to " + key + ": " + std::string(s.message())));
        return;
      }
      out = tls->TakeCiphertext();
    }
    if (!Write(std::move(out))) return;
    StartReading(&Conn::OnRead);
  }

  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<Conn*>(s->data);
    if (c->done || c->closing) return;
    if (n < 0) {
      c->OnEof(n == UV_EOF);
      return;
    }
    if (!c->tls) {
      c->Parse(b->base, static_cast<size_t>(n));
      return;
    }
    c->tls->FeedCiphertext(std::string_view(b->base, static_cast<size_t>(n)));
    if (!c->tls->handshake_done()) {
      c->DriveHandshake();
    } else {
      c->ReadTls();
    }
  }

  // Decrypts what has arrived and parses the plaintext; a close_notify counts as EOF.
  void ReadTls() {
    std::string plain;
    Status s = tls->ReadPlaintext(plain);
    if (!FlushTls()) return;
    if (!s.ok()) {
      Fail(Status(s.code(), "tls read from " + key + ": " + std::string(s.message())));
      return;
    }
    if (!plain.empty()) {
      Parse(plain.data(), plain.size());
      if (done || closing) return;
    }
    if (tls->peer_closed()) OnEof(true);
  }

  // The peer closed (clean: TCP EOF or TLS close_notify; else a read error such as a reset)
  // while a request is in flight.
  void OnEof(bool clean) {
    if (tls && !tls->handshake_done()) {
      Status s = tls->ClosedDuringHandshake();
      Fail(Status(s.code(), "tls handshake with " + key + ": " + std::string(s.message())));
      return;
    }
    if (clean && llhttp_message_needs_eof(&parser)) {
      // llhttp_finish runs on_message_complete, which pauses the parser: HPE_PAUSED is success.
      llhttp_errno_t err = llhttp_finish(&parser);
      if (err == HPE_OK || err == HPE_PAUSED) {
        keep_alive = false;
        Complete();
        return;
      }
    }
    Fail(Status::Unavailable("connection to " + key + " closed before the response ended"));
  }

  void Parse(const char* data, size_t n) {
    llhttp_errno_t err = llhttp_execute(&parser, data, n);
    if (err == HPE_PAUSED) {
      Complete();
    } else if (err != HPE_OK && !done) {
      if (over_limit) {
        Fail(Status::ResourceExhausted("response body from " + key + " exceeds " +
                                       std::to_string(req.max_body_bytes) + " bytes"));
      } else {
        Fail(Status::InvalidArgument(std::string("malformed HTTP response from ") + key + ": " +
                                     llhttp_get_error_reason(&parser)));
      }
    }
  }

  void Complete() {
    if (gzip) {
      std::string decoded;
      size_t limit = req.max_body_bytes ? req.max_body_bytes : (size_t{1} << 34);
      Status s = zlib::Gunzip(resp.body, decoded, limit);
      if (!s.ok()) {
        keep_alive = false;
        Fail(s.IsResourceExhausted()
                 ? Status::ResourceExhausted("decompressed response body from " + key + " exceeds " +
                                             std::to_string(req.max_body_bytes) + " bytes")
                 : Status::InvalidArgument("bad gzip body from " + key + ": " + std::string(s.message())));
        return;
      }
      resp.body = std::move(decoded);
    }
    Finish(std::move(resp));
  }
};

Client::Client(event::Loop& loop) : loop_(loop), alive_(std::make_shared<bool>(true)) {}

Client::~Client() {
  *alive_ = false;
  CloseIdle();
}

void Client::CloseIdle() {
  auto idle = std::move(idle_);
  idle_.clear();
  for (auto& [key, conns] : idle) {
    for (Conn* c : conns) c->Close();
  }
}

void Client::Do(ClientRequest req, ClientCallback cb) {
  std::string pool_key = PoolKey(req);
  Conn* c = nullptr;
  if (auto it = idle_.find(pool_key); it != idle_.end()) {
    c = it->second.front();
    it->second.erase(it->second.begin());
    if (it->second.empty()) idle_.erase(it);
  }
  if (c == nullptr) {
    c = new Conn();
    c->client = this;
    c->client_alive = alive_;
    c->key = req.host + ":" + std::to_string(req.port);
    c->pool_key = std::move(pool_key);
    uv_tcp_init(loop_.raw(), &c->tcp);
    uv_timer_init(loop_.raw(), &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    llhttp_settings_init(&c->settings);
    c->settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      auto* c = static_cast<Conn*>(p->data);
      if (c->in_value) c->FlushHeader();
      c->field.append(at, n);
      return 0;
    };
    c->settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      auto* c = static_cast<Conn*>(p->data);
      c->in_value = true;
      c->value.append(at, n);
      return 0;
    };
    c->settings.on_headers_complete = [](llhttp_t* p) {
      auto* c = static_cast<Conn*>(p->data);
      c->FlushHeader();
      c->resp.status = p->status_code;
      c->gzip = c->resp.Header("content-encoding") == "gzip";
      if (c->req.max_body_bytes && (p->flags & F_CONTENT_LENGTH) &&
          p->content_length > c->req.max_body_bytes) {
        c->over_limit = true;
        return -1;
      }
      // One allocation for a body of announced size (up to 16 MiB; larger ones grow).
      if ((p->flags & F_CONTENT_LENGTH) && c->req.method != "HEAD") {
        c->resp.body.reserve(static_cast<size_t>(std::min<uint64_t>(p->content_length, 16u << 20)));
      }
      return c->req.method == "HEAD" ? 1 : 0;
    };
    c->settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
      auto* c = static_cast<Conn*>(p->data);
      c->resp.body.append(at, n);
      c->resp.wire_body_bytes += n;
      if (c->req.max_body_bytes && c->resp.body.size() > c->req.max_body_bytes) {
        c->over_limit = true;
        return -1;
      }
      return 0;
    };
    c->settings.on_message_complete = [](llhttp_t* p) {
      auto* c = static_cast<Conn*>(p->data);
      c->keep_alive = llhttp_should_keep_alive(p) != 0;
      return static_cast<int>(HPE_PAUSED);
    };
  }
  c->req = std::move(req);
  c->cb = std::move(cb);
  c->keep_alive = false;
  // Start on the next loop turn: the callback must never run inside Do().
  loop_.Post([c] { c->Start(); });
}

}  // namespace common::http
