// FsWatch over real inotify: directory and file events, errors for missing paths, destruction
// from inside the callback, and RunUntil's time limit.

#include "common/event/fs_watch.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "common/event/run_until.h"

namespace common::event {
namespace {

class FsWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fswatch.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    RunFor(loop_, 5);  // close callbacks of watches destroyed by the test body
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  Loop loop_;
  std::string dir_;
};

TEST_F(FsWatchTest, DirectoryReportsCreatedAndChangedEntries) {
  FsWatch w(loop_);
  std::set<std::string> names;
  unsigned mask = 0;
  ASSERT_TRUE(w.Start(dir_, [&](std::string_view name, unsigned events, const Status& s) {
                 EXPECT_TRUE(s.ok()) << s.ToString();
                 names.insert(std::string(name));
                 mask |= events;
               }).ok());
  EXPECT_TRUE(w.active());
  Write("a.json", "[]");
  EXPECT_TRUE(RunUntil(
      loop_, [&] { return names.count("a.json") > 0; }, 5000));
  EXPECT_NE(mask & FsWatch::kRename, 0u);  // creation
}

TEST_F(FsWatchTest, FileReportsWrites) {
  Write("f.yml", "x");
  FsWatch w(loop_);
  unsigned mask = 0;
  ASSERT_TRUE(w.Start(dir_ + "/f.yml", [&](std::string_view, unsigned events, const Status&) {
                 mask |= events;
               }).ok());
  std::ofstream(dir_ + "/f.yml", std::ios::app) << "y";
  EXPECT_TRUE(RunUntil(
      loop_, [&] { return (mask & FsWatch::kChange) != 0; }, 5000));
}

TEST_F(FsWatchTest, MissingPathIsNotFound) {
  FsWatch w(loop_);
  Status s = w.Start(dir_ + "/missing", [](std::string_view, unsigned, const Status&) {});
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(w.active());
}

TEST_F(FsWatchTest, StopAndDestroyFromInsideTheCallback) {
  auto w = std::make_unique<FsWatch>(loop_);
  int calls = 0;
  ASSERT_TRUE(w->Start(dir_, [&](std::string_view, unsigned, const Status&) {
                 ++calls;
                 w.reset();  // the handle is freed by its close callback later
               }).ok());
  Write("a", "1");
  Write("b", "2");
  EXPECT_TRUE(RunUntil(
      loop_, [&] { return w == nullptr; }, 5000));
  RunFor(loop_, 50);  // later events must not reach the destroyed watch
  EXPECT_EQ(calls, 1);
}

TEST_F(FsWatchTest, RunUntilGivesUpAfterTheTimeLimit) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(RunUntil(
      loop_, [] { return false; }, 60));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_GE(ms, 55);
  EXPECT_LT(ms, 3000);
}

}  // namespace
}  // namespace common::event
