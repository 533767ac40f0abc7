#pragma once
// Shared pieces of the /proc/net/rpc/nfs (client) and /proc/net/rpc/nfsd (server) parsers:
// the "<label> <n1> <n2> ..." line splitter and the NFSv2/v3 procedure names, in kernel order.
// Procedure lines ("proc2 18 v1 ... v18") start with their value count.
// Header-only. Thread affinity: none.

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/procfs/fs.h"

namespace agent::procfs {

// NFSv2 procedures, in the order of the proc2 line.
inline constexpr std::array<std::string_view, 18> kNfsV2Procs = {
    "Null",   "GetAttr", "SetAttr", "Root", "Lookup",  "ReadLink", "Read",  "WrCache", "Write",
    "Create", "Remove",  "Rename",  "Link", "SymLink", "MkDir",    "RmDir", "ReadDir", "FsStat"};

// NFSv3 procedures, in the order of the proc3 line.
inline constexpr std::array<std::string_view, 22> kNfsV3Procs = {
    "Null",    "GetAttr",     "SetAttr", "Lookup", "Access",   "ReadLink", "Read",   "Write",
    "Create",  "MkDir",       "SymLink", "MkNod",  "Remove",   "RmDir",    "Rename", "Link",
    "ReadDir", "ReadDirPlus", "FsStat",  "FsInfo", "PathConf", "Commit"};

// Parses fields[first, last) as unsigned decimals into `out` (cleared first). False on garbage.
inline bool ParseRpcValues(const std::vector<std::string_view>& fields, size_t first, size_t last,
                           std::vector<uint64_t>& out) {
  out.clear();
  if (last > fields.size()) last = fields.size();
  for (size_t i = first; i < last; ++i) {
    uint64_t v;
    if (!ParseUint(fields[i], v)) return false;
    out.push_back(v);
  }
  return true;
}

// True when a procedure line's values hold their own count first and at least `min` values.
inline bool ValidProcLine(const std::vector<uint64_t>& v, size_t min) {
  return !v.empty() && v[0] == v.size() - 1 && v[0] >= min;
}

}  // namespace agent::procfs
