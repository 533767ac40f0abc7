#include "agent/procfs/cpu.h"

#include <gtest/gtest.h>

#include "agent/procfs/flag_regex.h"

namespace agent::procfs {
namespace {

TEST(ProcStat, ParsesCountersAndCpus) {
  const char* kStat =
      "cpu  301854 612 111922 8979004 3552 2 3944 0 44 36\n"
      "cpu0 44490 19 21045 1087069 220 1 3410 0 2 1\n"
      "cpu1 47869 23\n"  // an old kernel: fewer columns
      "intr 8885917 17 0 0 1\n"
      "ctxt 38014093\n"
      "btime 1418183276\n"
      "processes 26442\n"
      "procs_running 2\n"
      "procs_blocked 0\n"
      "softirq 5057579 250191 1481983 1647 211099 186066 0 1783454 622196 12499 508444\n"
      "unknown_key 1 2 3\n"
      "lonely\n";
  ProcStat s;
  ASSERT_TRUE(ParseProcStat(kStat, "stat", s).ok());
  EXPECT_EQ(s.irq_total, 8885917u);
  EXPECT_EQ(s.context_switches, 38014093u);
  EXPECT_EQ(s.boot_time, 1418183276u);
  EXPECT_EQ(s.processes_created, 26442u);
  EXPECT_EQ(s.procs_running, 2u);
  EXPECT_EQ(s.softirq_total, 5057579u);
  EXPECT_EQ(s.softirq[kSoftirqTasklet], 1783454u);
  EXPECT_EQ(s.softirq[kSoftirqRcu], 508444u);
  ASSERT_EQ(s.cpus.size(), 2u);
  EXPECT_EQ(s.cpus[0].first, 0);
  EXPECT_DOUBLE_EQ(s.cpus[0].second.idle, 10870.69);
  EXPECT_DOUBLE_EQ(s.cpus[0].second.guest_nice, 0.01);
  EXPECT_DOUBLE_EQ(s.cpus[1].second.nice, 0.23);
  EXPECT_DOUBLE_EQ(s.cpus[1].second.idle, 0);
  EXPECT_DOUBLE_EQ(s.cpu_total.user, 3018.54);

  // Reuse keeps nothing from the previous parse.
  ASSERT_TRUE(ParseProcStat("ctxt 5\n", "stat", s).ok());
  EXPECT_TRUE(s.cpus.empty());
  EXPECT_EQ(s.irq_total, 0u);
}

TEST(ProcStat, RejectsGarbage) {
  ProcStat s;
  for (const char* bad : {"ctxt x\n", "cpu0 1 2 x\n", "cpuX 1 2\n", "intr 5 1 y 3\n",
                          "softirq 1 2 3\n", "btime -1\n"}) {
    Status st = ParseProcStat(bad, "stat", s);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
  }
  EXPECT_TRUE(ParseProcStat("", "stat", s).ok());
}

TEST(CpuList, Ranges) {
  std::vector<uint32_t> v;
  ASSERT_TRUE(ParseCpuList("1,3-5,9\n", "isolated", v).ok());
  EXPECT_EQ(v, (std::vector<uint32_t>{1, 3, 4, 5, 9}));
  ASSERT_TRUE(ParseCpuList("\n", "isolated", v).ok());
  EXPECT_TRUE(v.empty());
  for (const char* bad : {"1-", "a", "3-1", "1-2-3", " 1", "70000"}) {
    EXPECT_FALSE(ParseCpuList(bad, "isolated", v).ok()) << bad;
  }
}

TEST(FlagRegex, SearchesUnanchoredLikeGo) {
  auto re = FlagRegex::Compile("^(aes|avx.?|constant_tsc)$");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->Search("avx2"));
  EXPECT_FALSE(re->Search("avx512f"));
  auto part = FlagRegex::Compile("pg.*fault");
  ASSERT_TRUE(part.ok());
  EXPECT_TRUE(part->Search("xx_pgmajfault_yy"));
  auto icase = FlagRegex::Compile("(?i)^LO$");
  ASSERT_TRUE(icase.ok());
  EXPECT_TRUE(icase->Search("lo"));
  auto named = FlagRegex::Compile("^(?P<dev>eth[0-9]+)$");
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(named->Search("eth0"));
  EXPECT_TRUE(FlagRegex::Compile("(unclosed").status().IsInvalidArgument());
}

}  // namespace
}  // namespace agent::procfs
