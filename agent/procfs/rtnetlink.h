#pragma once
// Minimal rtnetlink (NETLINK_ROUTE) dumps for the netdev and arp collectors: the link table with
// each link's statistics (RTM_GETLINK) and the neighbour table (RTM_GETNEIGH).
//
// The Dump* functions open a socket per call, send one dump request and read replies until
// NLMSG_DONE, with a receive timeout so a stuck kernel never hangs the caller. The Parse*
// functions decode a buffer of netlink messages and are what the tests exercise.
// Errors: Unavailable when the socket cannot be used, DeadlineExceeded on the receive timeout,
// IOError for a kernel NLMSG_ERROR, Corruption for a truncated or malformed message.
// Thread affinity: none; callers own the output vectors and reuse them between calls.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

// The counters of struct rtnl_link_stats64, in its order.
enum LinkStat : int {
  kRxPackets,
  kTxPackets,
  kRxBytes,
  kTxBytes,
  kRxErrors,
  kTxErrors,
  kRxDropped,
  kTxDropped,
  kMulticast,
  kCollisions,
  kRxLengthErrors,
  kRxOverErrors,
  kRxCrcErrors,
  kRxFrameErrors,
  kRxFifoErrors,
  kRxMissedErrors,
  kTxAbortedErrors,
  kTxCarrierErrors,
  kTxFifoErrors,
  kTxHeartbeatErrors,
  kTxWindowErrors,
  kRxCompressed,
  kTxCompressed,
  kRxNoHandler,
  kLinkStatCount
};

struct Link {
  int32_t index = 0;
  char name_buf[16] = {};  // IFNAMSIZ, NUL-terminated: no allocation per link
  std::string_view name() const { return std::string_view(name_buf); }
  bool has_stats = false;  // IFLA_STATS64, or IFLA_STATS widened to 64 bits
  uint64_t stats[kLinkStatCount] = {};
};

struct Neighbor {
  int32_t ifindex = 0;
  uint16_t state = 0;  // NUD_* bits
};

// Decodes RTM_NEWLINK messages in `data` (other message types are ignored) and appends them.
// Sets `done` when an NLMSG_DONE message is seen.
common::Status ParseLinkMessages(const char* data, size_t len, std::vector<Link>& out, bool& done);
// Decodes RTM_NEWNEIGH messages in `data` and appends them; sets `done` on NLMSG_DONE.
common::Status ParseNeighborMessages(const char* data, size_t len, std::vector<Neighbor>& out,
                                     bool& done);

// Dumps every link. `buf` is scratch space reused between calls.
common::Status DumpLinks(std::vector<Link>& out, std::string& buf);
// Dumps the neighbour table of one address family (AF_INET for ARP).
common::Status DumpNeighbors(int family, std::vector<Neighbor>& out, std::string& buf);

}  // namespace agent::procfs
