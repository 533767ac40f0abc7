// ingest_load: the load generator of bench/ingest (not a test; run by the bench/ingest script).
//
//   ingest_load gen  --hosts H --series-per-host S --steps N --out FILE
//                    [--histograms] [--keep-metrics NAME,NAME...]
//       Simulates H hosts running node_exporter (S series each, counters and gauges with
//       node_exporter-like value patterns) scraped every 15 s for N steps, and writes one
//       snappy-compressed remote_write request per host and step to FILE. Every target of a run
//       replays the same file, byte for byte, and the sender spends no CPU on encoding.
//       --histograms adds a classic histogram per host (an application's
//       http_request_duration_seconds, 2 handlers x 12 buckets + _sum + _count; node_exporter
//       itself exposes none). --keep-metrics keeps every series of the named metrics and fills
//       the rest of S with an even sample of the others (bench/query: the series its dashboard
//       queries read, plus padding).
//   ingest_load send --file FILE --url http://127.0.0.1:PORT/api/v1/write --connections C
//       Replays FILE as fast as the target accepts it over C keep-alive HTTP/1.1 connections
//       (one thread each). Connection i sends the hosts with host % C == i in time order, so
//       every series stays in order; no connection runs more than --window steps ahead of the
//       slowest. 5xx and 429 answers are retried (the samples count once acknowledged); other
//       answers reject the request. Prints one JSON object with the results.
//
// File format (little-endian): header {char magic[8] = "LKINGST1"; u32 hosts, series_per_host,
// steps, reserved; i64 start_ms, interval_ms}, then per request {u32 step, host, samples,
// body_len; body}, ordered by step then host.

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/proto/remote_write.h"
#include "common/snappy/snappy.h"

namespace {

constexpr char kMagic[8] = {'L', 'K', 'I', 'N', 'G', 'S', 'T', '1'};

struct FileHeader {
  char magic[8];
  uint32_t hosts, series_per_host, steps, reserved;
  int64_t start_ms, interval_ms;
};
struct RecordHeader {
  uint32_t step, host, samples, body_len;
};

// ---------------------------------------------------------------------------------------------
// The simulated host: a node_exporter-like catalog of series and their value patterns.

enum class Kind {
  kConst,      // a: value (sizes, limits, info metrics)
  kBool,       // a: initial 0/1, b: flip probability per scrape (up, carrier, readonly)
  kCounter,    // a: rate per second, b: resolution (1, 512, 0.01, 0.001, 1e-9), c: relative jitter
  kRare,       // a: probability of +1 per scrape (errors, drops, OOM kills)
  kWalk,       // a: start, b: resolution, c: typical change in resolution units, d: change prob.
  kNoisy,      // a: mean, b: relative spread, c: decimals (-1: full precision) (durations, GC)
  kLoad,       // a: mean (load averages; two decimals, smoothed)
  kTime,       // node_time_seconds: the scrape time with nanoseconds
  kHistBucket, // a: upper bound (inf: +Inf bucket and _count), b: median (s), c: requests/s,
               // d: handler (index into HistState)
  kHistSum,    // the histogram's _sum; a, b, c, d as kHistBucket
};

// The requests one simulated histogram saw in the current scrape, shared by its series.
struct HistState {
  int64_t t_ms = INT64_MIN;  // the scrape `inc` belongs to
  double base = 0;           // requests before the first scrape (the application runs already)
  double inc = 0;            // requests in this scrape
  double scale = 1;          // latency scale this scrape (a mean-reverting walk)
};
constexpr int kHistHandlers = 2;

struct SeriesDef {
  std::vector<std::pair<std::string, std::string>> labels;  // without instance/job
  Kind kind;
  double a = 0, b = 0, c = 0, d = 0;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Catalog {
 public:
  void Add(std::string name, Labels l, Kind k, double a = 0, double b = 0, double c = 0,
           double d = 0) {
    l.emplace_back("__name__", std::move(name));
    defs_.push_back(SeriesDef{std::move(l), k, a, b, c, d});
  }
  std::vector<SeriesDef>& defs() { return defs_; }

 private:
  std::vector<SeriesDef> defs_;
};

// One host of 16 CPUs, 4 disks, 4 network interfaces and 6 file systems, with the
// default-enabled node_exporter collectors (about 1,000 series), plus the series Prometheus adds
// per scrape. Rates and sizes vary per host (`rng`). More series than the catalog holds are
// made of node_interrupts_total lines (the interrupts collector); fewer keep an even sample.
std::vector<SeriesDef> HostCatalog(std::mt19937_64& rng, uint32_t want, size_t* base_size,
                                   bool histograms, const std::vector<std::string>& keep) {
  std::uniform_real_distribution<double> u(0, 1);
  auto vary = [&](double x) { return x * (0.5 + u(rng)); };
  Catalog c;
  const int cpus = 16;
  struct Mode {
    const char* name;
    double rate;
  };
  const Mode modes[] = {{"idle", 0.85}, {"iowait", 0.01}, {"irq", 0},       {"nice", 0.001},
                        {"softirq", 0.005}, {"steal", 0},  {"system", 0.03}, {"user", 0.09}};
  for (int i = 0; i < cpus; ++i) {
    std::string cpu = std::to_string(i);
    for (const Mode& m : modes) {
      if (m.rate == 0) {
        c.Add("node_cpu_seconds_total", {{"cpu", cpu}, {"mode", m.name}}, Kind::kConst, 0);
      } else {
        c.Add("node_cpu_seconds_total", {{"cpu", cpu}, {"mode", m.name}}, Kind::kCounter,
              vary(m.rate), 0.01, 0.3);
      }
    }
    for (const char* m : {"nice", "user"}) {
      c.Add("node_cpu_guest_seconds_total", {{"cpu", cpu}, {"mode", m}}, Kind::kConst, 0);
    }
    c.Add("node_schedstat_running_seconds_total", {{"cpu", cpu}}, Kind::kCounter, vary(0.12), 1e-9, 0.3);
    c.Add("node_schedstat_waiting_seconds_total", {{"cpu", cpu}}, Kind::kCounter, vary(0.01), 1e-9, 0.5);
    c.Add("node_schedstat_timeslices_total", {{"cpu", cpu}}, Kind::kCounter, vary(400), 1, 0.3);
    c.Add("node_softnet_processed_total", {{"cpu", cpu}}, Kind::kCounter, vary(150), 1, 0.4);
    c.Add("node_softnet_dropped_total", {{"cpu", cpu}}, Kind::kConst, 0);
    c.Add("node_softnet_times_squeezed_total", {{"cpu", cpu}}, Kind::kRare, 0.02);
  }
  const char* disks[] = {"nvme0n1", "nvme1n1", "sda", "sdb"};
  for (const char* d : disks) {
    Labels l = {{"device", d}};
    c.Add("node_disk_reads_completed_total", l, Kind::kCounter, vary(40), 1, 0.5);
    c.Add("node_disk_reads_merged_total", l, Kind::kCounter, vary(2), 1, 0.8);
    c.Add("node_disk_read_bytes_total", l, Kind::kCounter, vary(800e3), 512, 0.6);
    c.Add("node_disk_read_time_seconds_total", l, Kind::kCounter, vary(0.02), 0.001, 0.6);
    c.Add("node_disk_writes_completed_total", l, Kind::kCounter, vary(60), 1, 0.5);
    c.Add("node_disk_writes_merged_total", l, Kind::kCounter, vary(20), 1, 0.8);
    c.Add("node_disk_written_bytes_total", l, Kind::kCounter, vary(1.5e6), 512, 0.6);
    c.Add("node_disk_write_time_seconds_total", l, Kind::kCounter, vary(0.05), 0.001, 0.6);
    c.Add("node_disk_io_now", l, Kind::kWalk, 0, 1, 1, 0.3);
    c.Add("node_disk_io_time_seconds_total", l, Kind::kCounter, vary(0.04), 0.001, 0.5);
    c.Add("node_disk_io_time_weighted_seconds_total", l, Kind::kCounter, vary(0.08), 0.001, 0.6);
    c.Add("node_disk_discards_completed_total", l, Kind::kRare, 0.05);
    c.Add("node_disk_discards_merged_total", l, Kind::kConst, 0);
    c.Add("node_disk_discarded_sectors_total", l, Kind::kRare, 0.05);
    c.Add("node_disk_discard_time_seconds_total", l, Kind::kRare, 0.05);
    c.Add("node_disk_flush_requests_total", l, Kind::kCounter, vary(1), 1, 0.8);
    c.Add("node_disk_flush_requests_time_seconds_total", l, Kind::kCounter, vary(0.002), 0.001, 0.8);
    c.Add("node_disk_info", {{"device", d}, {"major", "259"}, {"minor", "0"}}, Kind::kConst, 1);
  }
  const char* ifaces[] = {"docker0", "eth0", "eth1", "lo"};
  for (const char* ifc : ifaces) {
    Labels l = {{"device", ifc}};
    double bytes = std::string(ifc) == "eth0" ? 5e6 : 2e5;
    c.Add("node_network_receive_bytes_total", l, Kind::kCounter, vary(bytes), 1, 0.5);
    c.Add("node_network_receive_packets_total", l, Kind::kCounter, vary(bytes / 700), 1, 0.5);
    c.Add("node_network_transmit_bytes_total", l, Kind::kCounter, vary(bytes / 2), 1, 0.5);
    c.Add("node_network_transmit_packets_total", l, Kind::kCounter, vary(bytes / 900), 1, 0.5);
    c.Add("node_network_receive_drop_total", l, Kind::kRare, 0.01);
    c.Add("node_network_receive_multicast_total", l, Kind::kRare, 0.2);
    for (const char* n : {"node_network_receive_errs_total", "node_network_receive_fifo_total",
                          "node_network_receive_frame_total", "node_network_receive_compressed_total",
                          "node_network_transmit_errs_total", "node_network_transmit_drop_total",
                          "node_network_transmit_fifo_total", "node_network_transmit_colls_total",
                          "node_network_transmit_carrier_total",
                          "node_network_transmit_compressed_total", "node_network_carrier_changes_total",
                          "node_network_carrier_up_changes_total",
                          "node_network_carrier_down_changes_total"}) {
      c.Add(n, l, Kind::kConst, std::string(n).find("changes") != std::string::npos ? 2 : 0);
    }
    c.Add("node_network_up", l, Kind::kBool, 1, 0.0002);
    c.Add("node_network_carrier", l, Kind::kBool, 1, 0.0002);
    c.Add("node_network_mtu_bytes", l, Kind::kConst, std::string(ifc) == "lo" ? 65536 : 1500);
    c.Add("node_network_speed_bytes", l, Kind::kConst, 1.25e9);
    c.Add("node_network_transmit_queue_length", l, Kind::kConst, 1000);
    c.Add("node_network_dormant", l, Kind::kConst, 0);
    c.Add("node_network_flags", l, Kind::kConst, 4099);
    c.Add("node_network_iface_id", l, Kind::kConst, 2);
    c.Add("node_network_iface_link", l, Kind::kConst, 2);
    c.Add("node_network_iface_link_mode", l, Kind::kConst, 0);
    c.Add("node_network_name_assign_type", l, Kind::kConst, 4);
    c.Add("node_network_net_dev_group", l, Kind::kConst, 0);
    c.Add("node_network_protocol_type", l, Kind::kConst, 1);
    c.Add("node_network_address_assign_type", l, Kind::kConst, 0);
    c.Add("node_network_device_id", l, Kind::kConst, 0);
    c.Add("node_network_info",
          {{"address", "52:54:00:12:34:56"}, {"broadcast", "ff:ff:ff:ff:ff:ff"}, {"device", ifc},
           {"duplex", "full"}, {"operstate", "up"}},
          Kind::kConst, 1);
    c.Add("node_arp_entries", l, Kind::kWalk, 4, 1, 1, 0.02);
  }
  struct Fs {
    const char* dev;
    const char* type;
    const char* mount;
  };
  const Fs fss[] = {{"/dev/nvme0n1p2", "ext4", "/"},     {"/dev/nvme0n1p1", "vfat", "/boot/efi"},
                    {"/dev/nvme1n1", "xfs", "/var/lib"}, {"/dev/sda1", "ext4", "/home"},
                    {"/dev/sdb1", "xfs", "/data"},       {"tmpfs", "tmpfs", "/run"}};
  for (const Fs& f : fss) {
    Labels l = {{"device", f.dev}, {"fstype", f.type}, {"mountpoint", f.mount}};
    double size = std::ldexp(1, 30 + static_cast<int>(u(rng) * 9));  // 1 GiB .. 256 GiB
    double free_blocks = std::floor(size * (0.2 + 0.6 * u(rng)) / 4096);
    c.Add("node_filesystem_size_bytes", l, Kind::kConst, size);
    c.Add("node_filesystem_free_bytes", l, Kind::kWalk, free_blocks * 4096, 4096, 30, 0.6);
    c.Add("node_filesystem_avail_bytes", l, Kind::kWalk, free_blocks * 4096 * 0.95, 4096, 30, 0.6);
    c.Add("node_filesystem_files", l, Kind::kConst, std::floor(size / 16384));
    c.Add("node_filesystem_files_free", l, Kind::kWalk, std::floor(size / 20000), 1, 5, 0.5);
    c.Add("node_filesystem_readonly", l, Kind::kConst, 0);
    c.Add("node_filesystem_device_error", l, Kind::kConst, 0);
  }
  // meminfo: kB values times 1024; constants, slow walks and busy ones.
  double total = std::ldexp(1, 34 + static_cast<int>(u(rng) * 3));  // 16..64 GiB
  struct Mem {
    const char* name;
    double frac;  // of MemTotal
    int kind;     // 0 const, 1 slow walk, 2 busy walk
  };
  const Mem mems[] = {
      {"MemTotal", 1, 0},           {"MemFree", 0.2, 2},           {"MemAvailable", 0.6, 2},
      {"Buffers", 0.02, 1},         {"Cached", 0.35, 2},           {"SwapCached", 0, 0},
      {"Active", 0.3, 2},           {"Inactive", 0.25, 1},         {"Active_anon", 0.15, 2},
      {"Inactive_anon", 0.02, 1},   {"Active_file", 0.15, 1},      {"Inactive_file", 0.23, 1},
      {"Unevictable", 0.001, 0},    {"Mlocked", 0.001, 0},         {"SwapTotal", 0, 0},
      {"SwapFree", 0, 0},           {"Dirty", 0.0001, 2},          {"Writeback", 0, 0},
      {"AnonPages", 0.16, 2},       {"Mapped", 0.03, 1},           {"Shmem", 0.01, 1},
      {"KReclaimable", 0.03, 1},    {"Slab", 0.05, 1},             {"SReclaimable", 0.03, 1},
      {"SUnreclaim", 0.02, 1},      {"KernelStack", 0.001, 1},     {"PageTables", 0.003, 1},
      {"NFS_Unstable", 0, 0},       {"Bounce", 0, 0},              {"WritebackTmp", 0, 0},
      {"CommitLimit", 0.5, 0},      {"Committed_AS", 0.4, 2},      {"VmallocTotal", 2048, 0},
      {"VmallocUsed", 0.002, 1},    {"VmallocChunk", 0, 0},        {"Percpu", 0.0005, 0},
      {"HardwareCorrupted", 0, 0},  {"AnonHugePages", 0.01, 1},    {"ShmemHugePages", 0, 0},
      {"ShmemPmdMapped", 0, 0},     {"FileHugePages", 0, 0},       {"FilePmdMapped", 0, 0},
      {"HugePages_Total", 0, 0},    {"HugePages_Free", 0, 0},      {"HugePages_Rsvd", 0, 0},
      {"HugePages_Surp", 0, 0},     {"Hugepagesize", 0, 0},        {"Hugetlb", 0, 0},
      {"DirectMap4k", 0.02, 0},     {"DirectMap2M", 0.6, 0},       {"DirectMap1G", 0.4, 0}};
  for (const Mem& m : mems) {
    std::string name = std::string("node_memory_") + m.name + "_bytes";
    double v = std::floor(total * m.frac / 1024) * 1024;
    if (std::string(m.name) == "Hugepagesize") v = 2097152;
    if (m.kind == 0) {
      c.Add(name, {}, Kind::kConst, v);
    } else {
      c.Add(name, {}, Kind::kWalk, v, 1024, m.kind == 1 ? 50 : 3000, m.kind == 1 ? 0.5 : 1.0);
    }
  }
  for (const char* n : {"pgpgin", "pgpgout", "pgfault"}) {
    c.Add(std::string("node_vmstat_") + n, {}, Kind::kCounter, vary(n[2] == 'f' ? 5000 : 800), 1, 0.5);
  }
  c.Add("node_vmstat_pgmajfault", {}, Kind::kCounter, vary(0.5), 1, 1);
  for (const char* n : {"pswpin", "pswpout", "oom_kill"}) c.Add(std::string("node_vmstat_") + n, {}, Kind::kConst, 0);
  struct Net {
    const char* name;
    double rate;  // < 0: gauge walk around -rate; 0: rare
  };
  const Net nets[] = {{"Icmp_InErrors", 0},         {"Icmp_InMsgs", 0.5},          {"Icmp_OutMsgs", 0.5},
                      {"Icmp6_InErrors", 0},        {"Icmp6_InMsgs", 0.2},         {"Icmp6_OutMsgs", 0.2},
                      {"Ip_Forwarding", -1},        {"Ip6_InOctets", 2000},        {"Ip6_OutOctets", 1800},
                      {"IpExt_InOctets", 5e6},      {"IpExt_OutOctets", 2.5e6},    {"TcpExt_ListenDrops", 0},
                      {"TcpExt_ListenOverflows", 0}, {"TcpExt_SyncookiesFailed", 0}, {"TcpExt_SyncookiesRecv", 0},
                      {"TcpExt_SyncookiesSent", 0}, {"TcpExt_TCPSynRetrans", 0},   {"TcpExt_TCPTimeouts", 0},
                      {"Tcp_ActiveOpens", 3},       {"Tcp_CurrEstab", -40},        {"Tcp_InErrs", 0},
                      {"Tcp_InSegs", 4000},         {"Tcp_OutRsts", 1},            {"Tcp_OutSegs", 3500},
                      {"Tcp_PassiveOpens", 2},      {"Tcp_RetransSegs", 0.3},      {"Udp_InDatagrams", 30},
                      {"Udp_InErrors", 0},          {"Udp_NoPorts", 0},            {"Udp_OutDatagrams", 30},
                      {"Udp_RcvbufErrors", 0},      {"Udp_SndbufErrors", 0},       {"Udp6_InDatagrams", 1},
                      {"Udp6_InErrors", 0},         {"Udp6_NoPorts", 0},           {"Udp6_OutDatagrams", 1},
                      {"UdpLite_InErrors", 0},      {"UdpLite6_InErrors", 0}};
  for (const Net& n : nets) {
    std::string name = std::string("node_netstat_") + n.name;
    if (n.rate < 0) {
      c.Add(name, {}, Kind::kWalk, -n.rate, 1, -n.rate > 1 ? 3 : 0, 0.7);
    } else if (n.rate == 0) {
      c.Add(name, {}, Kind::kRare, 0.01);
    } else {
      c.Add(name, {}, Kind::kCounter, vary(n.rate), 1, 0.5);
    }
  }
  for (const char* n : {"FRAG_inuse", "FRAG_memory", "FRAG6_inuse", "FRAG6_memory", "RAW_inuse",
                        "RAW6_inuse", "TCP_alloc", "TCP_inuse", "TCP_mem", "TCP_mem_bytes", "TCP_orphan",
                        "TCP_tw", "TCP6_inuse", "UDP_inuse", "UDP_mem", "UDP_mem_bytes", "UDP6_inuse",
                        "UDPLITE_inuse", "UDPLITE6_inuse", "sockets_used"}) {
    std::string s = n;
    bool zero = s.find("FRAG") != std::string::npos || s.find("LITE") != std::string::npos ||
                s.find("RAW") != std::string::npos;
    if (zero) {
      c.Add("node_sockstat_" + s, {}, Kind::kConst, 0);
    } else {
      double scale = s.find("bytes") != std::string::npos ? 4096 : 1;
      c.Add("node_sockstat_" + s, {}, Kind::kWalk, std::floor(vary(200)) * scale, scale, 3, 0.8);
    }
  }
  const char* collectors[] = {
      "arp",     "bcache",   "bonding",  "btrfs",       "conntrack", "cpu",       "cpufreq",
      "diskstats", "dmi",    "edac",     "entropy",     "fibrechannel", "filefd", "filesystem",
      "hwmon",   "infiniband", "ipvs",   "loadavg",     "mdadm",     "meminfo",   "netclass",
      "netdev",  "netstat",  "nfs",      "nfsd",        "nvme",      "os",        "powersupplyclass",
      "pressure", "rapl",    "schedstat", "selinux",    "sockstat",  "softnet",   "stat",
      "tapestats", "textfile", "thermal_zone", "time",  "timex",     "udp_queues", "uname",
      "vmstat",  "xfs",      "zfs"};
  for (const char* col : collectors) {
    c.Add("node_scrape_collector_duration_seconds", {{"collector", col}}, Kind::kNoisy,
          vary(0.0008), 0.5, -1);
    c.Add("node_scrape_collector_success", {{"collector", col}}, Kind::kBool, 1, 0.0001);
  }
  for (int i = 0; i < 4; ++i) {
    Labels l = {{"chip", "platform_coretemp_0"}, {"sensor", "temp" + std::to_string(i + 1)}};
    c.Add("node_hwmon_temp_celsius", l, Kind::kWalk, 45 + 10 * u(rng), 1, 2, 0.6);
    c.Add("node_hwmon_temp_crit_celsius", l, Kind::kConst, 100);
    c.Add("node_hwmon_temp_max_celsius", l, Kind::kConst, 84);
    c.Add("node_hwmon_temp_crit_alarm_celsius", l, Kind::kConst, 0);
    c.Add("node_hwmon_chip_names", {{"chip", "platform_coretemp_" + std::to_string(i)},
                                    {"chip_name", "coretemp"}}, Kind::kConst, 1);
  }
  c.Add("node_thermal_zone_temp", {{"type", "x86_pkg_temp"}, {"zone", "0"}}, Kind::kWalk, 48, 1, 2, 0.6);
  for (const char* r : {"cpu", "io", "memory"}) {
    c.Add(std::string("node_pressure_") + r + "_waiting_seconds_total", {}, Kind::kCounter, vary(0.01),
          1e-6, 0.8);
  }
  c.Add("node_pressure_io_stalled_seconds_total", {}, Kind::kCounter, vary(0.005), 1e-6, 0.8);
  c.Add("node_pressure_memory_stalled_seconds_total", {}, Kind::kConst, 0);
  c.Add("node_load1", {}, Kind::kLoad, vary(2));
  c.Add("node_load5", {}, Kind::kLoad, vary(2));
  c.Add("node_load15", {}, Kind::kLoad, vary(2));
  c.Add("node_procs_running", {}, Kind::kWalk, 2, 1, 2, 0.9);
  c.Add("node_procs_blocked", {}, Kind::kWalk, 0, 1, 1, 0.2);
  c.Add("node_context_switches_total", {}, Kind::kCounter, vary(8000), 1, 0.4);
  c.Add("node_intr_total", {}, Kind::kCounter, vary(6000), 1, 0.4);
  c.Add("node_forks_total", {}, Kind::kCounter, vary(20), 1, 0.6);
  c.Add("node_boot_time_seconds", {}, Kind::kConst, 1.7e9 - std::floor(u(rng) * 3e6));
  c.Add("node_time_seconds", {}, Kind::kTime);
  c.Add("node_time_zone_offset_seconds", {{"time_zone", "UTC"}}, Kind::kConst, 0);
  c.Add("node_entropy_available_bits", {}, Kind::kConst, 256);
  c.Add("node_entropy_pool_size_bits", {}, Kind::kConst, 256);
  c.Add("node_filefd_allocated", {}, Kind::kWalk, 3000, 32, 2, 0.8);
  c.Add("node_filefd_maximum", {}, Kind::kConst, 9.223372036854776e18);
  c.Add("node_nf_conntrack_entries", {}, Kind::kWalk, 300, 1, 8, 0.9);
  c.Add("node_nf_conntrack_entries_limit", {}, Kind::kConst, 262144);
  c.Add("node_uname_info", {{"domainname", "(none)"}, {"machine", "x86_64"}, {"nodename", "node"},
                            {"release", "6.1.0-13-amd64"}, {"sysname", "Linux"},
                            {"version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)"}},
        Kind::kConst, 1);
  c.Add("node_os_info", {{"id", "debian"}, {"name", "Debian GNU/Linux"}, {"version_id", "12"}},
        Kind::kConst, 1);
  c.Add("node_exporter_build_info", {{"goversion", "go1.19.8"}, {"version", "1.5.0"}}, Kind::kConst, 1);
  c.Add("node_textfile_scrape_error", {}, Kind::kConst, 0);
  c.Add("node_selinux_enabled", {}, Kind::kConst, 0);
  for (const char* n : {"offset_seconds", "frequency_adjustment_ratio", "estimated_error_seconds",
                        "maxerror_seconds"}) {
    c.Add(std::string("node_timex_") + n, {}, Kind::kNoisy, vary(1e-4), 0.3, -1);
  }
  for (const char* n : {"sync_status", "status", "loop_time_constant", "tai_offset_seconds",
                        "tick_seconds", "pps_frequency_hertz", "pps_jitter_seconds",
                        "pps_shift_seconds", "pps_stability_exceeded_total",
                        "pps_calibration_total", "pps_error_total", "pps_jitter_total",
                        "pps_stability_hertz"}) {
    c.Add(std::string("node_timex_") + n, {}, Kind::kConst, std::string(n) == "sync_status" ? 1 : 0);
  }
  // The exporter's own Go and process metrics.
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    c.Add("go_gc_duration_seconds", {{"quantile", q}}, Kind::kNoisy, vary(4e-5), 0.4, -1);
  }
  c.Add("go_gc_duration_seconds_sum", {}, Kind::kCounter, vary(1e-4), 1e-9, 1);
  c.Add("go_gc_duration_seconds_count", {}, Kind::kCounter, vary(0.2), 1, 1);
  c.Add("go_goroutines", {}, Kind::kWalk, 8, 1, 1, 0.3);
  c.Add("go_threads", {}, Kind::kConst, 8);
  c.Add("go_info", {{"version", "go1.19.8"}}, Kind::kConst, 1);
  for (const char* n : {"alloc_bytes", "heap_alloc_bytes", "heap_inuse_bytes", "heap_idle_bytes",
                        "stack_inuse_bytes", "mspan_inuse_bytes", "next_gc_bytes"}) {
    c.Add(std::string("go_memstats_") + n, {}, Kind::kNoisy, vary(3e6), 0.3, 0);
  }
  for (const char* n : {"alloc_bytes_total", "mallocs_total", "frees_total", "lookups_total"}) {
    c.Add(std::string("go_memstats_") + n, {}, Kind::kCounter,
          n[0] == 'l' ? 0 : vary(n[0] == 'a' ? 2e5 : 2000), 1, 0.5);
  }
  for (const char* n : {"sys_bytes", "heap_sys_bytes", "heap_released_bytes", "stack_sys_bytes",
                        "mspan_sys_bytes", "mcache_inuse_bytes", "mcache_sys_bytes",
                        "buck_hash_sys_bytes", "gc_sys_bytes", "other_sys_bytes"}) {
    c.Add(std::string("go_memstats_") + n, {}, Kind::kWalk, std::floor(vary(5e6) / 8192) * 8192, 8192,
          2, 0.05);
  }
  c.Add("go_memstats_heap_objects", {}, Kind::kNoisy, vary(20000), 0.2, 0);
  c.Add("go_memstats_last_gc_time_seconds", {}, Kind::kTime);
  c.Add("go_memstats_gc_cpu_fraction", {}, Kind::kNoisy, vary(1e-5), 0.05, -1);
  c.Add("process_cpu_seconds_total", {}, Kind::kCounter, vary(0.01), 0.01, 0.8);
  c.Add("process_max_fds", {}, Kind::kConst, 1048576);
  c.Add("process_open_fds", {}, Kind::kWalk, 10, 1, 1, 0.3);
  c.Add("process_resident_memory_bytes", {}, Kind::kWalk, 2.2e7, 4096, 20, 0.7);
  c.Add("process_start_time_seconds", {}, Kind::kConst, 1.7e9 - std::floor(u(rng) * 1e6) / 100);
  c.Add("process_virtual_memory_bytes", {}, Kind::kWalk, 7.3e8, 4096, 10, 0.1);
  c.Add("process_virtual_memory_max_bytes", {}, Kind::kConst, 1.8446744073709552e19);
  c.Add("promhttp_metric_handler_requests_in_flight", {}, Kind::kConst, 1);
  c.Add("promhttp_metric_handler_requests_total", {{"code", "200"}}, Kind::kCounter, 1.0 / 15, 1, 0);
  c.Add("promhttp_metric_handler_requests_total", {{"code", "500"}}, Kind::kConst, 0);
  c.Add("promhttp_metric_handler_requests_total", {{"code", "503"}}, Kind::kConst, 0);
  // Added by the scraping Prometheus.
  c.Add("up", {}, Kind::kBool, 1, 0.0001);
  c.Add("scrape_duration_seconds", {}, Kind::kNoisy, vary(0.02), 0.3, -1);
  c.Add("scrape_samples_scraped", {}, Kind::kConst, want);
  c.Add("scrape_samples_post_metric_relabeling", {}, Kind::kConst, want);
  c.Add("scrape_series_added", {}, Kind::kConst, 0);
  if (histograms) {
    // An application's request latency (Prometheus client default buckets), log-normal with a
    // per-handler median; +Inf and _count carry the same count.
    const char* handlers[kHistHandlers] = {"/api/v1/orders", "/metrics"};
    const double medians[kHistHandlers] = {0.04, 0.004};
    for (int h = 0; h < kHistHandlers; ++h) {
      double rate = vary(h == 0 ? 40 : 0.1);
      for (double le : {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, HUGE_VAL}) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", le);
        c.Add("http_request_duration_seconds_bucket",
              {{"handler", handlers[h]}, {"le", std::isinf(le) ? "+Inf" : buf}}, Kind::kHistBucket,
              le, medians[h], rate, h);
      }
      c.Add("http_request_duration_seconds_count", {{"handler", handlers[h]}}, Kind::kHistBucket,
            HUGE_VAL, medians[h], rate, h);
      c.Add("http_request_duration_seconds_sum", {{"handler", handlers[h]}}, Kind::kHistSum, 0,
            medians[h], rate, h);
    }
  }

  std::vector<SeriesDef>& defs = c.defs();
  *base_size = defs.size();
  // Interrupt lines (per CPU), as the interrupts collector exposes them, fill up to `want`.
  for (uint32_t irq = 0; defs.size() < want; ++irq) {
    for (int cpu = 0; cpu < cpus && defs.size() < want; ++cpu) {
      Labels l = {{"cpu", std::to_string(cpu)},
                  {"devices", irq % 5 == 0 ? "nvme0q" + std::to_string(irq) : "eth0-TxRx-" + std::to_string(irq)},
                  {"info", irq % 5 == 0 ? "PCI-MSI" : "IR-PCI-MSI"},
                  {"type", std::to_string(24 + irq)}};
      l.emplace_back("__name__", "node_interrupts_total");
      // An IRQ is pinned to a few CPUs: on the others its count does not move.
      if ((irq + static_cast<uint32_t>(cpu)) % 5 != 0) {
        defs.push_back(SeriesDef{std::move(l), Kind::kConst, std::floor(u(rng) * 50)});
      } else {
        defs.push_back(SeriesDef{std::move(l), Kind::kCounter, vary(30), 1, 0.6});
      }
    }
  }
  if (!keep.empty()) {
    // Every series of the `keep` metrics, then an even sample of the others, in catalog order.
    auto name_of = [](const SeriesDef& d) -> const std::string& { return d.labels.back().second; };
    std::vector<bool> take(defs.size());
    size_t kept = 0;
    for (size_t i = 0; i < defs.size(); ++i) {
      take[i] = std::find(keep.begin(), keep.end(), name_of(defs[i])) != keep.end();
      kept += take[i];
    }
    if (kept > want) {
      throw std::runtime_error("--keep-metrics selects " + std::to_string(kept) +
                               " series per host, more than --series-per-host");
    }
    std::vector<size_t> others;
    for (size_t i = 0; i < defs.size(); ++i) {
      if (!take[i]) others.push_back(i);
    }
    size_t pad = want - kept;
    for (size_t j = 0; j < pad; ++j) take[others[j * others.size() / pad]] = true;
    std::vector<SeriesDef> out;
    out.reserve(want);
    for (size_t i = 0; i < defs.size(); ++i) {
      if (take[i]) out.push_back(std::move(defs[i]));
    }
    defs = std::move(out);
  } else if (defs.size() > want) {  // an even sample keeps the mix
    std::vector<SeriesDef> keep_defs;
    keep_defs.reserve(want);
    for (uint32_t i = 0; i < want; ++i) keep_defs.push_back(std::move(defs[i * defs.size() / want]));
    defs = std::move(keep_defs);
  }
  return std::move(defs);
}

struct SeriesState {
  double value = 0;
  int64_t units = 0;  // counters: value = units * resolution, kept exact
};

// Advances `st` of series `d` by one scrape interval and returns the new value.
double NextValue(const SeriesDef& d, SeriesState& st, std::mt19937_64& rng, int64_t t_ms,
                 double interval_s, bool first, HistState* hist) {
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> n(0, 1);
  switch (d.kind) {
    case Kind::kConst:
      return d.a;
    case Kind::kBool:
      if (first) st.value = d.a;
      if (u(rng) < d.b) st.value = st.value > 0 ? 0 : 1;
      return st.value;
    case Kind::kCounter: {
      double res = d.b;
      double inc = std::max(0.0, d.a * interval_s * (1 + d.c * n(rng)));
      if (first) st.units = static_cast<int64_t>(d.a * 86400 * (1 + 30 * u(rng)) / res);
      st.units += static_cast<int64_t>(std::llround(inc / res));
      // Decimal resolutions are parsed from text by the exporter: divide, as strtod would round.
      return res < 1 ? static_cast<double>(st.units) / std::round(1 / res)
                     : static_cast<double>(st.units) * res;
    }
    case Kind::kRare:
      if (first) st.units = static_cast<int64_t>(u(rng) * 20);
      if (u(rng) < d.a) st.units++;
      return static_cast<double>(st.units);
    case Kind::kWalk: {
      if (first) st.units = static_cast<int64_t>(std::llround(d.a / d.b));
      if (u(rng) < d.d) {
        st.units += static_cast<int64_t>(std::llround(d.c * n(rng)));
        if (st.units < 0) st.units = 0;
      }
      return static_cast<double>(st.units) * d.b;
    }
    case Kind::kNoisy: {
      double v = std::max(0.0, d.a * (1 + d.b * n(rng)));
      if (d.c >= 0) v = std::round(v * std::pow(10, d.c)) / std::pow(10, d.c);
      return v;
    }
    case Kind::kLoad:
      if (first) st.value = d.a;
      st.value = std::max(0.0, st.value + 0.2 * (d.a - st.value) + 0.15 * d.a * n(rng));
      return std::round(st.value * 100) / 100;
    case Kind::kTime:
      return static_cast<double>(t_ms) / 1000 + (2 + u(rng) * 3) / 1000 + u(rng) * 1e-6;
    case Kind::kHistBucket:
    case Kind::kHistSum: {
      HistState& h = hist[static_cast<int>(d.d)];
      if (h.t_ms != t_ms) {  // the first series of this histogram in this scrape
        if (h.t_ms == INT64_MIN) h.base = std::round(d.c * 86400 * (1 + 30 * u(rng)));
        h.t_ms = t_ms;
        h.inc = std::max(0.0, std::round(d.c * interval_s * (1 + 0.3 * n(rng))));
        h.scale = std::exp(0.8 * std::log(h.scale) + 0.15 * n(rng));
      }
      const double sigma = 0.8;
      double median = d.b * h.scale;
      if (d.kind == Kind::kHistSum) {
        if (first) st.value = h.base * d.b * std::exp(sigma * sigma / 2);
        st.value += h.inc * median * std::exp(sigma * sigma / 2) * (1 + 0.05 * n(rng));
        return st.value;
      }
      // Observations <= le of a log-normal(median, sigma): monotone in le, so buckets stay
      // cumulative; +Inf and _count get every request.
      auto cdf = [&](double m) {
        return std::isinf(d.a) ? 1 : 0.5 * std::erfc(-std::log(d.a / m) / (sigma * std::sqrt(2)));
      };
      if (first) st.units = static_cast<int64_t>(std::floor(h.base * cdf(d.b)));
      double frac = cdf(median);
      st.units += static_cast<int64_t>(std::floor(h.inc * frac));
      return static_cast<double>(st.units);
    }
  }
  return 0;
}

void PutUvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Protobuf bytes of the labels of one TimeSeries (field 1, repeated Label{1: name, 2: value}).
std::string EncodeLabelFields(const Labels& labels) {
  std::string out, l;
  for (const auto& [k, v] : labels) {
    l.clear();
    l += '\x0a';
    PutUvarint(l, k.size());
    l += k;
    l += '\x12';
    PutUvarint(l, v.size());
    l += v;
    out += '\x0a';
    PutUvarint(out, l.size());
    out += l;
  }
  return out;
}

// Appends TimeSeries{labels, Sample{1: value (double), 2: timestamp (int64)}} as field 1 of a
// WriteRequest; byte-identical to what common/proto's EncodeWriteRequest produces (checked in Gen).
void AppendSeries(std::string& out, const std::string& label_fields, double v, int64_t t) {
  std::string sample;
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  if (bits != 0) {  // proto3 leaves out zero values
    sample += '\x09';
    for (int i = 0; i < 8; ++i) sample += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  if (t != 0) {
    sample += '\x10';
    PutUvarint(sample, static_cast<uint64_t>(t));
  }
  out += '\x0a';
  PutUvarint(out, label_fields.size() + 1 + 1 + sample.size());  // sample.size() < 128
  out += label_fields;
  out += '\x12';
  out += static_cast<char>(sample.size());
  out += sample;
}

int Gen(uint32_t hosts, uint32_t series_per_host, uint32_t steps, int64_t start_ms,
        int64_t interval_ms, double jitter_prob, const std::string& out_path, uint64_t seed,
        bool histograms, const std::vector<std::string>& keep) {
  FILE* f = std::fopen(out_path.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "ingest_load: cannot create %s: %s\n", out_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(4 << 20);
  std::setvbuf(f, buf.data(), _IOFBF, buf.size());
  FileHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.hosts = hosts;
  h.series_per_host = series_per_host;
  h.steps = steps;
  h.start_ms = start_ms;
  h.interval_ms = interval_ms;
  std::fwrite(&h, sizeof h, 1, f);

  struct Host {
    std::vector<SeriesDef> defs;
    std::vector<SeriesState> state;
    std::vector<std::string> label_fields;  // pre-encoded labels of each series
    std::mt19937_64 rng;
    int64_t offset_ms;  // the scrape's phase within the interval
    HistState hist[kHistHandlers];
  };
  std::vector<Host> hs(hosts);
  uint64_t label_bytes = 0;
  size_t base_size = 0;
  std::vector<Labels> host0_labels;
  for (uint32_t i = 0; i < hosts; ++i) {
    Host& x = hs[i];
    x.rng.seed(seed * 1000003 + i);
    x.defs = HostCatalog(x.rng, series_per_host, &base_size, histograms, keep);
    x.state.resize(x.defs.size());
    x.offset_ms = static_cast<int64_t>(x.rng() % static_cast<uint64_t>(interval_ms));
    char inst[64];
    std::snprintf(inst, sizeof inst, "node-%05u.dc%u.example.net:9100", i, i % 3 + 1);
    for (const SeriesDef& d : x.defs) {
      Labels l = d.labels;
      l.emplace_back("instance", inst);
      l.emplace_back("job", "node");
      std::sort(l.begin(), l.end());
      for (const auto& [k, v] : l) label_bytes += k.size() + v.size();
      x.label_fields.push_back(EncodeLabelFields(l));
      if (i == 0) host0_labels.push_back(std::move(l));
    }
  }
  uint64_t requests = 0, samples = 0, bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::uniform_real_distribution<double> u(0, 1);
  std::string raw;
  for (uint32_t step = 0; step < steps; ++step) {
    for (uint32_t i = 0; i < hosts; ++i) {
      Host& x = hs[i];
      // Scrape timestamps keep their phase; now and then a scrape starts late by a few ms.
      int64_t t = start_ms + static_cast<int64_t>(step) * interval_ms + x.offset_ms;
      if (u(x.rng) < jitter_prob) t += 3 + static_cast<int64_t>(x.rng() % 40);
      raw.clear();
      common::proto::RwRequest check;
      for (size_t k = 0; k < x.defs.size(); ++k) {
        double v = NextValue(x.defs[k], x.state[k], x.rng, t,
                             static_cast<double>(interval_ms) / 1000, step == 0, x.hist);
        AppendSeries(raw, x.label_fields[k], v, t);
        if (step == 0 && i == 0) check.series.push_back({host0_labels[k], {{v, t}}});
      }
      std::string body = common::snappy::Compress(raw);
      if (step == 0 && i == 0 && common::proto::EncodeWriteRequest(check) != body) {
        std::fprintf(stderr, "ingest_load: internal error: the request encoder disagrees with "
                             "common/proto's EncodeWriteRequest\n");
        std::fclose(f);
        return 1;
      }
      RecordHeader r{step, i, static_cast<uint32_t>(x.defs.size()), static_cast<uint32_t>(body.size())};
      std::fwrite(&r, sizeof r, 1, f);
      std::fwrite(body.data(), 1, body.size(), f);
      ++requests;
      samples += x.defs.size();
      bytes += body.size();
    }
  }
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "ingest_load: write %s: %s\n", out_path.c_str(), std::strerror(errno));
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"requests\": %" PRIu64 ", \"samples\": %" PRIu64 ", \"series\": %" PRIu64
              ", \"body_bytes\": %" PRIu64 ", \"label_bytes_per_series\": %.1f, \"catalog_series\": %zu"
              ", \"seconds\": %.2f}\n",
              requests, samples, static_cast<uint64_t>(hosts) * series_per_host, bytes,
              hosts ? static_cast<double>(label_bytes) / (static_cast<double>(hosts) * series_per_host) : 0,
              base_size, secs);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Sender

struct Record {
  uint32_t step, host, samples;
  const char* body;
  uint32_t len;
};

// A keep-alive HTTP/1.1 connection to 127.0.0.1:port. Not thread-safe.
class Conn {
 public:
  Conn(uint16_t port, std::string path) : port_(port), path_(std::move(path)) {}
  ~Conn() { Close(); }

  // Posts `body`; returns the HTTP status, or -1 on a connection error (`err` says why).
  int Post(const char* body, size_t len, std::string& resp_body, std::string& err) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = fd_ >= 0;
      if (fd_ < 0 && !Connect(err)) return -1;
      char head[512];
      int n = std::snprintf(head, sizeof head,
                            "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: lookout-ingest-bench\r\n"
                            "Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n"
                            "X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: %zu\r\n\r\n",
                            path_.c_str(), port_, len);
      iovec iov[2] = {{head, static_cast<size_t>(n)}, {const_cast<char*>(body), len}};
      resp_reads_ = 0;
      int status = WriteAll(iov, err) ? ReadResponse(resp_body, err) : -1;
      if (status >= 0) return status;
      Close();
      // A keep-alive connection the server closed while idle: send again on a new one.
      if (!reused || resp_reads_ > 0) return -1;
    }
    return -1;
  }

 private:
  bool Connect(std::string& err) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      err = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      err = std::string("connect: ") + std::strerror(errno);
      Close();
      return false;
    }
    buf_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool WriteAll(iovec* iov, std::string& err) {
    int cnt = 2;
    while (cnt > 0) {
      ssize_t w = ::writev(fd_, iov, cnt);
      if (w < 0) {
        if (errno == EINTR) continue;
        err = std::string("write: ") + std::strerror(errno);
        return false;
      }
      size_t left = static_cast<size_t>(w);
      while (cnt > 0 && left >= iov[0].iov_len) {
        left -= iov[0].iov_len;
        ++iov;
        --cnt;
      }
      if (cnt > 0) {
        iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + left;
        iov[0].iov_len -= left;
      }
    }
    return true;
  }
  // Reads more bytes into buf_; false on EOF or error.
  bool Fill(std::string& err) {
    char tmp[16384];
    for (;;) {
      ssize_t r = ::read(fd_, tmp, sizeof tmp);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        err = r == 0 ? "connection closed by the server" : std::string("read: ") + std::strerror(errno);
        return false;
      }
      buf_.append(tmp, static_cast<size_t>(r));
      ++resp_reads_;
      return true;
    }
  }
  int ReadResponse(std::string& body, std::string& err) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(err)) return -1;
    }
    std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    int status = 0;
    if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
      err = "bad status line";
      return -1;
    }
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    bool chunked = lower.find("\r\ntransfer-encoding: chunked") != std::string::npos;
    bool close = lower.find("\r\nconnection: close") != std::string::npos;
    long long clen = -1;
    if (size_t p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
      clen = std::atoll(lower.c_str() + p + 17);
    }
    body.clear();
    if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
      clen = 0;
    }
    if (chunked) {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill(err)) return -1;
        }
        size_t n = std::strtoul(buf_.c_str(), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < n + 2) {
          if (!Fill(err)) return -1;
        }
        body.append(buf_, 0, n);
        buf_.erase(0, n + 2);
        if (n == 0) break;  // (no trailers expected)
      }
    } else if (clen >= 0) {
      while (buf_.size() < static_cast<size_t>(clen)) {
        if (!Fill(err)) return -1;
      }
      body = buf_.substr(0, static_cast<size_t>(clen));
      buf_.erase(0, static_cast<size_t>(clen));
    } else {
      std::string e;
      while (Fill(e)) {
      }
      body = std::move(buf_);
      buf_.clear();
      close = true;
    }
    if (close) Close();
    return status;
  }

  uint16_t port_;
  std::string path_;
  int fd_ = -1;
  std::string buf_;
  int resp_reads_ = 0;  // reads that returned bytes for the current response
};

struct SendStats {
  uint64_t acked_samples = 0, rejected_samples = 0, ok_requests = 0, rejected_requests = 0;
  uint64_t retries = 0, failed_requests = 0;
  std::vector<double> latencies_ms;
  std::string first_error;
};

std::string JsonEscape(std::string_view s) {
  std::string o;
  for (char ch : s.substr(0, 300)) {
    if (ch == '"' || ch == '\\') {
      o += '\\';
      o += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      o += ' ';
    } else {
      o += ch;
    }
  }
  return o;
}

int Send(const std::string& file, const std::string& url, uint32_t connections, uint32_t window,
         uint32_t max_steps) {
  // http://127.0.0.1:PORT/path
  unsigned port = 0;
  char path[256] = "/api/v1/write";
  if (std::sscanf(url.c_str(), "http://127.0.0.1:%u%255s", &port, path) < 1 || port == 0 || port > 65535) {
    std::fprintf(stderr, "ingest_load: --url must be http://127.0.0.1:PORT/path\n");
    return 2;
  }
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || ::fstat(fd, &sb) != 0) {
    std::fprintf(stderr, "ingest_load: open %s: %s\n", file.c_str(), std::strerror(errno));
    return 1;
  }
  size_t size = static_cast<size_t>(sb.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED || size < sizeof(FileHeader)) {
    std::fprintf(stderr, "ingest_load: mmap %s: %s\n", file.c_str(), std::strerror(errno));
    return 1;
  }
  const char* base = static_cast<const char*>(map);
  FileHeader h;
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) {
    std::fprintf(stderr, "ingest_load: %s is not an ingest_load file\n", file.c_str());
    return 1;
  }
  uint32_t steps = max_steps > 0 ? std::min(max_steps, h.steps) : h.steps;
  std::vector<std::vector<Record>> per_conn(connections);
  for (size_t off = sizeof h; off + sizeof(RecordHeader) <= size;) {
    RecordHeader r;
    std::memcpy(&r, base + off, sizeof r);
    off += sizeof r;
    if (off + r.body_len > size) break;
    if (r.step < steps) per_conn[r.host % connections].push_back({r.step, r.host, r.samples, base + off, r.body_len});
    off += r.body_len;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint32_t> at_step(connections, 0);  // the step each connection works on
  auto min_step = [&] { return *std::min_element(at_step.begin(), at_step.end()); };
  std::vector<SendStats> stats(connections);
  std::atomic<bool> abort{false};
  // "Sustained" excludes step 0, where every series is created: it counts from the moment the
  // slowest connection starts step 1 (the others are at most --window steps ahead).
  std::chrono::steady_clock::time_point t_warm{};
  std::atomic<uint64_t> warm_samples{0};

  auto worker = [&](uint32_t id) {
    Conn conn(static_cast<uint16_t>(port), path);
    SendStats& st = stats[id];
    std::string resp, err;
    for (const Record& r : per_conn[id]) {
      if (abort.load()) return;
      {
        std::unique_lock<std::mutex> l(mu);
        if (at_step[id] != r.step) {
          at_step[id] = r.step;
          if (t_warm == std::chrono::steady_clock::time_point{} && min_step() >= 1) {
            t_warm = std::chrono::steady_clock::now();
          }
          cv.notify_all();
        }
        cv.wait(l, [&] { return r.step <= min_step() + window || abort.load(); });
      }
      int failures = 0;
      for (;;) {
        auto t0 = std::chrono::steady_clock::now();
        int status = conn.Post(r.body, r.len, resp, err);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (status >= 200 && status < 300) {
          st.acked_samples += r.samples;
          st.ok_requests++;
          if (r.step >= 1) warm_samples += r.samples;
          st.latencies_ms.push_back(ms);
          break;
        }
        std::string why = status < 0 ? err : "HTTP " + std::to_string(status) + ": " + resp;
        if (status >= 400 && status < 500 && status != 429) {
          st.rejected_samples += r.samples;
          st.rejected_requests++;
          if (st.first_error.empty()) st.first_error = why;
          break;
        }
        st.retries++;
        if (st.first_error.empty()) st.first_error = why;
        if (++failures > 30) {
          st.failed_requests++;
          abort = true;
          cv.notify_all();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures, 7))));
      }
    }
    std::lock_guard<std::mutex> l(mu);
    at_step[id] = UINT32_MAX;  // done: no longer holds the others back
    if (t_warm == std::chrono::steady_clock::time_point{} && min_step() >= 1) {
      t_warm = std::chrono::steady_clock::now();
    }
    cv.notify_all();
  };

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (uint32_t i = 0; i < connections; ++i) ts.emplace_back(worker, i);
  for (auto& t : ts) t.join();
  auto t_end = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(t_end - t0).count();
  double warm_secs = t_warm == std::chrono::steady_clock::time_point{}
                         ? 0
                         : std::chrono::duration<double>(t_end - t_warm).count();

  SendStats all;
  for (auto& s : stats) {
    all.acked_samples += s.acked_samples;
    all.rejected_samples += s.rejected_samples;
    all.ok_requests += s.ok_requests;
    all.rejected_requests += s.rejected_requests;
    all.retries += s.retries;
    all.failed_requests += s.failed_requests;
    all.latencies_ms.insert(all.latencies_ms.end(), s.latencies_ms.begin(), s.latencies_ms.end());
    if (all.first_error.empty()) all.first_error = s.first_error;
  }
  std::sort(all.latencies_ms.begin(), all.latencies_ms.end());
  auto pct = [&](double p) {
    if (all.latencies_ms.empty()) return 0.0;
    return all.latencies_ms[std::min(all.latencies_ms.size() - 1,
                                     static_cast<size_t>(p * static_cast<double>(all.latencies_ms.size())))];
  };
  std::printf("{\"acked_samples\": %" PRIu64 ", \"rejected_samples\": %" PRIu64 ", \"ok_requests\": %" PRIu64
              ", \"rejected_requests\": %" PRIu64 ", \"retries\": %" PRIu64 ", \"failed_requests\": %" PRIu64
              ", \"seconds\": %.3f, \"samples_per_s\": %.1f, \"sustained_samples_per_s\": %.1f"
              ", \"latency_p50_ms\": %.2f, \"latency_p99_ms\": %.2f, \"first_error\": \"%s\"}\n",
              all.acked_samples, all.rejected_samples, all.ok_requests, all.rejected_requests, all.retries,
              all.failed_requests, secs, static_cast<double>(all.acked_samples) / secs,
              warm_secs > 0 ? static_cast<double>(warm_samples.load()) / warm_secs : 0.0, pct(0.5), pct(0.99),
              JsonEscape(all.first_error).c_str());
  ::munmap(map, size);
  return abort.load() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"ingest_load: remote_write load generator of bench/ingest."};
  app.require_subcommand(1);
  auto* gen = app.add_subcommand("gen", "Write the simulated requests to a file.");
  uint32_t hosts = 20, sph = 1000, steps = 241;
  int64_t start_ms = 0, interval_ms = 15000;
  double jitter = 0.02;
  uint64_t seed = 1;
  std::string out, file, url;
  gen->add_option("--hosts", hosts, "Simulated hosts.")->capture_default_str();
  gen->add_option("--series-per-host", sph, "Series per host.")->capture_default_str();
  gen->add_option("--steps", steps, "Scrape intervals to simulate.")->capture_default_str();
  gen->add_option("--start-ms", start_ms, "Timestamp of the first step (ms).")->required();
  gen->add_option("--interval-ms", interval_ms, "Scrape interval (ms).")->capture_default_str();
  gen->add_option("--ts-jitter", jitter, "Share of scrapes whose timestamp is a few ms late.")
      ->capture_default_str();
  gen->add_option("--seed", seed, "Random seed.")->capture_default_str();
  gen->add_option("--out", out, "Output file.")->required();
  bool histograms = false;
  std::vector<std::string> keep;
  gen->add_flag("--histograms", histograms,
                "Add a classic histogram per host (http_request_duration_seconds, 2 handlers).");
  gen->add_option("--keep-metrics", keep,
                  "Keep every series of these metrics; fill the rest with an even sample.")
      ->delimiter(',');
  auto* send = app.add_subcommand("send", "Replay a file to a remote_write receiver.");
  uint32_t conns = 8, window = 2, max_steps = 0;
  send->add_option("--file", file, "File written by gen.")->required();
  send->add_option("--url", url, "http://127.0.0.1:PORT/api/v1/write")->required();
  send->add_option("--connections", conns, "Concurrent keep-alive connections.")->capture_default_str();
  send->add_option("--window", window, "Steps a connection may run ahead of the slowest.")
      ->capture_default_str();
  send->add_option("--max-steps", max_steps, "Send only the first N steps (0: all).")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (gen->parsed()) {
    if (hosts == 0 || sph == 0 || steps == 0 || interval_ms <= 0) {
      std::fprintf(stderr, "ingest_load: --hosts, --series-per-host, --steps must be positive\n");
      return 2;
    }
    return Gen(hosts, sph, steps, start_ms, interval_ms, jitter, out, seed, histograms, keep);
  }
  if (conns == 0) conns = 1;
  return Send(file, url, conns, window, max_steps);
} catch (const std::exception& e) {
  std::fprintf(stderr, "ingest_load: fatal: %s\n", e.what());
  return 1;
}
