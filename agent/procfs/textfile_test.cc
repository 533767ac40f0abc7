// The textfile reader against node_exporter's textfile fixtures: each fixture directory is read
// as node_exporter's unit test reads it (relative path "fixtures/textfile/<dir>", mtimes fixed to
// 1) and rendered the way client_golang writes the result; the output must equal <dir>.out,
// except for the HELP texts of node_textfile_* (ours are worded differently).

#include "agent/procfs/textfile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/expfmt/encoder.h"
#include "tests/support/shared.h"

namespace agent::procfs {
namespace {

namespace expfmt = common::expfmt;

void AppendLabels(std::string& out, const TextMetric& m, std::string_view extra_name = {},
                  double extra_value = 0) {
  if (m.labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m.labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    expfmt::AppendLabelValue(out, v);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    std::string v;
    expfmt::AppendFloat(v, extra_value);
    out += v;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const TextMetric& m, double v, std::string_view extra_name = {},
                  double extra_value = 0) {
  out += name;
  out += suffix;
  AppendLabels(out, m, extra_name, extra_value);
  out += ' ';
  expfmt::AppendFloat(out, v);
  out += '\n';
}

// client_golang's text rendering of the reader's result, with every mtime reported as 1.
std::string Render(const TextfileResult& r) {
  std::vector<TextFamily> fams = r.families;
  if (!r.mtimes.empty()) {
    TextFamily mt{"node_textfile_mtime_seconds", "(ours)", true, expfmt::MetricType::kGauge, {}};
    for (const auto& [file, t] : r.mtimes) {
      TextMetric m;
      m.labels = {{"file", file}};
      m.value = 1;
      mt.metrics.push_back(m);
    }
    fams.push_back(mt);
  }
  TextFamily err{"node_textfile_scrape_error", "(ours)", true, expfmt::MetricType::kGauge, {}};
  TextMetric e;
  e.value = r.error ? 1 : 0;
  err.metrics.push_back(e);
  fams.push_back(err);
  std::sort(fams.begin(), fams.end(),
            [](const TextFamily& a, const TextFamily& b) { return a.name < b.name; });

  std::string out;
  for (const TextFamily& f : fams) {
    expfmt::AppendHelp(out, f.name, f.help);
    expfmt::AppendType(out, f.name, f.type);
    for (const TextMetric& m : f.metrics) {
      switch (f.type) {
        case expfmt::MetricType::kSummary:
          for (const auto& [q, v] : m.quantiles) AppendSample(out, f.name, "", m, v, "quantile", q);
          AppendSample(out, f.name, "_sum", m, m.sum);
          AppendSample(out, f.name, "_count", m, static_cast<double>(m.count));
          break;
        case expfmt::MetricType::kHistogram:
          for (const auto& [le, c] : m.buckets) {
            AppendSample(out, f.name, "_bucket", m, static_cast<double>(c), "le", le);
          }
          AppendSample(out, f.name, "_bucket", m, static_cast<double>(m.count), "le", INFINITY);
          AppendSample(out, f.name, "_sum", m, m.sum);
          AppendSample(out, f.name, "_count", m, static_cast<double>(m.count));
          break;
        default:
          AppendSample(out, f.name, "", m, m.value);
      }
    }
  }
  return out;
}

std::string WithoutOurHelp(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP node_textfile_", 0) == 0) continue;
    out += line;
    out += '\n';
  }
  return out;
}

class TextfileFixtureTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(TextfileFixtureTest, MatchesNodeExporter) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/textfile");
  auto [name, dir] = GetParam();
  std::string base = tests::SharedDir() + "/peer/node_exporter";
  std::ifstream in(base + "/fixtures/textfile/" + name + ".out");
  ASSERT_TRUE(in) << name;
  std::stringstream want;
  want << in.rdbuf();

  // node_exporter's test runs from the collector directory with relative paths; so do we.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(base);
  TextfileReader reader;
  TextfileResult result;
  reader.Read({std::string("fixtures/textfile/") + dir}, result);
  std::filesystem::current_path(cwd);

  EXPECT_EQ(WithoutOurHelp(Render(result)), WithoutOurHelp(want.str())) << name;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, TextfileFixtureTest,
    ::testing::Values(std::pair{"client_side_timestamp", "client_side_timestamp"},
                      std::pair{"different_metric_types", "different_metric_types"},
                      std::pair{"glob_extra_dimension", "*_extra_dimension"},
                      std::pair{"histogram", "histogram"},
                      std::pair{"histogram_extra_dimension", "histogram_extra_dimension"},
                      std::pair{"inconsistent_metrics", "inconsistent_metrics"},
                      std::pair{"metrics_merge_different_help", "metrics_merge_different_help"},
                      std::pair{"metrics_merge_empty_help", "metrics_merge_empty_help"},
                      std::pair{"metrics_merge_no_help", "metrics_merge_no_help"},
                      std::pair{"metrics_merge_same_help", "metrics_merge_same_help"},
                      std::pair{"no_metric_files", "no_metric_files"},
                      std::pair{"nonexistent_path", "nonexistent_path"},
                      std::pair{"summary", "summary"},
                      std::pair{"summary_extra_dimension", "summary_extra_dimension"},
                      std::pair{"two_metric_files", "two_metric_files"}),
    [](const auto& info) { return std::string(info.param.first); });

// Syntax the Go parser rejects fails the whole file.
TEST(TextFormatTest, RejectsWhatGoRejects) {
  std::vector<TextFamily> f;
  for (const char* bad : {
           "m 1",                     // no final newline
           "m 1 \n",                  // blank after the value: empty timestamp
           "m 1 2 x\n",               // text after the timestamp
           "m{a=\"1\",a=\"2\"} 1\n",  // duplicate label
           "m{a=\"x\\q\"} 1\n",       // bad escape
           "m{a=\"x} 1\n",            // unterminated value
           "m{__name__=\"x\"} 1\n",   // reserved label
           "m{1a=\"x\"} 1\n",         // bad label name
           "m x\n",                   // bad value
           "m 0x1p3\n",               // Go's expfmt refuses 'p'
           "# TYPE m counter\n# TYPE m gauge\nm 1\n",
           "m 1\n# TYPE m counter\n",  // TYPE after samples
           "# HELP m a\n# HELP m b\nm 1\n",
           "# TYPE m nonsense\nm 1\n",
           "# HELP 1m x\n",
           "# TYPE m gauge_histogram\nm 1\n",
       }) {
    EXPECT_FALSE(ParseTextFormat(bad, f).ok()) << bad;
  }
}

TEST(TextFormatTest, AcceptsWhatGoAccepts) {
  std::vector<TextFamily> f;
  ASSERT_TRUE(ParseTextFormat("# a comment\n\n  m{ a = \"x\\\"y\\n\" , } +Inf\n"
                              "# HELP m help \\\\ text\\n\n"
                              "n NaN 123\n",
                              f)
                  .ok());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "m");
  EXPECT_EQ(f[0].help, "help \\ text\n");
  ASSERT_EQ(f[0].metrics.size(), 1u);
  EXPECT_EQ(f[0].metrics[0].labels[0].second, "x\"y\n");
  EXPECT_TRUE(std::isinf(f[0].metrics[0].value));
  EXPECT_TRUE(f[1].metrics[0].has_timestamp);
}

TEST(TextFormatTest, TruncatedInputNeverCrashes) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/textfile");
  std::ifstream in(tests::SharedDir() +
                   "/peer/node_exporter/fixtures/textfile/summary/metrics.prom");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<TextFamily> f;
  for (size_t n = 0; n <= text.size(); ++n) (void)ParseTextFormat(text.substr(0, n), f);
}

}  // namespace
}  // namespace agent::procfs
