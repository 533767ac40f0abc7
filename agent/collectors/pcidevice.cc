// pcidevice: node_pcidevice_* for each PCI function in /sys/bus/pci/devices/<seg:bus:dev.fn>:
// identity and parent bridge (node_pcidevice_info), link speed (transfers per second) and
// width, power state, D3cold and SR-IOV attributes, NUMA node.
// A link attribute that is absent reads -1; SR-IOV and D3cold attributes that are absent read 0;
// the NUMA node is left out when unknown (-1). The identity files must be present and numeric,
// or the collector fails.
// Not implemented: --collector.pcidevice.names / .idsfile (pci.ids name labels).

#include <cinttypes>
#include <cstdio>

#include "agent/collector.h"
#include "agent/procfs/fs.h"
#include "agent/procfs/hw_common.h"

namespace agent {
namespace {

// strconv.ParseInt(s, 0, 32): sign, then 0x / 0o / 0b / leading-0 octal prefixes.
bool ParseGoInt32Base0(std::string_view s, int64_t& v) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  uint64_t u;
  if (!procfs::ParseUint(s, u, base)) return false;
  if (neg ? u > 2147483648ULL : u > 2147483647ULL) return false;
  v = neg ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
  return true;
}

struct Location {
  int64_t seg = 0, bus = 0, dev = 0, fn = 0;
  // Label strings: %04x, %02x, %02x, %x.
  char s_seg[16], s_bus[16], s_dev[16], s_fn[16];
  void Format() {
    std::snprintf(s_seg, sizeof s_seg, "%04" PRIx64, static_cast<uint64_t>(seg));
    std::snprintf(s_bus, sizeof s_bus, "%02" PRIx64, static_cast<uint64_t>(bus));
    std::snprintf(s_dev, sizeof s_dev, "%02" PRIx64, static_cast<uint64_t>(dev));
    std::snprintf(s_fn, sizeof s_fn, "%" PRIx64, static_cast<uint64_t>(fn));
  }
};

// "0000:00:02.1"
bool ParseLocation(std::string_view s, Location& loc) {
  size_t c1 = s.find(':');
  if (c1 == std::string_view::npos) return false;
  size_t c2 = s.find(':', c1 + 1);
  if (c2 == std::string_view::npos || s.find(':', c2 + 1) != std::string_view::npos) return false;
  std::string_view rest = s.substr(c2 + 1);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos || rest.find('.', dot + 1) != std::string_view::npos) {
    return false;
  }
  auto hex = [](std::string_view f, int64_t& v) {
    if (!procfs::ParseInt(f, v, 16)) return false;
    return v >= INT32_MIN && v <= INT32_MAX;
  };
  if (!hex(s.substr(0, c1), loc.seg) || !hex(s.substr(c1 + 1, c2 - c1 - 1), loc.bus) ||
      !hex(rest.substr(0, dot), loc.dev) || !hex(rest.substr(dot + 1), loc.fn)) {
    return false;
  }
  loc.Format();
  return true;
}

enum IdAttr { kClass, kVendor, kDevice, kSubVendor, kSubDevice, kRevision, kNuma, kNumIds };
constexpr std::string_view kIdFiles[kNumIds] = {
    "class", "vendor", "device", "subsystem_vendor", "subsystem_device", "revision", "numa_node"};

class PciDeviceCollector : public Collector {
 public:
  explicit PciDeviceCollector(const CollectorContext& ctx)
      : root_(ctx.paths.Sys("bus/pci/devices")) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(root_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::NotFound("no PCI devices: " + root_);
      return entries.status().Annotate("error obtaining PCI device info");
    }
    n_ = 0;
    for (const std::string& e : *entries) {
      if (n_ == devs_.size()) devs_.emplace_back();
      LOOKOUT_RETURN_IF_ERROR(Parse(e, devs_[n_]).Annotate("error obtaining PCI device info"));
      ++n_;
    }
    for (size_t i = 0; i < n_; ++i) Emit(devs_[i], out);
    return Status::Ok();
  }

 private:
  struct Dev {
    Location loc, parent;
    bool has_parent = false;
    int64_t id[kNumIds] = {};
    double max_speed = -1, cur_speed = -1, max_width = -1, cur_width = -1;
    double d3cold = 0, autoprobe = 0, numvfs = 0, totalvfs = 0, vf_msix = 0;
    std::string power_state;  // empty when absent
  };

  // Reads an attribute; `found` false when it does not exist.
  Status Read(std::string_view file, bool& found, std::string_view& value) {
    auto r = procfs::SysReadFile(procfs::JoinPath(path_, dir_, file), buf_);
    found = r.ok();
    value = r.value;
    if (r.ok() || r.NotExist()) return Status::Ok();
    return procfs::SysReadStatus(r, path_);
  }

  Status Parse(const std::string& name, Dev& d) {
    d = Dev();
    procfs::JoinPath(dir_, root_, name);
    auto target = procfs::ReadLink(dir_);
    if (!target.ok()) return target.status().Annotate("failed to readlink");
    std::string_view t = *target;
    while (!t.empty() && t.back() == '/') t.remove_suffix(1);
    size_t slash = t.rfind('/');
    std::string_view base = slash == std::string_view::npos ? t : t.substr(slash + 1);
    std::string_view parent_dir = slash == std::string_view::npos ? "." : t.substr(0, slash);
    while (!parent_dir.empty() && parent_dir.back() == '/') parent_dir.remove_suffix(1);
    slash = parent_dir.rfind('/');
    std::string_view parent =
        slash == std::string_view::npos ? parent_dir : parent_dir.substr(slash + 1);
    if (!ParseLocation(base, d.loc)) {
      return Status::InvalidArgument("bad device location \"" + std::string(base) + "\"");
    }
    // A parent named "pci<domain>:<bus>" is the host bridge, not a PCI function.
    if (parent.substr(0, 3) != "pci") {
      if (!ParseLocation(parent, d.parent)) {
        return Status::InvalidArgument("bad parent location \"" + std::string(parent) + "\"");
      }
      d.has_parent = true;
    }

    bool found;
    std::string_view v;
    for (size_t i = 0; i < kNumIds; ++i) {
      LOOKOUT_RETURN_IF_ERROR(Read(kIdFiles[i], found, v));
      if (!found) return Status::NotFound("missing " + path_);
      if (!ParseGoInt32Base0(v, d.id[i])) return Status::InvalidArgument("bad value in " + path_);
    }

    for (std::string_view f :
         {"max_link_speed", "max_link_width", "current_link_speed", "current_link_width"}) {
      LOOKOUT_RETURN_IF_ERROR(Read(f, found, v));
      if (!found || v.empty() || v.substr(0, 7) == "Unknown") continue;
      double* dst = f == "max_link_speed"       ? &d.max_speed
                    : f == "current_link_speed" ? &d.cur_speed
                    : f == "max_link_width"     ? &d.max_width
                                                : &d.cur_width;
      if (f.find("speed") != std::string_view::npos) {
        // "8.0 GT/s PCIe"
        size_t sp = v.find(' ');
        if (sp == std::string_view::npos || v.substr(sp + 1) != "GT/s PCIe") {
          return Status::InvalidArgument("bad link speed in " + path_);
        }
        double gts;
        if (!procfs::ParseDouble(procfs::TrimSpace(v.substr(0, sp)), gts)) {
          return Status::InvalidArgument("bad link speed in " + path_);
        }
        *dst = gts * 1e9;
      } else {
        int64_t w;
        if (!procfs::ParseInt(v, w)) return Status::InvalidArgument("bad link width in " + path_);
        *dst = static_cast<double>(w);
      }
    }

    for (std::string_view f :
         {"sriov_drivers_autoprobe", "sriov_numvfs", "sriov_offset", "sriov_stride",
          "sriov_totalvfs", "sriov_vf_device", "sriov_vf_total_msix", "d3cold_allowed"}) {
      LOOKOUT_RETURN_IF_ERROR(Read(f, found, v));
      if (!found || v.empty()) continue;
      if (f == "sriov_drivers_autoprobe" || f == "d3cold_allowed" || f == "sriov_vf_total_msix") {
        int64_t x;
        if (!procfs::ParseInt(v, x) ||
            (f != "sriov_vf_total_msix" && (x < INT32_MIN || x > INT32_MAX))) {
          return Status::InvalidArgument("bad value in " + path_);
        }
        if (f == "sriov_drivers_autoprobe")
          d.autoprobe = x != 0;
        else if (f == "d3cold_allowed")
          d.d3cold = x != 0;
        else
          d.vf_msix = static_cast<double>(static_cast<uint64_t>(x));
      } else {
        uint64_t x;
        if (!procfs::ParseUint(v, x) || x > UINT32_MAX) {
          return Status::InvalidArgument("bad value in " + path_);
        }
        if (f == "sriov_numvfs")
          d.numvfs = static_cast<double>(x);
        else if (f == "sriov_totalvfs")
          d.totalvfs = static_cast<double>(x);
      }
    }
    LOOKOUT_RETURN_IF_ERROR(Read("power_state", found, v));
    if (found) d.power_state.assign(v);
    return Status::Ok();
  }

  void Emit(const Dev& d, MetricSet& out) {
    char ids[6][16];
    std::snprintf(ids[0], sizeof ids[0], "0x%06" PRIx32, static_cast<uint32_t>(d.id[kClass]));
    std::snprintf(ids[1], sizeof ids[1], "0x%04" PRIx32, static_cast<uint32_t>(d.id[kVendor]));
    std::snprintf(ids[2], sizeof ids[2], "0x%04" PRIx32, static_cast<uint32_t>(d.id[kDevice]));
    std::snprintf(ids[3], sizeof ids[3], "0x%04" PRIx32, static_cast<uint32_t>(d.id[kSubVendor]));
    std::snprintf(ids[4], sizeof ids[4], "0x%04" PRIx32, static_cast<uint32_t>(d.id[kSubDevice]));
    std::snprintf(ids[5], sizeof ids[5], "0x%02" PRIx32, static_cast<uint32_t>(d.id[kRevision]));
    const Location& l = d.loc;
    out.Gauge("node_pcidevice_info", "Identity and parent of the PCI function; always 1.", 1,
              {{"segment", l.s_seg},
               {"bus", l.s_bus},
               {"device", l.s_dev},
               {"function", l.s_fn},
               {"parent_segment", d.has_parent ? d.parent.s_seg : "*"},
               {"parent_bus", d.has_parent ? d.parent.s_bus : "*"},
               {"parent_device", d.has_parent ? d.parent.s_dev : "*"},
               {"parent_function", d.has_parent ? d.parent.s_fn : "*"},
               {"class_id", ids[0]},
               {"vendor_id", ids[1]},
               {"device_id", ids[2]},
               {"subsystem_vendor_id", ids[3]},
               {"subsystem_device_id", ids[4]},
               {"revision", ids[5]}});
    common::metrics::Label labels[] = {
        {"segment", l.s_seg}, {"bus", l.s_bus}, {"device", l.s_dev}, {"function", l.s_fn}};
    auto gauge = [&](std::string_view name, std::string_view help, double v) {
      out.Add(name, help, MetricType::kGauge, v, labels);
    };
    gauge("node_pcidevice_max_link_transfers_per_second",
          "Highest link speed of the PCI function, in transfers per second (-1: unknown).",
          d.max_speed);
    gauge("node_pcidevice_max_link_width",
          "Widest link of the PCI function, in lanes (-1: "
          "unknown).",
          d.max_width);
    gauge("node_pcidevice_current_link_transfers_per_second",
          "Current link speed of the PCI function, in transfers per second (-1: unknown).",
          d.cur_speed);
    gauge("node_pcidevice_current_link_width",
          "Current link width of the PCI function, in lanes (-1: unknown).", d.cur_width);
    gauge("node_pcidevice_d3cold_allowed", "1 when the function may enter D3cold.", d.d3cold);
    gauge("node_pcidevice_sriov_drivers_autoprobe",
          "1 when drivers bind to new SR-IOV virtual functions automatically.", d.autoprobe);
    gauge("node_pcidevice_sriov_numvfs", "SR-IOV virtual functions enabled.", d.numvfs);
    gauge("node_pcidevice_sriov_totalvfs", "SR-IOV virtual functions supported.", d.totalvfs);
    gauge("node_pcidevice_sriov_vf_total_msix", "MSI-X vectors available to virtual functions.",
          d.vf_msix);
    if (!d.power_state.empty()) {
      for (std::string_view state : {"D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"}) {
        out.Gauge("node_pcidevice_power_state", "1 for the current power state of the function.",
                  d.power_state == state ? 1 : 0,
                  {{"segment", l.s_seg},
                   {"bus", l.s_bus},
                   {"device", l.s_dev},
                   {"function", l.s_fn},
                   {"state", state}});
      }
    }
    if (d.id[kNuma] != -1) {
      gauge("node_pcidevice_numa_node", "NUMA node of the PCI function.",
            static_cast<double>(d.id[kNuma]));
    }
  }

  std::string root_;
  std::vector<Dev> devs_;
  size_t n_ = 0;
  std::string dir_, path_, buf_;
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "pcidevice",
    .default_enabled = false,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<PciDeviceCollector>(ctx));
    },
});

}  // namespace agent
