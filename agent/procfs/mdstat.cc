#include "agent/procfs/mdstat.h"

#include <string>

#include "agent/procfs/fs.h"

namespace agent::procfs {

using common::Status;

namespace {

bool Contains(std::string_view s, std::string_view sub) {
  return s.find(sub) != std::string_view::npos;
}

int64_t Count(std::string_view s, std::string_view sub) {
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) {
    ++n;
  }
  return n;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Status Bad(std::string_view name, std::string_view what) {
  return Status::InvalidArgument("mdstat: " + std::string(what) + " for " + std::string(name));
}

// The status line's "<blocks> blocks ... [<total>/<active>] [UU_]" (the procfs library's
// statusLineRE). Matches the last "[n/m] [U_...]" pair, as the greedy ".*" does.
bool MatchStatus(std::string_view s, int64_t& total, int64_t& active, int64_t& down) {
  if (!Contains(s, " blocks ")) return false;
  for (size_t open = s.rfind('['); open != std::string_view::npos && open > 0;
       open = s.rfind('[', open - 1)) {
    // Try "[total/active] [U_]" starting at `open`.
    size_t p = open + 1, d1 = p;
    while (p < s.size() && IsDigit(s[p])) ++p;
    if (p == d1 || p >= s.size() || s[p] != '/') continue;
    size_t d2 = ++p;
    while (p < s.size() && IsDigit(s[p])) ++p;
    if (p == d2 || s.substr(p, 3) != "] [") continue;
    size_t u = p + 3, q = u;
    while (q < s.size() && (s[q] == 'U' || s[q] == '_')) ++q;
    if (q == u || q >= s.size() || s[q] != ']') continue;
    uint64_t t, a;
    if (!ParseUint(s.substr(d1, d2 - 1 - d1), t) || !ParseUint(s.substr(d2, p - d2), a)) {
      return false;
    }
    total = static_cast<int64_t>(t);
    active = static_cast<int64_t>(a);
    down = Count(s.substr(u, q - u), "_");
    return true;
  }
  return false;
}

Status EvalStatusLine(std::string_view name, std::string_view device_line,
                      std::string_view status_line, MdStat& md) {
  std::vector<std::string_view> f;
  SplitFields(status_line, f);
  if (f.empty()) return Bad(name, "empty status line");
  if (!ParseInt(f[0], md.blocks_total)) return Bad(name, "bad block count");
  if (Contains(device_line, "raid0") || Contains(device_line, "linear")) {
    // Only member disks carry a "[n]" on the device line.
    md.disks_total = md.disks_active = Count(device_line, "[");
    return Status::Ok();
  }
  if (Contains(device_line, "inactive")) return Status::Ok();
  if (!MatchStatus(status_line, md.disks_total, md.disks_active, md.disks_down)) {
    return Bad(name, "unexpected status line");
  }
  return Status::Ok();
}

// "(synced/total)", "= pct%", "finish=Xmin" and "speed=NK/sec" must all be present.
Status EvalRecoveryLine(std::string_view name, std::string_view line, int64_t& synced) {
  size_t open = std::string_view::npos;
  for (size_t at = line.find('('); at != std::string_view::npos; at = line.find('(', at + 1)) {
    size_t p = at + 1, d1 = p;
    while (p < line.size() && IsDigit(line[p])) ++p;
    if (p == d1 || p >= line.size() || line[p] != '/') continue;
    size_t d2 = ++p;
    while (p < line.size() && IsDigit(line[p])) ++p;
    if (p == d2 || p >= line.size() || line[p] != ')') continue;
    open = at;
    if (!ParseInt(line.substr(d1, d2 - 1 - d1), synced)) return Bad(name, "bad synced blocks");
    break;
  }
  if (open == std::string_view::npos) return Bad(name, "no block counts in sync line");
  size_t eq = line.find("= ");
  size_t pct = line.rfind('%');
  double v;
  if (eq == std::string_view::npos || pct == std::string_view::npos || pct < eq + 2 ||
      !ParseDouble(TrimSpace(line.substr(eq + 2, pct - eq - 2)), v)) {
    return Bad(name, "no progress percentage in sync line");
  }
  size_t fin = line.find("finish=");
  size_t min = line.rfind("min");
  if (fin == std::string_view::npos || min == std::string_view::npos || min <= fin + 7 ||
      !ParseDouble(line.substr(fin + 7, min - fin - 7), v)) {
    return Bad(name, "no finish time in sync line");
  }
  size_t sp = line.find("speed=");
  if (sp == std::string_view::npos) return Bad(name, "no speed in sync line");
  size_t last_upper = std::string_view::npos;
  for (size_t i = sp + 7; i < line.size(); ++i) {
    if (line[i] >= 'A' && line[i] <= 'Z') last_upper = i;
  }
  if (last_upper == std::string_view::npos ||
      !ParseDouble(line.substr(sp + 6, last_upper - sp - 6), v)) {
    return Bad(name, "bad speed in sync line");
  }
  return Status::Ok();
}

}  // namespace

Status ParseMdStat(std::string_view text, std::vector<MdStat>& out) {
  out.clear();
  std::vector<std::string_view> lines;
  Split(text, '\n', lines);
  std::vector<std::string_view> fields;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (TrimSpace(line).empty() || line[0] == ' ' || line.substr(0, 13) == "Personalities" ||
        line.substr(0, 6) == "unused") {
      continue;
    }
    SplitFields(line, fields);
    if (fields.size() < 3) return Status::InvalidArgument("mdstat: malformed device line");
    MdStat md;
    md.name = fields[0];
    md.activity_state = fields[2];
    if (lines.size() <= i + 3) return Bad(md.name, "too few lines");
    md.disks_failed = Count(line, "(F)");
    md.disks_spare = Count(line, "(S)");
    LOOKOUT_RETURN_IF_ERROR(EvalStatusLine(md.name, line, lines[i + 1], md));

    size_t sync = i + 2;
    if (Contains(lines[i + 2], "bitmap")) ++sync;
    std::string_view sl = lines[sync];
    md.blocks_synced = md.blocks_total;
    bool recovering = Contains(sl, "recovery");
    bool resyncing = Contains(sl, "resync");
    bool checking = Contains(sl, "check");
    if (recovering || resyncing || checking) {
      md.activity_state = recovering ? "recovering" : checking ? "checking" : "resyncing";
      if (Contains(sl, "PENDING") || Contains(sl, "DELAYED")) {
        md.blocks_synced = 0;
      } else {
        LOOKOUT_RETURN_IF_ERROR(EvalRecoveryLine(md.name, sl, md.blocks_synced));
      }
    }
    out.push_back(md);
  }
  return Status::Ok();
}

}  // namespace agent::procfs
