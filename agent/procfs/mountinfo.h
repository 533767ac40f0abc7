#pragma once
// Parser for /proc/<pid>/mountinfo lines (proc(5)), with the acceptance rules of the procfs
// library node_exporter 1.12 reads mounts with.
// Errors: InvalidArgument naming the line when it has fewer than 10 space-separated fields, no
// "-" separator three fields from the end, non-numeric IDs or a malformed major:minor.
// Thread affinity: none (pure functions).

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

struct MountInfo {
  // All views point into the parsed line.
  std::string_view mount_point;  // as in the file (octal escapes such as \040 not decoded)
  std::string_view options;      // per-mount options, comma separated
  std::string_view fs_type;
  std::string_view source;
  std::string_view super_options;  // per-superblock options, comma separated
  uint32_t major = 0, minor = 0;
};

// Parses one line. `fields` is scratch space.
common::Status ParseMountInfoLine(std::string_view line, MountInfo& out,
                                  std::vector<std::string_view>& fields);

// True when the comma-separated option list contains exactly `option` (e.g. "ro").
bool HasMountOption(std::string_view options, std::string_view option);

}  // namespace agent::procfs
