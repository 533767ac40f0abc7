#include "agent/procfs/cpu.h"

#include <string>

#include "agent/procfs/fs.h"

namespace agent::procfs {
namespace {

constexpr double kUserHz = 100;

Status Bad(std::string_view path, std::string_view what) {
  std::string m = "bad ";
  m += what;
  m += " in ";
  m += path;
  return Status::InvalidArgument(m);
}

// A "cpu"/"cpuN" line: up to ten counters, fewer is fine (older kernels), garbage is not.
Status ParseCpuLine(std::string_view line, std::string_view path, int64_t& id, CpuTimes& t) {
  t = CpuTimes{};
  double* slots[] = {&t.user, &t.nice,    &t.system, &t.idle,  &t.iowait,
                     &t.irq,  &t.softirq, &t.steal,  &t.guest, &t.guest_nice};
  size_t n = 0;
  std::string_view name;
  while (!line.empty()) {
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    line.remove_prefix(i);
    if (line.empty()) break;
    size_t j = 0;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    std::string_view field = line.substr(0, j);
    line.remove_prefix(j);
    if (name.empty()) {
      name = field;
      continue;
    }
    if (n == std::size(slots)) break;
    double v;
    if (!ParseDouble(field, v)) return Bad(path, "cpu counter");
    *slots[n++] = v / kUserHz;
  }
  if (name == "cpu") {
    id = -1;
    return Status::Ok();
  }
  if (!ParseInt(name.substr(3), id)) return Bad(path, "cpu number");
  return Status::Ok();
}

}  // namespace

Status ParseProcStat(std::string_view content, std::string_view path, ProcStat& out) {
  auto cpus = std::move(out.cpus);
  cpus.clear();
  out = ProcStat{};
  out.cpus = std::move(cpus);
  Status st;
  std::string_view key, value;
  ForEachLine(content, [&](std::string_view line) {
    if (!st.ok()) return;
    std::string_view rest = TrimSpace(line);
    size_t sp = rest.find_first_of(" \t");
    if (sp == std::string_view::npos) return;  // fewer than two fields
    key = rest.substr(0, sp);
    rest = TrimSpace(rest.substr(sp));
    value = rest.substr(0, rest.find_first_of(" \t"));
    uint64_t* target = nullptr;
    if (key == "btime") {
      target = &out.boot_time;
    } else if (key == "intr") {
      target = &out.irq_total;
      // The numbered IRQ counts must parse too, as they do for node_exporter.
      std::string_view irqs = TrimSpace(rest.substr(value.size()));
      while (!irqs.empty()) {
        size_t e = irqs.find_first_of(" \t");
        uint64_t v;
        if (!ParseUint(irqs.substr(0, e), v)) {
          st = Bad(path, "intr count");
          return;
        }
        if (e == std::string_view::npos) break;
        irqs = TrimSpace(irqs.substr(e));
      }
    } else if (key == "ctxt") {
      target = &out.context_switches;
    } else if (key == "processes") {
      target = &out.processes_created;
    } else if (key == "procs_running") {
      target = &out.procs_running;
    } else if (key == "procs_blocked") {
      target = &out.procs_blocked;
    } else if (key == "softirq") {
      // Total plus exactly the ten vectors; a shorter line is an error.
      uint64_t vals[1 + kSoftirqVectorCount];
      size_t n = 0;
      while (!rest.empty() && n < std::size(vals)) {
        size_t e = rest.find_first_of(" \t");
        if (!ParseUint(rest.substr(0, e), vals[n++])) {
          st = Bad(path, "softirq count");
          return;
        }
        if (e == std::string_view::npos) break;
        rest = TrimSpace(rest.substr(e));
      }
      if (n < std::size(vals)) {
        st = Bad(path, "softirq line");
        return;
      }
      out.softirq_total = vals[0];
      for (int i = 0; i < kSoftirqVectorCount; ++i) out.softirq[i] = vals[i + 1];
      return;
    } else if (key.substr(0, 3) == "cpu") {
      int64_t id;
      CpuTimes t;
      st = ParseCpuLine(line, path, id, t);
      if (!st.ok()) return;
      if (id < 0) {
        out.cpu_total = t;
      } else {
        // A repeated cpu number replaces the earlier line, as a map would.
        for (auto& [cid, ct] : out.cpus) {
          if (cid == id) {
            ct = t;
            return;
          }
        }
        out.cpus.emplace_back(id, t);
      }
      return;
    } else {
      return;
    }
    if (!ParseUint(value, *target)) st = Bad(path, key);
  });
  return st;
}

Status ParseCpuList(std::string_view s, std::string_view path, std::vector<uint32_t>& out) {
  out.clear();
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  std::vector<std::string_view> parts;
  Split(s, ',', parts);
  for (std::string_view p : parts) {
    if (p.empty()) continue;
    size_t dash = p.find('-');
    uint64_t lo, hi;
    if (dash == std::string_view::npos) {
      if (!ParseUint(p, lo) || lo > 0xffff) return Bad(path, "cpu list");
      out.push_back(static_cast<uint32_t>(lo));
      continue;
    }
    if (!ParseUint(p.substr(0, dash), lo) || !ParseUint(p.substr(dash + 1), hi) || lo > hi ||
        hi > 0xffff) {
      return Bad(path, "cpu range");
    }
    for (uint64_t c = lo; c <= hi; ++c) out.push_back(static_cast<uint32_t>(c));
  }
  return Status::Ok();
}

}  // namespace agent::procfs
