#include "common/expfmt/parser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/expfmt/encoder.h"
#include "tests/support/shared.h"

// Counts heap allocations so the tests can check that parsing does not allocate per sample.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// GCC flags free() on memory from operator new, not knowing that this operator new is malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace common::expfmt {
namespace {

using Entry = TextParser::Entry;
using LabelList = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string series;
  std::string name;
  LabelList labels;
  double value = 0;
  bool has_ts = false;
  int64_t ts = 0;
};

struct Parsed {
  bool ok = false;
  Status status;
  std::vector<Sample> samples;
  std::vector<std::pair<std::string, MetricType>> types;
  std::vector<std::pair<std::string, std::string>> helps;
  int comments = 0;

  const Sample* Find(std::string_view series) const {
    for (const auto& s : samples) {
      if (s.series == series) return &s;
    }
    return nullptr;
  }
};

Parsed ParseAll(std::string_view body) {
  Parsed out;
  TextParser p(body);
  for (;;) {
    switch (p.Next()) {
      case Entry::kSeries: {
        Sample s;
        s.series = std::string(p.SeriesText());
        s.name = std::string(p.MetricName());
        for (const auto& [n, v] : p.Labels()) s.labels.emplace_back(n, v);
        s.value = p.Value();
        s.has_ts = p.HasTimestamp();
        s.ts = p.TimestampMs();
        out.samples.push_back(std::move(s));
        break;
      }
      case Entry::kType:
        out.types.emplace_back(p.FamilyName(), p.Type());
        break;
      case Entry::kHelp:
        out.helps.emplace_back(p.FamilyName(), p.HelpText());
        break;
      case Entry::kComment:
        ++out.comments;
        break;
      case Entry::kEnd:
        out.ok = true;
        out.status = p.status();
        return out;
      case Entry::kError:
        out.status = p.status();
        return out;
    }
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Shared(const std::string& rel) { return ReadFile(::tests::SharedDir() + "/" + rel); }

bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

// ---------------------------------------------------------------------------------------------
// (1) Every peer file is accepted or rejected as the Prometheus 2.42 server column of
// shared/peer/expfmt/README.md says, with its sample count.

struct FileCase {
  const char* path;  // under shared/
  bool accepted;
  size_t samples;  // when accepted
  int error_line;  // when rejected: the line status() names
};

const FileCase kFileCases[] = {
    {"peer/expfmt/common-expfmt/valid/minimal", true, 1, 0},
    {"peer/expfmt/common-expfmt/valid/from_test_parse_0", true, 0, 0},
    {"peer/expfmt/common-expfmt/valid/from_test_parse_1", true, 3, 0},
    {"peer/expfmt/common-expfmt/valid/from_test_parse_2", true, 4, 0},
    {"peer/expfmt/common-expfmt/valid/from_test_parse_3", false, 0, 4},  // `decoy -1 -2`
    {"peer/expfmt/common-expfmt/valid/from_test_parse_4", true, 7, 0},
    {"peer/expfmt/common-expfmt/valid/testdata_text.prom", true, 248, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_0", true, 1, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_1", true, 1, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_2", true, 1, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_3", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_4", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_5", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_6", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_7", true, 1, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_8", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_9", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_10", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_11", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_12", true, 0, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_13", true, 0, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_14", true, 1, 0},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_15", false, 0, 2},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_16", false, 0, 2},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_17", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_18", false, 0, 1},
    {"peer/expfmt/common-expfmt/invalid/from_test_parse_error_19", true, 1, 0},
    {"peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt", true, 1857, 0},
    {"peer/expfmt/prometheus-textparse/alltypes.237mfs.nometa.prom.txt", true, 1857, 0},
    {"peer/expfmt/promtool/metrics-test.prom", true, 27, 0},
    {"peer/node_exporter/fixtures/e2e-output.txt", true, 3027, 0},
};

TEST(TextParserPeerFiles, AcceptedAndRejectedAsPrometheus242) {
  REQUIRE_SHARED("peer/expfmt/README.md");
  for (const auto& c : kFileCases) {
    SCOPED_TRACE(c.path);
    const std::string body = Shared(c.path);
    const Parsed r = ParseAll(body);
    EXPECT_EQ(r.ok, c.accepted) << r.status.ToString();
    if (c.accepted) {
      EXPECT_EQ(r.samples.size(), c.samples);
    } else {
      EXPECT_TRUE(r.status.IsInvalidArgument()) << r.status.ToString();
      EXPECT_EQ(r.status.message().rfind("line " + std::to_string(c.error_line) + ":", 0), 0u)
          << r.status.ToString();
    }
  }
}

TEST(TextParserPeerFiles, TableCoversEveryCommonExpfmtFileAndPromFile) {
  REQUIRE_SHARED("peer/expfmt/README.md");
  std::set<std::string> listed;
  for (const auto& c : kFileCases) listed.insert(c.path);
  const std::string root = ::tests::SharedDir() + "/";
  size_t seen = 0;
  for (const char* dir : {"peer/expfmt/common-expfmt/valid", "peer/expfmt/common-expfmt/invalid",
                          "peer/expfmt/prometheus-textparse", "peer/expfmt/promtool"}) {
    for (const auto& e : std::filesystem::directory_iterator(root + dir)) {
      const std::string name = e.path().filename().string();
      const bool wanted = std::string(dir).find("common-expfmt") != std::string::npos ||
                          name.ends_with(".prom.txt") || name.ends_with(".prom");
      if (!wanted) continue;
      ++seen;
      EXPECT_TRUE(listed.count(std::string(dir) + "/" + name)) << dir << "/" << name;
    }
  }
  EXPECT_EQ(seen, 30u);
}

// ---------------------------------------------------------------------------------------------
// (2) The parsed samples are what the format defines.

void ExpectSample(const Parsed& r, std::string_view series, std::string_view name,
                  const LabelList& labels, double value, bool has_ts = false, int64_t ts = 0) {
  SCOPED_TRACE(std::string(series));
  const Sample* s = r.Find(series);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, name);
  EXPECT_EQ(s->labels, labels);
  if (std::isnan(value)) {
    EXPECT_TRUE(SameBits(s->value, std::bit_cast<double>(kNormalNaNBits)));
  } else {
    EXPECT_TRUE(SameBits(s->value, value)) << s->value << " vs " << value;
  }
  EXPECT_EQ(s->has_ts, has_ts);
  if (has_ts) {
    EXPECT_EQ(s->ts, ts);
  }
}

TEST(TextParserPeerFiles, CommonExpfmtValidContent) {
  REQUIRE_SHARED("peer/expfmt/common-expfmt/valid");
  const std::string dir = "peer/expfmt/common-expfmt/valid/";
  {
    const Parsed r = ParseAll(Shared(dir + "minimal"));
    ASSERT_TRUE(r.ok);
    ExpectSample(r, "m{}", "m", {}, 0);
  }
  {
    const Parsed r = ParseAll(Shared(dir + "from_test_parse_1"));
    ASSERT_TRUE(r.ok);
    ExpectSample(r, "minimal_metric", "minimal_metric", {}, 1.234);
    ExpectSample(r, "another_metric", "another_metric", {}, -3e3, true, 103948);
    ExpectSample(r, "no_labels{}", "no_labels", {}, 3);
    EXPECT_EQ(r.comments, 1);  // `# Even that:`
    // `# HELP line for ...` is HELP for a family named "line".
    using H = std::pair<std::string, std::string>;
    EXPECT_EQ(r.helps, (std::vector<H>{{"line", "for non-existing metric will be ignored."}}));
  }
  {
    const Parsed r = ParseAll(Shared(dir + "from_test_parse_2"));
    ASSERT_TRUE(r.ok);
    ExpectSample(r, "name{labelname=\"val1\",basename=\"basevalue\"}", "name",
                 {{"labelname", "val1"}, {"basename", "basevalue"}}, NAN);
    ExpectSample(r, "name {labelname=\"val2\",basename=\"base\\\"v\\\\al\\nue\"}", "name",
                 {{"labelname", "val2"}, {"basename", "base\"v\\al\nue"}}, 0.23, true, 1234567890);
    ExpectSample(r, "name2{labelname=\"val2\"\t,basename   =   \"basevalue2\"\t\t}", "name2",
                 {{"labelname", "val2"}, {"basename", "basevalue2"}},
                 std::numeric_limits<double>::infinity(), true, 54321);
    ExpectSample(r, "name2{ labelname = \"val1\" , }", "name2", {{"labelname", "val1"}},
                 -std::numeric_limits<double>::infinity());
    using T = std::pair<std::string, MetricType>;
    EXPECT_EQ(r.types,
              (std::vector<T>{{"name", MetricType::kCounter}, {"name2", MetricType::kGauge}}));
    using H = std::pair<std::string, std::string>;
    // HELP text is the rest of the line minus the one blank after the name, escaped as written.
    EXPECT_EQ(r.helps, (std::vector<H>{{"name", "two-line\\n doc  str\\\\ing"},
                                       {"name2", " \tdoc str\"ing 2"}}));
    EXPECT_EQ(TextParser::UnescapeHelp(r.helps[0].second), "two-line\n doc  str\\ing");
  }
  {
    const Parsed r = ParseAll(Shared(dir + "from_test_parse_4"));
    ASSERT_TRUE(r.ok);
    ExpectSample(r, "request_duration_microseconds_bucket{le=\"172.8\"}",
                 "request_duration_microseconds_bucket", {{"le", "172.8"}}, 1524);
    ExpectSample(r, "request_duration_microseconds_bucket{le=\"+Inf\"}",
                 "request_duration_microseconds_bucket", {{"le", "+Inf"}}, 2693);
    ExpectSample(r, "request_duration_microseconds_sum", "request_duration_microseconds_sum", {},
                 1.7560473e+06);
    ASSERT_EQ(r.types.size(), 1u);
    EXPECT_EQ(r.types[0].second, MetricType::kHistogram);
    ASSERT_EQ(r.helps.size(), 1u);
    EXPECT_EQ(r.helps[0].second, "The response latency.");
  }
  {
    const Parsed r = ParseAll(Shared(dir + "testdata_text.prom"));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.types.size(), 37u);
    ExpectSample(r, "http_request_duration_microseconds{handler=\"/\",quantile=\"0.9\"}",
                 "http_request_duration_microseconds", {{"handler", "/"}, {"quantile", "0.9"}}, 0);
    ExpectSample(r, "process_start_time_seconds", "process_start_time_seconds", {},
                 1.42236894836e+09);
    ExpectSample(r, "prometheus_target_interval_length_seconds_count{interval=\"1s\"}",
                 "prometheus_target_interval_length_seconds_count", {{"interval", "1s"}}, 117);
    EXPECT_EQ(r.samples.back().series,
              "prometheus_target_interval_length_seconds_count{interval=\"1s\"}");
  }
}

TEST(TextParserPeerFiles, LenientCasesKeepPrometheusValues) {
  REQUIRE_SHARED("peer/expfmt/common-expfmt/invalid");
  const std::string dir = "peer/expfmt/common-expfmt/invalid/";
  Parsed r = ParseAll(Shared(dir + "from_test_parse_error_0"));  // no final newline
  ExpectSample(r, "bla", "bla", {}, 3.14);
  r = ParseAll(Shared(dir + "from_test_parse_error_1"));  // `\t` kept as backslash and t
  ExpectSample(r, "metric{label=\"\\t\"}", "metric", {{"label", "\\t"}}, 3.14);
  r = ParseAll(Shared(dir + "from_test_parse_error_2"));  // raw newline in the value
  ExpectSample(r, "metric{label=\"new\nline\"}", "metric", {{"label", "new\nline"}}, 3.14);
  r = ParseAll(Shared(dir + "from_test_parse_error_14"));  // TYPE after the samples
  ExpectSample(r, "metric", "metric", {}, 4.12);
  ASSERT_EQ(r.types.size(), 1u);
  r = ParseAll(Shared(dir + "from_test_parse_error_19"));
  ExpectSample(r, "metric_bucket{le=\"bla\"}", "metric_bucket", {{"le", "bla"}}, 3.14);
  r = ParseAll(Shared(dir + "from_test_parse_error_12"));
  EXPECT_EQ(r.helps.size(), 2u);
}

TEST(TextParserPeerFiles, BigExpositions) {
  REQUIRE_SHARED("peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt");
  const Parsed all = ParseAll(Shared("peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt"));
  ASSERT_TRUE(all.ok) << all.status.ToString();
  EXPECT_EQ(all.types.size(), 237u);
  EXPECT_EQ(all.helps.size(), 237u);
  ExpectSample(all, "go_gc_cycles_automatic_gc_cycles_total",
               "go_gc_cycles_automatic_gc_cycles_total", {}, 190932);
  ExpectSample(all, "go_gc_duration_seconds{quantile=\"0.25\"}", "go_gc_duration_seconds",
               {{"quantile", "0.25"}}, 0.00010188);
  ExpectSample(all, "go_gc_heap_allocs_by_size_bytes_bucket{le=\"24.999999999999996\"}",
               "go_gc_heap_allocs_by_size_bytes_bucket", {{"le", "24.999999999999996"}},
               1.9429106442e+10);
  ExpectSample(all, "go_gc_gomemlimit_bytes", "go_gc_gomemlimit_bytes", {}, 9.03676723e+08);
  EXPECT_EQ(all.samples.back().series, "promhttp_metric_handler_requests_total{code=\"503\"}");

  // The nometa variant holds the same samples.
  const Parsed nometa =
      ParseAll(Shared("peer/expfmt/prometheus-textparse/alltypes.237mfs.nometa.prom.txt"));
  ASSERT_TRUE(nometa.ok);
  EXPECT_TRUE(nometa.types.empty());
  ASSERT_EQ(nometa.samples.size(), all.samples.size());
  for (size_t i = 0; i < all.samples.size(); ++i) {
    EXPECT_EQ(nometa.samples[i].series, all.samples[i].series);
    EXPECT_TRUE(SameBits(nometa.samples[i].value, all.samples[i].value));
  }

  const Parsed promtool = ParseAll(Shared("peer/expfmt/promtool/metrics-test.prom"));
  ASSERT_TRUE(promtool.ok);
  ExpectSample(promtool, "go_gc_duration_seconds{quantile=\"0\"}", "go_gc_duration_seconds",
               {{"quantile", "0"}}, 2.391e-05);
  ExpectSample(promtool, "go_info{version=\"go1.17\"}", "go_info", {{"version", "go1.17"}}, 1);

  const Parsed node = ParseAll(Shared("peer/node_exporter/fixtures/e2e-output.txt"));
  ASSERT_TRUE(node.ok) << node.status.ToString();
  EXPECT_EQ(node.samples.size(), 3027u);
  EXPECT_EQ(node.types.size(), 1228u);
  ExpectSample(node,
               "node_bcache_dirty_target_bytes{backing_device=\"bdev0\",uuid=\"deaddd54-c735-46d5-"
               "868e-f331c5fd7c74\"}",
               "node_bcache_dirty_target_bytes",
               {{"backing_device", "bdev0"}, {"uuid", "deaddd54-c735-46d5-868e-f331c5fd7c74"}},
               2.189426688e+10);
  const Sample* cpu = nullptr;
  for (const auto& s : node.samples) {
    if (s.name == "node_cpu_info") {
      cpu = &s;
      break;
    }
  }
  ASSERT_NE(cpu, nullptr);
  ASSERT_EQ(cpu->labels.size(), 10u);
  EXPECT_EQ(cpu->labels[6], (std::pair<std::string, std::string>{
                                "model_name", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"}));
}

// ---------------------------------------------------------------------------------------------
// Edge cases, each served to a real Prometheus 2.42.0 (Debian package) from a loopback HTTP
// server; `accepted` and `samples` are what its /api/v1/targets and scrape_samples_scraped
// reported. The two duplicate-label rows marked "stricter" are deliberate differences.

struct EdgeCase {
  const char* name;
  std::string body;
  bool accepted;
  size_t samples;
};

// A literal that may hold NUL bytes.
template <size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}

const std::vector<EdgeCase>& EdgeCases() {
  static const std::vector<EdgeCase> k = {
      {"lead_ws_sample", "  m 1\n", false, 0},
      {"lead_ws_comment", "  # HELP m x\n\t# TYPE m gauge\nm 1\n", true, 1},
      {"type_two_spaces", "# TYPE m  counter\nm 1\n", false, 0},
      {"type_trailing_space", "# TYPE m counter \nm 1\n", false, 0},
      {"type_trailing_tab", "# TYPE m counter\t\nm 1\n", false, 0},
      {"type_no_text", "# TYPE m\nm 1\n", false, 0},
      {"type_dash", "# TYPE m-x counter\nm 1\n", false, 0},
      {"type_bad_name", "# TYPE 1m counter\nm 1\n", false, 0},
      {"tabs_meta", "#\tTYPE\tm\tcounter\nm 1\n", true, 1},
      {"type_two_spaces_after_kw", "#  TYPE  m counter\nm 1\n", true, 1},
      {"help_no_blank", "# HELP\nm 1\n", true, 1},
      {"help_kw_only_space", "# HELP \nm 1\n", false, 0},
      {"help_name_only", "# HELP m\nm 1\n", true, 1},
      {"help_name_space", "# HELP m \nm 1\n", true, 1},
      {"help_name_tab", "# HELP m\t\nm 1\n", true, 1},
      {"help_dash", "# HELP m-x foo\nm 1\n", true, 1},
      {"helper_comment", "# HELPER m x\nm 1\n", true, 1},
      {"lower_help", "# help m x\nm 1\n", true, 1},
      {"eof_comment", "# TYPE m counter\nm 1\n# EOF\n", true, 1},
      {"utf8_bad_help", "# HELP m \xff\nm 1\n", false, 0},
      {"utf8_bad_comment", "# foo \xff\nm 1\n", true, 1},
      {"no_comma", "m{a=\"1\" b=\"2\"} 1\n", true, 1},
      {"no_comma_no_space", "m{a=\"1\"b=\"2\"} 1\n", true, 1},
      {"empty_braces", "m{} 1\nm {} 2\n", true, 2},
      {"no_space_value", "m{a=\"b\"}1\n", true, 1},
      {"double_comma", "m{a=\"x\",,} 1\n", false, 0},
      {"comma_only", "m{,} 1\n", false, 0},
      {"empty_lname", "m{=\"x\"} 1\n", false, 0},
      {"label_colon", "m{a:b=\"x\"} 1\n", false, 0},
      {"double_close", "m{a=\"x\"}} 1\n", false, 0},
      {"unterminated", "m{a=\"x} 1\n", false, 0},
      {"quoted_name", "{\"m.x\"} 1\n", false, 0},
      {"name_unicode", "m\xc3\xa9 1\n", false, 0},
      {"dup", "m{a=\"x\",a=\"y\"} 1\n", false, 0},
      {"dunder_name", "m{__name__=\"m\"} 1\n", false, 0},
      {"dup_empty (stricter: 2.42 drops both)", "m{a=\"\",a=\"x\"} 1\n", false, 0},
      {"dup_job (stricter: 2.42 keeps one)", "m{job=\"a\",job=\"b\"} 1\n", false, 0},
      {"escapes", "m{a=\"\\t\\\\n\\\"\\q\"} 1\n", true, 1},
      {"raw_newline", "m{a=\"x\ny\"} 1\n", true, 1},
      {"backslash_newline", "m{a=\"x\\\ny\"} 1\n", false, 0},
      {"utf8_bad_label", "m{a=\"\xff\"} 1\n", false, 0},
      {"utf8_surrogate_label", "m{a=\"\xed\xa0\x80\"} 1\n", false, 0},
      {"hex", "m 0x1p3\n", false, 0},
      {"hex_nop", "m 0x10\n", false, 0},
      {"underscore", "m 1_000\n", false, 0},
      {"big", "m 1e400\n", false, 0},
      {"tiny", "m 1e-400\n", true, 1},
      {"denormal", "m 4e-320\n", true, 1},
      {"inf_spellings", "m -Infinity\nm2 inf\nm3 nAn\nm4 +inf\n", true, 4},
      {"plus_nan", "m +NaN\n", false, 0},
      {"infinit", "m infinit\n", false, 0},
      {"num_forms", "m .5\nm2 5.\nm3 1.e3\nm4 +1\nm5 1E3\nm6 00012\nm7 -0\n", true, 7},
      {"num_e", "m 1e\n", false, 0},
      {"num_dot", "m .\n", false, 0},
      {"empty_value", "m \n", false, 0},
      {"cr", "m 1\r\n", false, 0},
      {"value_brace", "m 1{\n", false, 0},
      {"trailing_blanks", "m 1 2 \t\nm2 3\t\n", true, 2},
      {"ts_overflow", "m 1 9223372036854775808\n", false, 0},
      {"ts_leading_zeros", "m 1 0000000000000000000001\n", true, 1},
      {"ts_neg", "m 1 -2\n", false, 0},
      {"ts_float", "m 1 2.5\n", false, 0},
      {"ts_hex", "m 1 0x10\n", false, 0},
      {"ts_then_junk", "m 1 2x\n", false, 0},
      {"nul_line_start", B("m 1\n\0garbage{{{\n"), true, 1},
      {"nul_in_lvalue", B("m{a=\"x\0y\"} 1\n"), true, 1},
      {"nul_after_quote", B("m{a=\"x\"\0} 1\n"), true, 1},
      {"nul_after_eq", B("m{a=\0\"x\"} 1\n"), false, 0},
      {"nul_after_eq_space", B("m{a= \0\"x\"} 1\n"), true, 1},
      {"nul_hash_comment", B("m 1\n#x\0y\nm2 2\n"), true, 1},
      {"nul_sp_comment", B("m 1\n# x\0y\nm2 2\n"), true, 2},
      {"nul_sp_start_comment", B("m 1\n# \0y\nm2 2\n"), true, 1},
      {"type_nul", B("# TYPE m\0counter\nm 1\n"), false, 0},
      {"type_sp_nul", B("# TYPE m \0counter\nm 1\n"), false, 0},
      {"nul_in_help_kw", B("# HE\0LP m x\nm 1\n"), true, 1},
      {"nul_value", B("m 1\0\n"), false, 0},
  };
  return k;
}

TEST(TextParser, EdgeCasesMeasuredOnPrometheus242) {
  for (const auto& c : EdgeCases()) {
    SCOPED_TRACE(c.name);
    const Parsed r = ParseAll(c.body);
    EXPECT_EQ(r.ok, c.accepted) << r.status.ToString();
    if (c.accepted) {
      EXPECT_EQ(r.samples.size(), c.samples);
    } else {
      EXPECT_TRUE(r.status.IsInvalidArgument());
    }
  }
}

TEST(TextParser, EdgeCaseValuesAsPrometheusStoredThem) {
  Parsed r = ParseAll("m{a=\"\\t\\\\n\\\"\\q\"} 1\n");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels, (LabelList{{"a", "\\t\\n\"\\q"}}));
  r = ParseAll(std::string("m{a=\"x\0y\"} 1\n", 14));
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels, (LabelList{{"a", std::string("x\0y", 3)}}));
  r = ParseAll("m{a=\"1\"b=\"2\"} 1\n");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels, (LabelList{{"a", "1"}, {"b", "2"}}));
  r = ParseAll("m 1e-400\nn -1e-400\no 4e-320\n");
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_TRUE(SameBits(r.samples[0].value, 0.0));
  EXPECT_TRUE(SameBits(r.samples[1].value, -0.0));
  EXPECT_EQ(r.samples[2].value, 4e-320);
  r = ParseAll("m -Infinity\nm2 inf\nm3 nAn\nm4 +inf\n");
  ASSERT_EQ(r.samples.size(), 4u);
  EXPECT_EQ(r.samples[0].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.samples[1].value, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(SameBits(r.samples[2].value, std::bit_cast<double>(kNormalNaNBits)));
  EXPECT_EQ(r.samples[3].value, std::numeric_limits<double>::infinity());
  r = ParseAll("m 1 0000000000000000000001\n");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].ts, 1);
}

TEST(TextParser, GoParseFloatValues) {
  struct Case {
    const char* text;
    bool ok;
    double want;
  } cases[] = {
      {"1", true, 1},
      {"-3.5", true, -3.5},
      {"+3.5", true, 3.5},
      {"1.5e+06", true, 1.5e6},
      {"1.5E-06", true, 1.5e-6},
      {"0.1", true, 0.1},
      {"1.7976931348623157e308", true, std::numeric_limits<double>::max()},
      {"-1.7976931348623157e308", true, -std::numeric_limits<double>::max()},
      {"1.7976931348623159e308", false, 0},            // rounds to +Inf: Go's ErrRange
      {"9007199254740993", true, 9007199254740992.0},  // round half to even
      {"2.4703282292062328e-324", true, 5e-324},
      {"0.000000000000000000000000000000000000000000001", true, 1e-45},
      {"1e-99999999999999999999", true, 0},
      {"1e99999999999999999999", false, 0},
      {"Inf", true, std::numeric_limits<double>::infinity()},
      {"-inf", true, -std::numeric_limits<double>::infinity()},
      {"INFINITY", true, std::numeric_limits<double>::infinity()},
      {"infinityy", false, 0},
      {"0x1p-2", false, 0},
      {"0X10", false, 0},
      {"1p3", false, 0},
      {"1_0", false, 0},
      {"+-1", false, 0},
      {"--1", false, 0},
      {"1..2", false, 0},
      {"1e+", false, 0},
      {"e1", false, 0},
      {"-", false, 0},
      {"1,5", false, 0},
      {"nan1", false, 0},
      {"-nan", false, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string body = std::string("m ") + c.text + "\n";
    const Parsed r = ParseAll(body);
    ASSERT_EQ(r.ok, c.ok) << r.status.ToString();
    if (c.ok) {
      ASSERT_EQ(r.samples.size(), 1u);
      EXPECT_TRUE(SameBits(r.samples[0].value, c.want)) << r.samples[0].value;
    }
  }
}

TEST(TextParser, Timestamps) {
  Parsed r = ParseAll("m 1 9223372036854775807\nn 2 0\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.samples[0].ts, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(r.samples[1].has_ts);
  EXPECT_EQ(r.samples[1].ts, 0);
  r = ParseAll("m 1 1710497700000 \n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.samples[0].ts, 1710497700000);
  for (const char* bad : {"m 1 99999999999999999999\n", "m 1 1 2\n", "m 1 1e3\n", "m 1 +5\n"}) {
    EXPECT_FALSE(ParseAll(bad).ok) << bad;
  }
}

TEST(TextParser, EntriesAndAccessors) {
  const std::string body =
      "# A comment\n"
      "# HELP up Whether the target is up.\n"
      "# TYPE up gauge\n"
      "up{job=\"x\",instance=\"a:1\"} 1 42\n"
      "\n"
      "plain 2";
  TextParser p(body);
  ASSERT_EQ(p.Next(), Entry::kComment);
  EXPECT_EQ(p.CommentText(), "# A comment");
  ASSERT_EQ(p.Next(), Entry::kHelp);
  EXPECT_EQ(p.FamilyName(), "up");
  EXPECT_EQ(p.HelpText(), "Whether the target is up.");
  ASSERT_EQ(p.Next(), Entry::kType);
  EXPECT_EQ(p.FamilyName(), "up");
  EXPECT_EQ(p.Type(), MetricType::kGauge);
  ASSERT_EQ(p.Next(), Entry::kSeries);
  EXPECT_EQ(p.SeriesText(), "up{job=\"x\",instance=\"a:1\"}");
  EXPECT_EQ(p.MetricName(), "up");
  // Views into the body, not copies.
  EXPECT_EQ(p.SeriesText().data(), body.data() + body.find("up{"));
  const auto& labels = p.Labels();
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].first, "job");
  EXPECT_EQ(labels[1].second, "a:1");
  EXPECT_EQ(labels[1].second.data(), body.data() + body.find("a:1"));
  EXPECT_EQ(&p.Labels(), &labels);  // a second call returns the same list
  EXPECT_EQ(p.Value(), 1);
  EXPECT_TRUE(p.HasTimestamp());
  EXPECT_EQ(p.TimestampMs(), 42);
  ASSERT_EQ(p.Next(), Entry::kSeries);
  EXPECT_EQ(p.SeriesText(), "plain");
  EXPECT_TRUE(p.Labels().empty());
  EXPECT_FALSE(p.HasTimestamp());
  EXPECT_EQ(p.Next(), Entry::kEnd);
  EXPECT_EQ(p.Next(), Entry::kEnd);  // sticky
  EXPECT_TRUE(p.status().ok());
}

TEST(TextParser, SeriesTextIsStableAcrossScrapes) {
  const Parsed a = ParseAll("x_total{path=\"/a\"} 1\nx_total{path=\"/b\"} 2\n");
  const Parsed b = ParseAll(
      "# TYPE x_total counter\nx_total{path=\"/b\"} 5 100\n"
      "x_total{path=\"/a\"} 7\n");
  ASSERT_TRUE(a.ok && b.ok);
  EXPECT_EQ(a.samples[0].series, b.samples[1].series);
  EXPECT_EQ(a.samples[1].series, b.samples[0].series);
}

TEST(TextParser, ErrorsAreStickyAndNameTheLine) {
  TextParser p("a 1\nb 2\nc{x=y} 3\nd 4\n");
  EXPECT_EQ(p.Next(), Entry::kSeries);
  EXPECT_EQ(p.Next(), Entry::kSeries);
  EXPECT_EQ(p.Next(), Entry::kError);
  EXPECT_TRUE(p.status().IsInvalidArgument());
  EXPECT_EQ(p.status().message().rfind("line 3:", 0), 0u) << p.status().ToString();
  EXPECT_EQ(p.Next(), Entry::kError);
  // Lines are counted through raw newlines inside label values too.
  TextParser q("a{x=\"1\n2\"} 1\nb 2 3 4\n");
  EXPECT_EQ(q.Next(), Entry::kSeries);
  EXPECT_EQ(q.Next(), Entry::kError);
  EXPECT_EQ(q.status().message().rfind("line 3:", 0), 0u) << q.status().ToString();
}

TEST(TextParser, UnescapeHelp) {
  EXPECT_EQ(TextParser::UnescapeHelp("a\\\\b\\nc\\\"d\\t"), "a\\b\nc\\\"d\\t");
  EXPECT_EQ(TextParser::UnescapeHelp("end\\"), "end\\");
}

TEST(TextParser, ManyLabelsDuplicateCheck) {
  std::string wide = "m{";
  for (int i = 0; i < 40; ++i) wide += "l" + std::to_string(i) + "=\"v\",";
  Parsed r = ParseAll(wide + "} 1\n");
  ASSERT_TRUE(r.ok) << r.status.ToString();
  EXPECT_EQ(r.samples[0].labels.size(), 40u);
  r = ParseAll(wide + "l17=\"again\"} 1\n");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.status.IsInvalidArgument());
}

// ---------------------------------------------------------------------------------------------
// Allocation: none per sample for label-free series or values without escapes.

long CountAllocationsParsing(std::string_view body, size_t* samples) {
  TextParser p(body);
  *samples = 0;
  const long before = g_allocations.load();
  for (Entry e; (e = p.Next()) != Entry::kEnd && e != Entry::kError;) {
    if (e == Entry::kSeries) {
      ++*samples;
      for (const auto& l : p.Labels()) (void)l;
    }
  }
  return g_allocations.load() - before;
}

TEST(TextParser, DoesNotAllocatePerSample) {
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    body += "metric_" + std::to_string(i % 7) + " " + std::to_string(i) + "\n";
    body += "labelled{a=\"" + std::to_string(i) + "\",b=\"x\"} 1.5 " + std::to_string(i) + "\n";
    body += "escaped{path=\"C:\\\\Program Files\\\\dir\\\\" + std::to_string(i % 10) +
            "\",q=\"say \\\"hi\\\"\"} 2\n";
  }
  size_t samples = 0;
  const long allocations = CountAllocationsParsing(body, &samples);
  EXPECT_EQ(samples, 6000u);
  EXPECT_LE(allocations, 8) << "allocations while parsing " << samples << " samples";
}

TEST(TextParserPeerFiles, DoesNotAllocatePerSampleOnRealScrapes) {
  REQUIRE_SHARED("peer/node_exporter/fixtures/e2e-output.txt");
  for (const char* path : {"peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt",
                           "peer/node_exporter/fixtures/e2e-output.txt"}) {
    SCOPED_TRACE(path);
    const std::string body = Shared(path);
    size_t samples = 0, samples3 = 0;
    const long allocations = CountAllocationsParsing(body, &samples);
    // Only the label vectors grow (to the widest series); three times the samples cost nothing.
    const long allocations3 = CountAllocationsParsing(body + body + body, &samples3);
    EXPECT_GT(samples, 1000u);
    EXPECT_EQ(samples3, 3 * samples);
    EXPECT_LE(allocations, 16);
    EXPECT_EQ(allocations3, allocations);
  }
}

// ---------------------------------------------------------------------------------------------
// (3) Fuzz-style robustness: random mutations and truncations never crash, every view stays
// inside the body, and whatever is accepted re-encodes to a body that parses to the same samples.

bool Inside(std::string_view body, std::string_view v) {
  return v.empty() || (v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size());
}

std::string Encode(const Parsed& r) {
  std::string out;
  for (const auto& s : r.samples) {
    out += s.name;
    out += '{';
    for (const auto& [n, v] : s.labels) {
      out += n;
      out += "=\"";
      AppendLabelValue(out, v);
      out += "\",";
    }
    out += "} ";
    AppendFloat(out, s.value);
    if (s.has_ts) {
      out += ' ';
      AppendInt(out, s.ts);
    }
    out += '\n';
  }
  return out;
}

void CheckOne(const std::string& input, bool* accepted) {
  *accepted = false;
  // An exactly sized heap copy, so that AddressSanitizer builds catch any read past the end
  // (a std::string has a NUL and often spare capacity after its last byte).
  const std::vector<char> copy(input.begin(), input.end());
  const std::string_view body(copy.data(), copy.size());
  TextParser p(body);
  Parsed r;
  int guard = 0;
  for (;;) {
    const Entry e = p.Next();
    ASSERT_LT(++guard, 10 * static_cast<int>(body.size()) + 10) << "no progress";
    if (e == Entry::kEnd) {
      r.ok = true;
      break;
    }
    if (e == Entry::kError) {
      ASSERT_FALSE(p.status().ok());
      ASSERT_TRUE(p.status().IsInvalidArgument());
      ASSERT_EQ(p.Next(), Entry::kError);
      break;
    }
    if (e == Entry::kSeries) {
      ASSERT_TRUE(Inside(body, p.SeriesText()));
      ASSERT_TRUE(Inside(body, p.MetricName()));
      ASSERT_FALSE(p.MetricName().empty());
      ASSERT_EQ(p.SeriesText().substr(0, p.MetricName().size()), p.MetricName());
      Sample s;
      s.name = std::string(p.MetricName());
      for (const auto& [n, v] : p.Labels()) {
        ASSERT_TRUE(Inside(body, n));
        s.labels.emplace_back(n, v);
      }
      s.value = p.Value();
      s.has_ts = p.HasTimestamp();
      s.ts = p.TimestampMs();
      ASSERT_GE(s.ts, 0);
      r.samples.push_back(std::move(s));
    } else if (e == Entry::kType || e == Entry::kHelp) {
      ASSERT_TRUE(Inside(body, p.FamilyName()));
      ASSERT_TRUE(Inside(body, p.HelpText()));
    } else {
      ASSERT_TRUE(Inside(body, p.CommentText()));
    }
  }
  if (!r.ok) return;
  *accepted = true;
  const Parsed again = ParseAll(Encode(r));
  ASSERT_TRUE(again.ok) << again.status.ToString();
  ASSERT_EQ(again.samples.size(), r.samples.size());
  for (size_t i = 0; i < r.samples.size(); ++i) {
    ASSERT_EQ(again.samples[i].name, r.samples[i].name);
    ASSERT_EQ(again.samples[i].labels, r.samples[i].labels);
    ASSERT_TRUE(again.samples[i].value == r.samples[i].value ||
                (std::isnan(again.samples[i].value) && std::isnan(r.samples[i].value)));
    ASSERT_EQ(again.samples[i].ts, r.samples[i].ts);
  }
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static const char kSpecial[] = {'{', '}', '"', '\\', '\n', '\0', ' ',    '\t', '#', ',', '=',
                                  '0', '9', 'e', '.',  '-',  '+',  '\xff', '_',  'p', 'n', 'H'};
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < edits; ++k) {
    const size_t at = pick(s.size() + 1);
    switch (rng() % 7) {
      case 0:  // truncate
        s.resize(at);
        break;
      case 1:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 2:  // insert a special byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), kSpecial[pick(sizeof kSpecial)]);
        break;
      case 3:  // replace with a special byte
        if (!s.empty()) s[pick(s.size())] = kSpecial[pick(sizeof kSpecial)];
        break;
      case 4: {  // delete a range
        const size_t len = std::min(s.size() - std::min(at, s.size()), pick(16) + 1);
        s.erase(std::min(at, s.size()), len);
        break;
      }
      case 5: {  // duplicate a range
        const size_t from = pick(s.size() + 1);
        const size_t len = std::min(s.size() - from, pick(64) + 1);
        s.insert(at, s.substr(from, len));
        break;
      }
      default:  // cut to a random window
        if (!s.empty()) s = s.substr(pick(s.size()), pick(4096) + 1);
        break;
    }
  }
  return s;
}

void FuzzCorpus(const std::vector<std::string>& corpus, int iterations, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int accepted = 0;
  for (int it = 0; it < iterations; ++it) {
    const std::string& base = corpus[rng() % corpus.size()];
    std::string body = Mutate(base, rng);
    SCOPED_TRACE("iteration " + std::to_string(it));
    bool ok = false;
    CheckOne(body, &ok);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "input: " << ::testing::PrintToString(body.substr(0, 2000));
      return;
    }
    accepted += ok;
  }
  // Both outcomes are exercised.
  EXPECT_GT(accepted, iterations / 10);
  EXPECT_LT(accepted, iterations - iterations / 10);
}

TEST(TextParserFuzz, MutatedInlineCorpus) {
  std::vector<std::string> corpus;
  for (const auto& c : EdgeCases()) corpus.push_back(c.body);
  corpus.push_back(
      "# HELP a b\\nc\n# TYPE a histogram\na_bucket{le=\"1\"} 1 5\na_sum 2\n"
      "x{a=\"\\\\\\\"\\n\",b=\"ok\"} -Inf 123\n");
  // Every truncation point of every inline input.
  for (const auto& base : corpus) {
    for (size_t len = 0; len <= base.size(); ++len) {
      bool ok = false;
      CheckOne(base.substr(0, len), &ok);
      if (::testing::Test::HasFatalFailure()) {
        ADD_FAILURE() << "input: " << ::testing::PrintToString(base.substr(0, len));
        return;
      }
    }
  }
  FuzzCorpus(corpus, 20000, 42);
  // Short random byte strings over the format's alphabet.
  std::mt19937_64 rng(7);
  const std::string alphabet = B("ab_:{}=\",\\ \t\n#HELPTYPE01e.+-InfNa\0\xc3\xa9\xff");
  for (int it = 0; it < 20000; ++it) {
    std::string s(rng() % 40, ' ');
    for (auto& ch : s) ch = alphabet[rng() % alphabet.size()];
    bool ok = false;
    CheckOne(s, &ok);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "input: " << ::testing::PrintToString(s);
      return;
    }
  }
}

TEST(TextParserFuzz, MutatedPeerFiles) {
  REQUIRE_SHARED("peer/expfmt/common-expfmt/valid");
  std::vector<std::string> corpus;
  for (const auto& c : kFileCases) {
    if (c.accepted) corpus.push_back(Shared(c.path));
  }
  // The big files are cut to random windows by some mutations, so this stays fast.
  FuzzCorpus(corpus, 3000, 2024);
}

// ---------------------------------------------------------------------------------------------
// Next(known): the same entries as Next() for any input and any accepted series text as hint.

// Every entry of `body`, as text; `hint(k)` gives the known series text for the k-th sample.
template <typename Hint>
std::string Transcript(std::string_view body, Hint hint, int* hits) {
  std::string out;
  TextParser p(body);
  size_t k = 0;
  for (;;) {
    const Entry e = p.Next(hint(k));
    out += std::to_string(static_cast<int>(e)) + ":";
    if (e == Entry::kEnd || e == Entry::kError) return out + p.status().ToString();
    if (e == Entry::kSeries) {
      if (p.KnownSeries()) {
        EXPECT_EQ(p.SeriesText(), hint(k));
        ++*hits;
      }
      ++k;
      out += std::string(p.SeriesText()) + "|" + std::string(p.MetricName()) + "|";
      for (const auto& [n, v] : p.Labels()) out += std::string(n) + "=" + std::string(v) + ";";
      out += "|" + std::to_string(std::bit_cast<uint64_t>(p.Value())) + "|" +
             (p.HasTimestamp() ? std::to_string(p.TimestampMs()) : "-");
    } else if (e == Entry::kType || e == Entry::kHelp) {
      out += std::string(p.FamilyName()) + "|" + std::to_string(static_cast<int>(p.Type())) +
             "|" + std::string(p.HelpText());
    } else {
      out += std::string(p.CommentText());
    }
    out += "\n";
  }
}

std::vector<std::string> AcceptedSeries(std::string_view body) {
  std::vector<std::string> out;
  TextParser p(body);
  for (Entry e; (e = p.Next()) != Entry::kEnd && e != Entry::kError;) {
    if (e == Entry::kSeries) out.emplace_back(p.SeriesText());
  }
  return out;
}

TEST(TextParser, NextKnownSkipsOnlyIdenticalSeries) {
  struct Case {
    const char* known;
    const char* body;
    bool hit;
  };
  const Case cases[] = {
      {"foo", "foo 1\n", true},
      {"foo", "foo\t 1 123\n", true},
      {"foo", "foo+1\n", true},  // Prometheus reads the value "+1"
      {"foo", "foo_bar 1\n", false},
      {"foo", "foo:x 1\n", false},
      {"foo", "foo{a=\"b\"} 1\n", false},
      {"foo", "foo {a=\"b\"} 1\n", false},
      {"foo", "foo  \t{} 1\n", false},
      {"foo", "fo 1\n", false},
      {"foo{a=\"b\"}", "foo{a=\"b\"} 1\n", true},
      {"foo{a=\"b\"}", "foo{a=\"b\"}1\n", true},
      {"foo{a=\"b\"}", "foo{a=\"b\",} 1\n", false},
      {"foo{a=\"b\"}", "foo{a=\"bc\"} 1\n", false},
      {"foo {a=\"b\"}", "foo {a=\"b\"} 1\n", true},
      {"foo{a=\"x\\\"y\\\\z\\n\"}", "foo{a=\"x\\\"y\\\\z\\n\"} 1\n", true},
      {"foo{a=\"b\"}", "foo{a=\"b\"} x\n", false},  // the value still fails
      {"foo{a=\"b\"}", "foo{a=\"b\"} 1 2 3\n", false},
      {"foo", "foo", false},  // no value
      {"foo", "  foo 1\n", false},  // indented: an error either way
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.known) + " / " + c.body);
    ASSERT_EQ(AcceptedSeries(std::string(c.known) + " 0\n").size(), 1u);  // a valid hint
    int hits = 0, none = 0;
    const std::string with = Transcript(c.body, [&](size_t) { return std::string_view(c.known); }, &hits);
    const std::string without = Transcript(c.body, [](size_t) { return std::string_view(); }, &none);
    EXPECT_EQ(with, without);
    EXPECT_EQ(hits, c.hit ? 1 : 0);
    EXPECT_EQ(none, 0);
  }
}

TEST(TextParserFuzz, NextKnownMatchesNext) {
  std::vector<std::string> corpus;
  for (const auto& c : EdgeCases()) corpus.push_back(c.body);
  corpus.push_back(
      "# HELP a b\\nc\n# TYPE a histogram\na_bucket{le=\"1\"} 1 5\na_sum 2\n"
      "x{a=\"\\\\\\\"\\n\",b=\"ok\"} -Inf 123\nx 1\nx_y 2\nx {a=\"1\"} 3\n");
  if (std::filesystem::exists(::tests::SharedDir() + "/peer/node_exporter/fixtures/e2e-output.txt")) {
    corpus.push_back(Shared("peer/node_exporter/fixtures/e2e-output.txt").substr(0, 20000));
  }
  std::mt19937_64 rng(99);
  int hits = 0;
  for (int it = 0; it < 6000; ++it) {
    const std::string& base = corpus[rng() % corpus.size()];
    const std::vector<std::string> known = AcceptedSeries(base);  // the previous scrape
    if (known.empty()) continue;
    const std::string body = it % 4 == 0 ? base : Mutate(base, rng);
    SCOPED_TRACE("iteration " + std::to_string(it));
    int none = 0;
    const std::string plain = Transcript(body, [](size_t) { return std::string_view(); }, &none);
    // By position, as the scrape cache asks, and at random.
    const std::string by_pos = Transcript(
        body, [&](size_t k) { return k < known.size() ? std::string_view(known[k]) : ""; }, &hits);
    ASSERT_EQ(by_pos, plain) << ::testing::PrintToString(body.substr(0, 2000));
    const uint64_t seed = rng();
    const std::string random = Transcript(
        body, [&](size_t k) { return std::string_view(known[(seed + k * 7) % known.size()]); },
        &hits);
    ASSERT_EQ(random, plain) << ::testing::PrintToString(body.substr(0, 2000));
  }
  EXPECT_GT(hits, 1000);
}

}  // namespace
}  // namespace common::expfmt
