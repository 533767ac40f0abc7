#include "common/http/server.h"

#include <llhttp.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "common/zlib/gzip.h"

namespace common::http {

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

Result<std::pair<std::string, int>> SplitHostPort(std::string_view a) {
  std::string host;
  std::string_view port;
  if (!a.empty() && a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
      return Status::InvalidArgument("bad address " + std::string(a));
    }
    host = std::string(a.substr(1, close - 1));
    port = a.substr(close + 2);
  } else {
    size_t colon = a.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("address " + std::string(a) + " has no port");
    }
    host = std::string(a.substr(0, colon));
    port = a.substr(colon + 1);
  }
  int p = 0;
  if (port.empty() || port.size() > 5) return Status::InvalidArgument("bad port in " + std::string(a));
  for (char c : port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("bad port in " + std::string(a));
    p = p * 10 + (c - '0');
  }
  if (p > 65535) return Status::InvalidArgument("bad port in " + std::string(a));
  return std::make_pair(host, p);
}

namespace {
const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool AcceptsGzip(std::string_view ae) {
  // Accept-Encoding: gzip, deflate;q=0.5 ... gzip;q=0 refuses it.
  size_t p = 0;
  while (p < ae.size()) {
    size_t comma = ae.find(',', p);
    std::string_view item = ae.substr(p, comma == std::string_view::npos ? ae.npos : comma - p);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::string_view name = item.substr(0, item.find(';'));
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name == "gzip" || name == "*") {
      size_t q = item.find("q=");
      if (q == std::string_view::npos) return true;
      std::string_view qv = item.substr(q + 2);
      return !(qv.substr(0, 1) == "0" && qv.find_first_of("123456789") == std::string_view::npos);
    }
    if (comma == std::string_view::npos) break;
    p = comma + 1;
  }
  return false;
}
}  // namespace

struct Server::Conn : std::enable_shared_from_this<Server::Conn> {
  Server* server;
  uv_tcp_t tcp;
  uv_timer_t timer;
  llhttp_t parser;
  llhttp_settings_t settings;
  Request req;
  std::string field;  // header name being read
  std::string value;
  bool in_value = false;
  size_t header_bytes = 0;
  int error_status = 0;  // 413/431 set by callbacks
  std::string error_reason;
  bool keep_alive = true;
  bool closing = false;
  bool in_flight = false;  // a request is being handled
  uint64_t seq = 0;
  int open_handles = 0;
  std::string pending;  // bytes read past a paused request
  // A separate, uninitialized allocation: make_shared<Conn>() value-initializes, which would zero
  // (and so make resident) 64 KiB per connection when only the first page is used by most
  // requests.
  static constexpr size_t kReadBuf = 65536;
  std::unique_ptr<char[]> readbuf{new char[kReadBuf]};

  void FlushHeader() {
    if (!field.empty() || !value.empty()) {
      std::transform(field.begin(), field.end(), field.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers.emplace_back(std::move(field), std::move(value));
    }
    field.clear();
    value.clear();
    in_value = false;
  }

  void ResetIdle() {
    if (!closing) {
      uv_timer_start(&timer, [](uv_timer_t* t) { static_cast<Conn*>(t->data)->Close(); },
                     server->opts_.idle_timeout_ms, 0);
    }
  }

  void Close() {
    if (closing) return;
    closing = true;
    auto on_close = [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      if (--c->open_handles == 0) {
        Server* s = c->server;
        auto it = std::find_if(s->conns_.begin(), s->conns_.end(),
                               [c](const std::shared_ptr<Conn>& p) { return p.get() == c; });
        if (it != s->conns_.end()) s->conns_.erase(it);
      }
    };
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_close);
  }

  void Feed(const char* data, size_t n) {
    llhttp_errno_t err = llhttp_execute(&parser, data, n);
    if (err == HPE_OK) return;
    if (err == HPE_PAUSED) {
      const char* pos = llhttp_get_error_pos(&parser);
      if (pos != nullptr && pos >= data && pos < data + n) {
        pending.assign(pos, static_cast<size_t>(data + n - pos));
      }
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
      in_flight = true;
      server->Dispatch(shared_from_this());
      return;
    }
    int status = error_status != 0 ? error_status : 400;
    std::string reason = error_status != 0 ? error_reason
                                           : std::string("malformed HTTP request: ") +
                                                 llhttp_get_error_reason(&parser);
    keep_alive = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
    in_flight = true;
    Send(Response::Text(status, reason), false);
  }

  void Send(Response resp, bool head_only) {
    if (closing) return;
    std::string_view ae = req.Header("accept-encoding");
    std::string out;
    std::string gz;
    const std::string* body = &resp.body;
    bool gzipped = false;
    if (resp.body.size() >= server->opts_.gzip_min_bytes && AcceptsGzip(ae)) {
      static zlib::Gzipper gzipper(1);  // loop thread only
      if (gzipper.Compress(resp.body, gz).ok()) {
        body = &gz;
        gzipped = true;
      }
    }
    out.reserve(256);
    out += "HTTP/1.1 ";
    out += std::to_string(resp.status);
    out += ' ';
    out += Reason(resp.status);
    out += "\r\n";
    bool has_body = resp.status != 204 && resp.status != 304;
    if (has_body) {
      out += "Content-Type: " + resp.content_type + "\r\n";
      out += "Content-Length: " + std::to_string(body->size()) + "\r\n";
    }
    if (gzipped) out += "Content-Encoding: gzip\r\n";
    if (gzipped || !ae.empty()) out += "Vary: Accept-Encoding\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    struct WriteReq {
      uv_write_t w;
      std::string head;
      std::string body;
      std::shared_ptr<Conn> conn;
    };
    auto* wr = new WriteReq{{}, std::move(out), {}, shared_from_this()};
    if (!head_only && has_body) wr->body = gzipped ? std::move(gz) : std::move(resp.body);
    uv_buf_t bufs[2] = {uv_buf_init(wr->head.data(), static_cast<unsigned>(wr->head.size())),
                        uv_buf_init(wr->body.data(), static_cast<unsigned>(wr->body.size()))};
    int r = uv_write(&wr->w, reinterpret_cast<uv_stream_t*>(&tcp), bufs, wr->body.empty() ? 1 : 2,
                     [](uv_write_t* w, int status) {
                       auto* wr = reinterpret_cast<WriteReq*>(w);
                       wr->conn->AfterWrite(status);
                       delete wr;
                     });
    if (r != 0) {
      delete wr;
      Close();
    }
  }

  void AfterWrite(int status) {
    in_flight = false;
    if (status != 0 || !keep_alive || closing) {
      Close();
      return;
    }
    ResetIdle();
    llhttp_resume(&parser);
    std::string rest;
    rest.swap(pending);
    if (!rest.empty()) {
      Feed(rest.data(), rest.size());
      if (in_flight || closing) return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* c = static_cast<Conn*>(h->data);
          *b = uv_buf_init(c->readbuf.get(), Conn::kReadBuf);
        },
        &Conn::OnRead);
  }

  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<Conn*>(s->data);
    if (n < 0) {
      c->Close();
      return;
    }
    if (n == 0) return;
    c->ResetIdle();
    auto keep = c->shared_from_this();
    c->Feed(b->base, static_cast<size_t>(n));
  }
};

Server::Server(event::Loop& loop, Options opts, log::Logger log)
    : loop_(loop), opts_(opts), log_(std::move(log)) {}

Server::~Server() { Close(); }

void Server::Handle(std::string path, std::vector<std::string> methods, Handler h) {
  routes_.push_back(Route{false, std::move(path), std::move(methods), std::move(h)});
}

void Server::HandlePrefix(std::string prefix, std::vector<std::string> methods, Handler h) {
  routes_.push_back(Route{true, std::move(prefix), std::move(methods), std::move(h)});
}

namespace {
Server::Conn* ConnOf(llhttp_t* p) { return static_cast<Server::Conn*>(p->data); }

bool AddHeaderBytes(Server::Conn* c, size_t n, size_t limit) {
  c->header_bytes += n;
  if (c->header_bytes > limit) {
    c->error_status = 431;
    c->error_reason = "request header exceeds " + std::to_string(limit) + " bytes";
    return false;
  }
  return true;
}
}  // namespace

Status Server::Listen(std::string_view address) {
  auto hp = SplitHostPort(address);
  if (!hp.ok()) return hp.status();
  auto [host, port] = *hp;
  struct sockaddr_storage ss;
  int r;
  if (host.empty()) {
    r = uv_ip6_addr("::", port, reinterpret_cast<sockaddr_in6*>(&ss));
  } else if (host.find(':') != std::string::npos) {
    r = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss));
  } else {
    if (host == "localhost") host = "127.0.0.1";
    r = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss));
  }
  if (r != 0) return Status::InvalidArgument("bad listen address " + std::string(address));
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(loop_.raw(), tcp);
  tcp->data = this;
  r = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&ss), 0);
  if (r == 0) {
    r = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 511, [](uv_stream_t* l, int status) {
      if (status < 0) return;
      auto* self = static_cast<Server*>(l->data);
      auto c = std::make_shared<Conn>();
      c->server = self;
      uv_tcp_init(self->loop_.raw(), &c->tcp);
      uv_timer_init(self->loop_.raw(), &c->timer);
      c->tcp.data = c.get();
      c->timer.data = c.get();
      c->open_handles = 2;
      self->conns_.push_back(c);
      if (uv_accept(l, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        c->Close();
        return;
      }
      uv_tcp_nodelay(&c->tcp, 1);
      struct sockaddr_storage peer;
      int len = sizeof peer;
      if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
        char ip[64] = "";
        int pport = 0;
        if (peer.ss_family == AF_INET) {
          auto* a = reinterpret_cast<sockaddr_in*>(&peer);
          uv_ip4_name(a, ip, sizeof ip);
          pport = ntohs(a->sin_port);
        } else {
          auto* a = reinterpret_cast<sockaddr_in6*>(&peer);
          uv_ip6_name(a, ip, sizeof ip);
          pport = ntohs(a->sin6_port);
        }
        c->req.remote = std::string(ip) + ":" + std::to_string(pport);
      }
      llhttp_settings_init(&c->settings);
      c->settings.on_message_begin = [](llhttp_t* p) {
        auto* c = ConnOf(p);
        std::string remote = std::move(c->req.remote);
        c->req = Request();
        c->req.remote = std::move(remote);
        c->header_bytes = 0;
        c->field.clear();
        c->value.clear();
        c->in_value = false;
        return 0;
      };
      c->settings.on_url = [](llhttp_t* p, const char* at, size_t n) {
        auto* c = ConnOf(p);
        if (!AddHeaderBytes(c, n, c->server->opts_.max_header_bytes)) return -1;
        c->req.target.append(at, n);
        return 0;
      };
      c->settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
        auto* c = ConnOf(p);
        if (!AddHeaderBytes(c, n, c->server->opts_.max_header_bytes)) return -1;
        if (c->in_value) c->FlushHeader();
        c->field.append(at, n);
        return 0;
      };
      c->settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
        auto* c = ConnOf(p);
        if (!AddHeaderBytes(c, n, c->server->opts_.max_header_bytes)) return -1;
        c->in_value = true;
        c->value.append(at, n);
        return 0;
      };
      c->settings.on_headers_complete = [](llhttp_t* p) {
        auto* c = ConnOf(p);
        c->FlushHeader();
        c->req.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
        size_t q = c->req.target.find('?');
        c->req.path = c->req.target.substr(0, q);
        if (q != std::string::npos) c->req.query = c->req.target.substr(q + 1);
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->server->opts_.max_body_bytes) {
          c->error_status = 413;
          c->error_reason =
              "request body exceeds " + std::to_string(c->server->opts_.max_body_bytes) + " bytes";
          return -1;
        }
        return 0;
      };
      c->settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
        auto* c = ConnOf(p);
        if (c->req.body.size() + n > c->server->opts_.max_body_bytes) {
          c->error_status = 413;
          c->error_reason =
              "request body exceeds " + std::to_string(c->server->opts_.max_body_bytes) + " bytes";
          return -1;
        }
        c->req.body.append(at, n);
        return 0;
      };
      c->settings.on_message_complete = [](llhttp_t* p) {
        auto* c = ConnOf(p);
        c->keep_alive = llhttp_should_keep_alive(p) != 0;
        return static_cast<int>(HPE_PAUSED);
      };
      llhttp_init(&c->parser, HTTP_REQUEST, &c->settings);
      c->parser.data = c.get();
      c->ResetIdle();
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(&c->tcp),
          [](uv_handle_t* h, size_t, uv_buf_t* b) {
            auto* c = static_cast<Conn*>(h->data);
            *b = uv_buf_init(c->readbuf.get(), Conn::kReadBuf);
          },
          &Conn::OnRead);
    });
  }
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return Status::IOError("listen " + std::string(address) + ": " + uv_strerror(r));
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  listeners_.push_back(tcp);
  return Status::Ok();
}

void Server::Close() {
  for (void* l : listeners_) {
    auto* h = static_cast<uv_handle_t*>(l);
    if (!uv_is_closing(h)) {
      uv_close(h, [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    }
  }
  listeners_.clear();
  auto conns = conns_;
  for (auto& c : conns) c->Close();
}

void Server::Dispatch(const std::shared_ptr<Conn>& c) {
  Request& req = c->req;
  const Route* route = nullptr;
  for (const auto& r : routes_) {
    if (!r.prefix && r.path == req.path) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) {
    for (const auto& r : routes_) {
      if (r.prefix && req.path.compare(0, r.path.size(), r.path) == 0) {
        route = &r;
        break;
      }
    }
  }
  bool head = req.method == "HEAD";
  if (route == nullptr) {
    c->Send(Response::Text(404, "404 page not found: " + req.path), head);
    return;
  }
  bool allowed = std::find(route->methods.begin(), route->methods.end(), req.method) !=
                 route->methods.end();
  if (!allowed && head) {
    allowed = std::find(route->methods.begin(), route->methods.end(), "GET") != route->methods.end();
  }
  if (!allowed) {
    Response r = Response::Text(405, "method " + req.method + " not allowed for " + req.path);
    std::string allow;
    for (const auto& m : route->methods) allow += (allow.empty() ? "" : ", ") + m;
    r.headers.emplace_back("Allow", allow);
    c->Send(std::move(r), head);
    return;
  }
  std::weak_ptr<Conn> weak = c;
  uint64_t seq = ++c->seq;
  route->handler(req, [weak, seq, head](Response resp) {
    auto c = weak.lock();
    if (!c || c->closing || c->seq != seq || !c->in_flight) return;
    c->seq++;  // a second call of this Respond is a no-op
    c->Send(std::move(resp), head);
  });
}

}  // namespace common::http
