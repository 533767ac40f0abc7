#include "agent/procfs/net.h"

#include <string>

#include "agent/procfs/fs.h"

namespace agent::procfs {

using common::Status;

namespace {

Status BadLine(std::string_view what, std::string_view line) {
  return Status::InvalidArgument(std::string(what) + ": \"" + std::string(line.substr(0, 200)) +
                                 "\"");
}

// Next line of `s` (without '\n'); advances `s`. False at the end.
bool NextLine(std::string_view& s, std::string_view& line) {
  if (s.empty()) return false;
  size_t nl = s.find('\n');
  line = s.substr(0, nl);
  s.remove_prefix(nl == std::string_view::npos ? s.size() : nl + 1);
  return true;
}

// Splits on single spaces, as Go's strings.Split(s, " "), without allocating beyond `out`.
void SplitSpaces(std::string_view s, std::vector<std::string_view>& out) { Split(s, ' ', out); }

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Go's net.ParseMAC for the colon form: 6, 8 or 20 groups of two hex digits.
bool ValidMac(std::string_view s) {
  size_t groups = (s.size() + 1) / 3;
  if (s.size() != groups * 3 - 1) return false;
  if (groups != 6 && groups != 8 && groups != 20) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ParseNetStatPairs(std::string_view text, std::vector<NetStatEntry>& out) {
  std::vector<std::string_view> names, values;
  std::string_view header, vals;
  while (NextLine(text, header)) {
    if (!NextLine(text, vals)) return BadLine("statistics header without a value line", header);
    SplitSpaces(header, names);
    SplitSpaces(vals, values);
    if (names.size() != values.size()) return BadLine("field count mismatch", header);
    std::string_view proto = names[0];
    if (proto.empty() || proto.back() != ':') return BadLine("missing protocol", header);
    proto.remove_suffix(1);
    for (size_t i = 1; i < names.size(); ++i) out.push_back({proto, names[i], values[i]});
  }
  return Status::Ok();
}

void ParseSnmp6(std::string_view text, std::vector<NetStatEntry>& out) {
  std::vector<std::string_view> fields;
  std::string_view line;
  while (NextLine(text, line)) {
    SplitFields(line, fields);
    if (fields.size() < 2) continue;
    size_t six = fields[0].find('6');
    if (six == std::string_view::npos) continue;
    out.push_back({fields[0].substr(0, six + 1), fields[0].substr(six + 1), fields[1]});
  }
}

Status ParseSockstat(std::string_view text, Sockstat& out) {
  out.used.reset();
  out.protocols.clear();
  std::vector<std::string_view> fields;
  std::string_view line;
  while (NextLine(text, line)) {
    SplitSpaces(line, fields);
    if (fields.size() < 3) return BadLine("malformed sockstat line", line);
    if ((fields.size() - 1) % 2 != 0) return BadLine("odd number of sockstat fields", line);
    std::string_view proto = fields[0];
    if (!proto.empty() && proto.back() == ':') proto.remove_suffix(1);
    SockstatProtocol p;
    p.name = proto;
    std::optional<int64_t> used;
    for (size_t i = 1; i + 1 < fields.size(); i += 2) {
      int64_t v;
      if (!ParseInt(fields[i + 1], v)) return BadLine("bad sockstat value", line);
      std::string_view k = fields[i];
      if (k == "used")
        used = v;
      else if (k == "inuse")
        p.inuse = v;
      else if (k == "orphan")
        p.orphan = v;
      else if (k == "tw")
        p.tw = v;
      else if (k == "alloc")
        p.alloc = v;
      else if (k == "mem")
        p.mem = v;
      else if (k == "memory")
        p.memory = v;
    }
    if (proto == "sockets") {
      out.used = used.value_or(0);
    } else {
      out.protocols.push_back(p);
    }
  }
  return Status::Ok();
}

Status ParseNetDev(std::string_view text, std::vector<NetDevLine>& out) {
  out.clear();
  std::vector<std::string_view> fields;
  std::string_view line;
  for (int n = 0; NextLine(text, line); ++n) {
    if (n < 2) continue;  // two header lines
    size_t colon = line.rfind(':');
    if (colon == std::string_view::npos) return BadLine("net/dev line without a colon", line);
    NetDevLine d;
    d.name = TrimSpace(line.substr(0, colon));
    if (d.name.empty()) return BadLine("net/dev line without an interface name", line);
    SplitFields(line.substr(colon + 1), fields);
    if (fields.size() < 16) return BadLine("net/dev line with too few fields", line);
    for (size_t i = 0; i < 16; ++i) {
      if (!ParseUint(fields[i], d.values[i])) return BadLine("bad net/dev value", line);
    }
    // A later line for the same name replaces the earlier one (the procfs library keys a map).
    bool replaced = false;
    for (auto& e : out) {
      if (e.name == d.name) {
        e = d;
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(d);
  }
  return Status::Ok();
}

Status ParseArp(std::string_view text, std::vector<std::string_view>& devices) {
  devices.clear();
  std::vector<std::string_view> fields;
  std::string_view line;
  while (NextLine(text, line)) {
    SplitFields(line, fields);
    if (fields.empty() || fields.size() == 9) continue;  // blank or the header
    if (fields.size() != 6) return BadLine("unexpected column count in arp table", line);
    uint64_t flags;
    std::string_view f = fields[2];
    bool ok = f.size() > 2 && f[0] == '0' && (f[1] == 'x' || f[1] == 'X')
                  ? ParseUint(f.substr(2), flags, 16)
                  : ParseUint(f, flags);
    if (!ok || flags > 0xffffffffu) return BadLine("bad arp flags", line);
    if (!ValidMac(fields[3])) return BadLine("bad arp hardware address", line);
    devices.push_back(fields[5]);
  }
  return Status::Ok();
}

Status ParseUdpQueues(std::string_view text, uint64_t& tx, uint64_t& rx) {
  tx = rx = 0;
  std::vector<std::string_view> fields;
  std::string_view line;
  bool header = true;
  while (NextLine(text, line)) {
    if (header) {
      header = false;
      continue;
    }
    SplitFields(line, fields);
    if (fields.size() < 10) return BadLine("udp socket line with fewer than 10 columns", line);
    std::string_view q = fields[4];
    size_t colon = q.find(':');
    if (colon == std::string_view::npos) return BadLine("bad udp queue column", line);
    uint64_t t, r;
    if (!ParseUint(q.substr(0, colon), t, 16) || !ParseUint(q.substr(colon + 1), r, 16)) {
      return BadLine("bad udp queue value", line);
    }
    tx += t;
    rx += r;
  }
  return Status::Ok();
}

}  // namespace agent::procfs
