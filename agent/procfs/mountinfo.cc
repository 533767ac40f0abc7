#include "agent/procfs/mountinfo.h"

#include <string>

#include "agent/procfs/fs.h"

namespace agent::procfs {

using common::Status;

Status ParseMountInfoLine(std::string_view line, MountInfo& out,
                          std::vector<std::string_view>& fields) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("mountinfo: " + std::string(why) + ": \"" +
                                   std::string(line.substr(0, 200)) + "\"");
  };
  Split(line, ' ', fields);
  size_t n = fields.size();
  if (n < 10) return bad("too few fields");
  if (fields[n - 4] != "-") return bad("no separator");
  int64_t id;
  if (!ParseInt(fields[0], id) || !ParseInt(fields[1], id)) return bad("bad mount id");
  std::string_view mm = fields[2];
  size_t colon = mm.find(':');
  uint64_t major, minor;
  if (colon == std::string_view::npos || !ParseUint(mm.substr(0, colon), major) ||
      !ParseUint(mm.substr(colon + 1), minor) || major > 0xffffffffu || minor > 0xffffffffu) {
    return bad("malformed major:minor");
  }
  out.major = static_cast<uint32_t>(major);
  out.minor = static_cast<uint32_t>(minor);
  out.mount_point = fields[4];
  out.options = fields[5];
  out.fs_type = fields[n - 3];
  out.source = fields[n - 2];
  out.super_options = fields[n - 1];
  return Status::Ok();
}

bool HasMountOption(std::string_view options, std::string_view option) {
  while (!options.empty()) {
    size_t comma = options.find(',');
    std::string_view o = options.substr(0, comma);
    if (o == option) return true;
    if (comma == std::string_view::npos) break;
    options.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace agent::procfs
