#pragma once
// Parsers for the /proc/net files of the network collectors (netstat, sockstat, netdev, arp,
// udp_queues), with the acceptance rules of the procfs library node_exporter 1.12 uses.
//
// Every parser takes the file's text and fills caller-owned output whose string_views point
// into that text (so the caller keeps the text alive and reuses both between scrapes).
// Errors: InvalidArgument naming the offending line when the text does not have the expected
// shape; nothing is ever read out of range. Thread affinity: none (pure functions).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

// One statistic of /proc/net/netstat, /proc/net/snmp or /proc/net/snmp6.
struct NetStatEntry {
  std::string_view protocol;  // "TcpExt", "Ip", "Udp6", ...
  std::string_view name;      // "ListenDrops", "InOctets", ...
  std::string_view value;     // unparsed
};

// /proc/net/netstat and /proc/net/snmp: pairs of lines, "Proto: name name ..." then
// "Proto: value value ...", split on single spaces. Appends to `out`. A header line without its
// value line, or a value line with a different field count, is an error.
common::Status ParseNetStatPairs(std::string_view text, std::vector<NetStatEntry>& out);

// /proc/net/snmp6: "Ip6InOctets  460" lines; the protocol is the name up to and including its
// first '6'. Lines with fewer than two fields or without a '6' are skipped. Appends to `out`.
void ParseSnmp6(std::string_view text, std::vector<NetStatEntry>& out);

// /proc/net/sockstat and /proc/net/sockstat6.
struct SockstatProtocol {
  std::string_view name;  // "TCP", "UDP6", ...
  int64_t inuse = 0;      // always reported (0 when the line lacks it)
  std::optional<int64_t> orphan, tw, alloc, mem, memory;
};
struct Sockstat {
  std::optional<int64_t> used;  // "sockets: used N"
  std::vector<SockstatProtocol> protocols;
};
// Each line is "NAME: key value [key value ...]" split on single spaces; an odd number of
// key/value fields or a value that is not an integer is an error.
common::Status ParseSockstat(std::string_view text, Sockstat& out);

// /proc/net/dev: two header lines, then "name: 16 numbers" per device.
struct NetDevLine {
  std::string_view name;
  // receive: bytes packets errs drop fifo frame compressed multicast,
  // transmit: bytes packets errs drop fifo colls carrier compressed.
  uint64_t values[16] = {};
};
common::Status ParseNetDev(std::string_view text, std::vector<NetDevLine>& out);

// /proc/net/arp: appends the device of each entry to `devices`. The 9-field header and empty
// lines are skipped; any other line must have 6 fields with a hex flags field and a MAC address.
common::Status ParseArp(std::string_view text, std::vector<std::string_view>& devices);

// /proc/net/udp or /proc/net/udp6: sums the tx_queue and rx_queue columns over all sockets.
common::Status ParseUdpQueues(std::string_view text, uint64_t& tx, uint64_t& rx);

}  // namespace agent::procfs
