// Prometheus' PromQL test scripts (shared/peer/promql/*.test) against Lookout.
//
// What is asserted (issue 5):
//   * every script parses without a script-format error (in-process, no engine needed);
//   * `lookout-tool test promql FILE` runs every file to the end without crashing or hanging and
//     ends with its "N passed, N failed, N skipped" line;
//   * no file has a failure. Skips are printed with their reasons (native histograms, the only
//     kind).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "collector/promql/promqltest/script.h"
#include "tests/support/process.h"
#include "tests/support/shared.h"

namespace tests {
namespace {

namespace fs = std::filesystem;

// Files that must pass fully (no failed eval). Start empty; widen as the engine grows.

std::vector<std::string> ScriptFiles() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(SharedDir() + "/peer/promql")) {
    if (e.path().extension() == ".test") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PromqlScripts, EveryScriptParses) {
  REQUIRE_SHARED("peer/promql/FORMAT.md");
  auto files = ScriptFiles();
  ASSERT_FALSE(files.empty());
  size_t evals = 0;
  for (const auto& f : files) {
    auto s = collector::promql::promqltest::ParseScriptFile(f);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (const auto& c : s->commands) {
      evals += std::holds_alternative<collector::promql::promqltest::EvalCmd>(c);
    }
  }
  std::printf("%zu script files, %zu evals\n", files.size(), evals);
  EXPECT_GT(evals, 0u);
}

#ifdef LOOKOUT_HAVE_PROMQLTEST
TEST(PromqlScripts, RunEveryScript) {
  REQUIRE_SHARED("peer/promql/FORMAT.md");
  const std::regex summary(R"((\d+) passed, (\d+) failed, (\d+) skipped)");
  const std::regex skip_line(R"(^(.*):(\d+): skipped \(([^:]+): (.*)\): (.*)$)");
  int total_pass = 0, total_fail = 0, total_skip = 0;
  std::vector<std::string> skipped_files;
  for (const auto& f : ScriptFiles()) {
    std::string name = fs::path(f).filename().string();
    RunResult r = RunCommand({BuildDir() + "/collector/lookout-tool", "test", "promql", "--verbose", f},
                             std::chrono::minutes(5));
    // No crash, no hang: exit 0 (all passed) or 1 (some failed), and the summary line at the end.
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1)
        << name << ": lookout-tool exited with " << r.exit_code << " (crash or time limit)\nstderr:\n"
        << r.err << "\nstdout tail:\n"
        << r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0);
    EXPECT_EQ(r.out.find(": script error: "), std::string::npos) << name << ":\n" << r.out;
    std::string last = r.out;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(last, m, summary)) << name << ": last line \"" << last << "\"";
    int pass = std::stoi(m[1]), fail = std::stoi(m[2]), skip = std::stoi(m[3]);
    EXPECT_EQ(r.exit_code, fail > 0 ? 1 : 0) << name;
    total_pass += pass;
    total_fail += fail;
    total_skip += skip;
    // Skip reasons, grouped.
    std::map<std::string, int> reasons;
    size_t pos = 0;
    while (pos < r.out.size()) {
      size_t nl = r.out.find('\n', pos);
      std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? r.out.size() : nl + 1;
      std::smatch sm;
      if (std::regex_match(line, sm, skip_line)) reasons[sm[3].str()]++;
    }
    std::string why;
    for (const auto& [k, n] : reasons) why += (why.empty() ? "" : ", ") + std::to_string(n) + " " + k;
    std::printf("%-28s %4d passed %4d failed %4d skipped%s%s%s\n", name.c_str(), pass, fail, skip,
                why.empty() ? "" : " (", why.c_str(), why.empty() ? "" : ")");
    if (skip > 0 && pass == 0 && fail == 0) skipped_files.push_back(name);
    EXPECT_EQ(fail, 0) << name << " has failures:\n" << r.out;
  }
  std::printf("total: %d passed, %d failed, %d skipped\n", total_pass, total_fail, total_skip);
  std::string sk;
  for (const auto& s : skipped_files) sk += " " + s;
  std::printf("files skipped entirely:%s\n", sk.empty() ? " none" : sk.c_str());
  EXPECT_GT(total_pass + total_fail + total_skip, 0);
}
#endif

}  // namespace
}  // namespace tests
