#pragma once
// Parser for /proc/mdstat (Linux software RAID), with the rules of the procfs library's MDStat
// that node_exporter 1.12's mdadm collector uses.
// Errors: InvalidArgument naming the array when its lines do not have the expected shape.
// Thread affinity: none (pure function).

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

struct MdStat {
  std::string_view name;            // "md0"; points into the parsed text
  std::string_view activity_state;  // "active", "inactive", "recovering", "resyncing", "checking"
  int64_t disks_active = 0;
  int64_t disks_total = 0;
  int64_t disks_failed = 0;  // members marked (F)
  int64_t disks_spare = 0;   // members marked (S)
  int64_t disks_down = 0;    // '_' in the [UU_] status
  int64_t blocks_total = 0;
  int64_t blocks_synced = 0;
};

// Parses the text of /proc/mdstat into `out` (cleared first).
common::Status ParseMdStat(std::string_view text, std::vector<MdStat>& out);

}  // namespace agent::procfs
