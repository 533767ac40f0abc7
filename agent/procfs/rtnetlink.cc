#include "agent/procfs/rtnetlink.h"

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace agent::procfs {

using common::Status;

namespace {

constexpr int kReceiveTimeoutSeconds = 5;

// Owns a netlink socket.
class NetlinkSocket {
 public:
  NetlinkSocket() = default;
  ~NetlinkSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  Status Open() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return Status::Unavailable(std::string("netlink socket: ") + std::strerror(errno));
    struct timeval tv = {kReceiveTimeoutSeconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_nl sa = {};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
      return Status::Unavailable(std::string("netlink bind: ") + std::strerror(errno));
    }
    return Status::Ok();
  }

  // Sends a dump request of `type` whose body is `body`.
  Status SendDump(uint16_t type, const void* body, size_t body_len) {
    char req[NLMSG_SPACE(64)] = {};
    if (NLMSG_LENGTH(body_len) > sizeof req) return Status::Internal("netlink request too large");
    auto* h = reinterpret_cast<struct nlmsghdr*>(req);
    h->nlmsg_len = NLMSG_LENGTH(body_len);
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = ++seq_;
    std::memcpy(NLMSG_DATA(h), body, body_len);
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    ssize_t n = ::sendto(fd_, req, h->nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&kernel),
                         sizeof kernel);
    if (n < 0) return Status::Unavailable(std::string("netlink send: ") + std::strerror(errno));
    return Status::Ok();
  }

  // Receives one datagram into `buf` (grown to fit); returns its length in `len`.
  Status Receive(std::string& buf, size_t& len) {
    for (;;) {
      if (buf.size() < 32768) buf.resize(32768);
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_PEEK | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return Status::DeadlineExceeded("netlink receive timed out");
        }
        return Status::IOError(std::string("netlink receive: ") + std::strerror(errno));
      }
      if (static_cast<size_t>(n) > buf.size()) buf.resize(static_cast<size_t>(n));
      n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(std::string("netlink receive: ") + std::strerror(errno));
      }
      len = static_cast<size_t>(n);
      return Status::Ok();
    }
  }

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

// Walks the netlink messages of one datagram; calls fn(header) for each data message.
template <typename F>
Status WalkMessages(const char* data, size_t len, bool& done, F&& fn) {
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    const auto* h = reinterpret_cast<const struct nlmsghdr*>(data + off);
    if (h->nlmsg_len < sizeof(struct nlmsghdr) || off + h->nlmsg_len > len) {
      return Status::Corruption("truncated netlink message");
    }
    if (h->nlmsg_type == NLMSG_DONE) {
      done = true;
      return Status::Ok();
    }
    if (h->nlmsg_type == NLMSG_ERROR) {
      int err = 0;
      if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
        err = -reinterpret_cast<const struct nlmsgerr*>(NLMSG_DATA(h))->error;
      }
      if (err == 0) {  // an ACK
        off += NLMSG_ALIGN(h->nlmsg_len);
        continue;
      }
      return Status::IOError(std::string("netlink: ") + std::strerror(err));
    }
    LOOKOUT_RETURN_IF_ERROR(fn(h));
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return Status::Ok();
}

// Walks the rtattrs in [p, p+len); calls fn(type, payload, payload_len).
template <typename F>
void WalkAttrs(const char* p, size_t len, F&& fn) {
  while (len >= sizeof(struct rtattr)) {
    const auto* a = reinterpret_cast<const struct rtattr*>(p);
    if (a->rta_len < sizeof(struct rtattr) || a->rta_len > len) return;
    fn(a->rta_type & NLA_TYPE_MASK, p + RTA_LENGTH(0), a->rta_len - RTA_LENGTH(0));
    size_t step = RTA_ALIGN(a->rta_len);
    if (step >= len) return;
    p += step;
    len -= step;
  }
}

template <typename Msg, typename Parse>
Status Dump(uint16_t type, const Msg& body, std::string& buf, Parse&& parse) {
  NetlinkSocket sock;
  LOOKOUT_RETURN_IF_ERROR(sock.Open());
  LOOKOUT_RETURN_IF_ERROR(sock.SendDump(type, &body, sizeof body));
  bool done = false;
  while (!done) {
    size_t len = 0;
    LOOKOUT_RETURN_IF_ERROR(sock.Receive(buf, len));
    LOOKOUT_RETURN_IF_ERROR(parse(buf.data(), len, done));
  }
  return Status::Ok();
}

}  // namespace

Status ParseLinkMessages(const char* data, size_t len, std::vector<Link>& out, bool& done) {
  return WalkMessages(data, len, done, [&](const struct nlmsghdr* h) -> Status {
    if (h->nlmsg_type != RTM_NEWLINK) return Status::Ok();
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
      return Status::Corruption("short RTM_NEWLINK message");
    }
    const auto* ifi = reinterpret_cast<const struct ifinfomsg*>(NLMSG_DATA(h));
    Link& link = out.emplace_back();
    link.index = ifi->ifi_index;
    bool have64 = false;
    const char* attrs = reinterpret_cast<const char*>(ifi) + NLMSG_ALIGN(sizeof *ifi);
    size_t attrs_len = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi);
    WalkAttrs(attrs, attrs_len, [&](unsigned type, const char* p, size_t n) {
      if (type == IFLA_IFNAME) {
        size_t l = strnlen(p, n);
        if (l >= sizeof link.name_buf) l = sizeof link.name_buf - 1;
        std::memcpy(link.name_buf, p, l);
        link.name_buf[l] = '\0';
      } else if (type == IFLA_STATS64) {
        // Older kernels send fewer counters; missing ones stay zero.
        size_t count = n / sizeof(uint64_t);
        if (count > kLinkStatCount) count = kLinkStatCount;
        for (size_t i = 0; i < count; ++i) {
          std::memcpy(&link.stats[i], p + i * sizeof(uint64_t), sizeof(uint64_t));
        }
        link.has_stats = true;
        have64 = true;
      } else if (type == IFLA_STATS && !have64) {
        size_t count = n / sizeof(uint32_t);
        if (count > kLinkStatCount) count = kLinkStatCount;
        for (size_t i = 0; i < count; ++i) {
          uint32_t v;
          std::memcpy(&v, p + i * sizeof(uint32_t), sizeof v);
          link.stats[i] = v;
        }
        link.has_stats = true;
      }
    });
    return Status::Ok();
  });
}

Status ParseNeighborMessages(const char* data, size_t len, std::vector<Neighbor>& out, bool& done) {
  return WalkMessages(data, len, done, [&](const struct nlmsghdr* h) -> Status {
    if (h->nlmsg_type != RTM_NEWNEIGH) return Status::Ok();
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ndmsg))) {
      return Status::Corruption("short RTM_NEWNEIGH message");
    }
    const auto* nd = reinterpret_cast<const struct ndmsg*>(NLMSG_DATA(h));
    out.push_back({nd->ndm_ifindex, nd->ndm_state});
    return Status::Ok();
  });
}

Status DumpLinks(std::vector<Link>& out, std::string& buf) {
  out.clear();
  struct ifinfomsg req = {};
  req.ifi_family = AF_UNSPEC;
  return Dump(RTM_GETLINK, req, buf, [&](const char* d, size_t n, bool& done) {
    return ParseLinkMessages(d, n, out, done);
  });
}

Status DumpNeighbors(int family, std::vector<Neighbor>& out, std::string& buf) {
  out.clear();
  struct ndmsg req = {};
  req.ndm_family = static_cast<unsigned char>(family);
  return Dump(RTM_GETNEIGH, req, buf, [&](const char* d, size_t n, bool& done) {
    return ParseNeighborMessages(d, n, out, done);
  });
}

}  // namespace agent::procfs
