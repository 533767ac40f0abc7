#include "agent/procfs/hw_common.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace agent::procfs {
namespace {

TEST(HwCommon, CleanMetricName) {
  struct Case {
    std::string in, want;
  };
  for (const Case& c : std::vector<Case>{
           {"coretemp\n", "coretemp"},
           {"Core 0", "core_0"},
           {"asus-nb-wmi", "asus_nb_wmi"},
           {"__x__", "x"},
           {"___", ""},
           {"applesmc.768", "applesmc_768"},
           {"a\xC3\xA9z", "a_z"},  // one rune, one '_'
           {"\xE2\x84\xAA", "k"},  // KELVIN SIGN lowers to ASCII k
           {"a\xFF"
            "b",
            "a_b"},  // invalid byte
       }) {
    std::string out;
    CleanMetricName(c.in, out);
    EXPECT_EQ(out, c.want) << c.in;
  }
}

TEST(HwCommon, SplitSensorFilename) {
  struct Case {
    std::string name;
    bool ok;
    std::string type;
    int num;
    std::string prop;
  };
  for (const Case& c : std::vector<Case>{
           {"temp1_input", true, "temp", 1, "input"},
           {"temp1_crit_alarm", true, "temp", 1, "crit_alarm"},
           {"pwm1_auto_point1_pwm", true, "pwm", 1, "auto_point1_pwm"},
           {"in0", true, "in", 0, ""},
           {"beep_enable", true, "beep_enable", 0, ""},
           {"update_interval", true, "update_interval", 0, ""},
           {"name", true, "name", 0, ""},
           {"temp01_max", true, "temp", 1, "max"},
           {"in_foo1x", true, "in", 0, "foo1x"},  // backtracks to the "_" split
           {"temp1x", false, "", 0, ""},
           {"1temp", false, "", 0, ""},
           {"temp1_", false, "", 0, ""},
           {"temp99999999999999999999_input", false, "", 0, ""},
       }) {
    std::string_view type, prop;
    int num = -1;
    bool ok = SplitSensorFilename(c.name, type, num, prop);
    EXPECT_EQ(ok, c.ok) << c.name;
    if (!ok || !c.ok) continue;
    EXPECT_EQ(type, c.type) << c.name;
    EXPECT_EQ(num, c.num) << c.name;
    EXPECT_EQ(prop, c.prop) << c.name;
  }
}

TEST(HwCommon, ToValidUtf8) {
  std::string buf;
  EXPECT_EQ(ToValidUtf8("plain", buf), "plain");
  EXPECT_EQ(ToValidUtf8("LNV-45N1\xEF\xBF\xBD", buf), "LNV-45N1\xEF\xBF\xBD");
  // A run of invalid bytes becomes one replacement character.
  EXPECT_EQ(ToValidUtf8("a\xFF\xFE"
                        "b",
                        buf),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToValidUtf8("\xC3", buf), "\xEF\xBF\xBD");          // truncated sequence
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80", buf), "\xEF\xBF\xBD");  // surrogate
}

TEST(HwCommon, TrimNewlines) {
  EXPECT_EQ(TrimNewlines("\n\nx y \n"), "x y ");
  EXPECT_EQ(TrimNewlines("\n"), "");
}

TEST(HwCommon, RegexFilter) {
  auto none = RegexFilter::Make("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->Ignored("anything"));
  auto inc = RegexFilter::Make("", "(coretemp|hwmon4)");
  ASSERT_TRUE(inc.ok());
  EXPECT_FALSE(inc->Ignored("platform_coretemp_0"));  // unanchored, as Go's MatchString
  EXPECT_TRUE(inc->Ignored("nct6779"));
  auto exc = RegexFilter::Make("^platform_", "");
  ASSERT_TRUE(exc.ok());
  EXPECT_TRUE(exc->Ignored("platform_applesmc_768"));
  EXPECT_FALSE(exc->Ignored("hwmon4"));
  EXPECT_FALSE(RegexFilter::Make("(", "").ok());
  EXPECT_FALSE(RegexFilter::Make("", "[a-").ok());
}

TEST(HwCommon, SysReadFile) {
  std::string buf;
  auto missing = SysReadFile("/nonexistent/lookout/attr", buf);
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(missing.at_open);
  EXPECT_TRUE(missing.NotExist());

  char tmpl[] = "/tmp/hw_common_testXXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string content = "  42 \n" + std::string(300, 'x');
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  auto r = SysReadFile(tmpl, buf);
  ASSERT_TRUE(r.ok());
  // One read of at most 128 bytes, then whitespace trimmed.
  EXPECT_EQ(r.value, content.substr(2, 126));
  std::remove(tmpl);

  auto dir = SysReadFile("/tmp", buf);  // opening works, reading a directory does not
  EXPECT_FALSE(dir.ok());
  EXPECT_FALSE(dir.at_open);
  EXPECT_EQ(dir.err, EISDIR);
}

TEST(HwCommon, JoinPath) {
  std::string out;
  EXPECT_EQ(JoinPath(out, "/sys/class", "hwmon"), "/sys/class/hwmon");
  EXPECT_EQ(JoinPath(out, "/sys/", "x"), "/sys/x");
}

}  // namespace
}  // namespace agent::procfs
