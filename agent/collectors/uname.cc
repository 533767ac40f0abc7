// uname: node_uname_info, the fields of uname(2).

#include <sys/utsname.h>

#include <cerrno>

#include "agent/collector.h"

namespace agent {
namespace {

class UnameCollector : public Collector {
 public:
  Status Update(MetricSet& out) override {
    struct utsname u;
    if (::uname(&u) != 0) return Status::FromErrno(errno, "uname");
    out.Gauge("node_uname_info", "The system's uname(2) fields as labels; always 1.", 1,
              {{"sysname", u.sysname},
               {"release", u.release},
               {"version", u.version},
               {"machine", u.machine},
               {"nodename", u.nodename},
               {"domainname", u.domainname}});
    return Status::Ok();
  }
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "uname",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext&) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<UnameCollector>());
    },
});

}  // namespace agent
