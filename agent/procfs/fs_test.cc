#include "agent/procfs/fs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace agent::procfs {
namespace {

TEST(Fs, SplitAndParse) {
  std::vector<std::string_view> f;
  SplitFields("  a \t b\nc  ", f);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[2], "c");
  Split("a::b", ':', f);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1], "");
  uint64_t u;
  EXPECT_TRUE(ParseUint("42", u));
  EXPECT_EQ(u, 42u);
  EXPECT_FALSE(ParseUint("42x", u));
  EXPECT_FALSE(ParseUint("", u));
  EXPECT_TRUE(ParseUint("0x1f", u, 16));
  EXPECT_EQ(u, 31u);
  double d;
  EXPECT_TRUE(ParseDouble("1.5e3", d));
  EXPECT_EQ(d, 1500);
  EXPECT_FALSE(ParseDouble("abc", d));
  int64_t i;
  EXPECT_TRUE(ParseInt("-7", i));
  EXPECT_EQ(i, -7);
}

TEST(Fs, ReadFilesAndErrors) {
  auto dir = std::filesystem::temp_directory_path() / ("fs_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "n") << "123\n";
  std::ofstream(dir / "bad") << "12x\n";
  EXPECT_EQ(*ReadUint((dir / "n").string()), 123u);
  EXPECT_TRUE(ReadUint((dir / "bad").string()).status().IsInvalidArgument());
  EXPECT_TRUE(ReadUint((dir / "missing").string()).status().IsNotFound());
  auto names = ListDir(dir.string());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
  EXPECT_EQ((*names)[0], "bad");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace agent::procfs
