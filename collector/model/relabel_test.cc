#include "collector/model/relabel.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace collector::model {
namespace {

// One relabel rule as a test writes it; unset fields keep the config defaults.
struct Rule {
  RelabelAction action = RelabelAction::kReplace;
  std::vector<std::string> source_labels = {};
  std::optional<std::string> regex = std::nullopt;
  std::optional<std::string> target_label = std::nullopt;
  std::optional<std::string> replacement = std::nullopt;
  std::optional<std::string> separator = std::nullopt;
  uint64_t modulus = 0;
};

RelabelConfig Make(const Rule& r) {
  RelabelConfig c;
  c.action = r.action;
  c.source_labels = r.source_labels;
  if (r.regex) c.regex = *r.regex;
  if (r.target_label) c.target_label = *r.target_label;
  if (r.replacement) c.replacement = *r.replacement;
  if (r.separator) c.separator = *r.separator;
  c.modulus = r.modulus;
  return c;
}

struct Case {
  std::string name;
  Labels in;
  std::vector<Rule> rules;
  std::optional<Labels> want;  // nullopt: the label set is dropped
};

void RunTable(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<RelabelConfig> cfgs;
    for (const auto& r : c.rules) {
      cfgs.push_back(Make(r));
      common::Status s = cfgs.back().Compile();
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    Labels out;
    bool kept = Relabel(c.in, cfgs, out);
    ASSERT_EQ(kept, c.want.has_value());
    if (kept) {
      EXPECT_EQ(out, *c.want) << out.ToString() << " want " << c.want->ToString();
    }
    // The builder form agrees with the Labels form.
    LabelsBuilder lb(c.in);
    ASSERT_EQ(Relabel(lb, cfgs), kept);
    if (kept) {
      EXPECT_EQ(lb.Build(), *c.want);
    }
  }
}

using A = RelabelAction;

TEST(Relabel, Replace) {
  Labels abc{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}};
  RunTable({
      {"groups expand in replacement",
       abc,
       {{.source_labels = {"a"},
         .regex = "f(.*)",
         .target_label = "d",
         .replacement = "ch${1}-ch${1}"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "choo-choo"}}},
      {"sources joined with the separator",
       abc,
       {{.source_labels = {"a", "b"},
         .regex = "f(.*);(.*)r",
         .target_label = "a",
         .replacement = "b${1}${2}m"}},
       Labels{{"a", "boobam"}, {"b", "bar"}, {"c", "baz"}}},
      {"custom separator",
       abc,
       {{.source_labels = {"a", "b"},
         .regex = "foo-bar",
         .target_label = "d",
         .replacement = "matched",
         .separator = "-"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "matched"}}},
      {"defaults copy the joined value",
       abc,
       {{.source_labels = {"a", "c"}, .target_label = "d"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "foo;baz"}}},
      {"missing source label contributes an empty string",
       abc,
       {{.source_labels = {"a", "missing", "b"}, .target_label = "d"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "foo;;bar"}}},
      {"regex is anchored: no match, no change",
       abc,
       {{.source_labels = {"a"}, .regex = "o", .target_label = "d", .replacement = "x"}},
       abc},
      {"unanchor with .*x.*",
       abc,
       {{.source_labels = {"a"}, .regex = ".*o.*", .target_label = "d", .replacement = "x"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "x"}}},
      {"dot matches newline",
       Labels{{"a", "foo\nbar"}},
       {{.source_labels = {"a"}, .regex = "foo.bar", .target_label = "d", .replacement = "nl"}},
       Labels{{"a", "foo\nbar"}, {"d", "nl"}}},
      {"empty expansion deletes the target",
       abc,
       {{.source_labels = {"a"}, .regex = "(f)(.*)", .target_label = "b", .replacement = "$3"}},
       Labels{{"a", "foo"}, {"c", "baz"}}},
      {"target label from a group",
       abc,
       {{.source_labels = {"a"},
         .regex = "(f).*",
         .target_label = "name_${1}",
         .replacement = "${1}"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"name_f", "f"}}},
      {"expanded target not a valid name: no change",
       Labels{{"a", "1x"}},
       {{.source_labels = {"a"}, .regex = "(.*)", .target_label = "$1", .replacement = "v"}},
       Labels{{"a", "1x"}}},
      {"$1x is group \"1x\" (empty); ${1}x is group 1 then x",
       abc,
       {{.source_labels = {"a"}, .regex = "(.*)", .target_label = "d", .replacement = "$1x"},
        {.source_labels = {"a"}, .regex = "(.*)", .target_label = "e", .replacement = "${1}x"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"e", "foox"}}},
      {"$$ is a literal dollar",
       abc,
       {{.source_labels = {"a"}, .target_label = "d", .replacement = "$$${1}"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "$foo"}}},
      {"named groups",
       abc,
       {{.source_labels = {"a"},
         .regex = "(?P<head>f)(?P<tail>.*)",
         .target_label = "d",
         .replacement = "$tail-${head}"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "oo-f"}}},
      {"fast path: empty value, default regex, literal replacement",
       Labels{{"a", "foo"}},
       {{.target_label = "d", .replacement = "static"}},
       Labels{{"a", "foo"}, {"d", "static"}}},
      {"fast path with an empty replacement deletes",
       Labels{{"a", "foo"}, {"d", "x"}},
       {{.target_label = "d", .replacement = ""}},
       Labels{{"a", "foo"}}},
      {"empty value through the regex: $1 is empty, target deleted",
       Labels{{"a", "foo"}, {"d", "x"}},
       {{.source_labels = {"missing"}, .target_label = "d"}},
       Labels{{"a", "foo"}}},
      {"an empty input value counts as absent",
       Labels{{"a", ""}, {"b", "bar"}},
       {{.source_labels = {"a"}, .regex = "", .target_label = "d", .replacement = "was_empty"}},
       Labels{{"b", "bar"}, {"d", "was_empty"}}},
      {"overwrites an existing target",
       abc,
       {{.source_labels = {"c"}, .target_label = "a"}},
       Labels{{"a", "baz"}, {"b", "bar"}, {"c", "baz"}}},
  });
}

TEST(Relabel, KeepAndDrop) {
  Labels ab{{"a", "foo"}, {"b", "bar"}};
  RunTable({
      {"keep on match", ab, {{.action = A::kKeep, .source_labels = {"a"}, .regex = "f.*"}}, ab},
      {"keep drops on no match",
       ab,
       {{.action = A::kKeep, .source_labels = {"a"}, .regex = "b.*"}},
       std::nullopt},
      {"keep is anchored",
       ab,
       {{.action = A::kKeep, .source_labels = {"a"}, .regex = "fo"}},
       std::nullopt},
      {"keep of a missing label matches the empty regex",
       ab,
       {{.action = A::kKeep, .source_labels = {"missing"}, .regex = ""}},
       ab},
      {"keep with joined values",
       ab,
       {{.action = A::kKeep, .source_labels = {"a", "b"}, .regex = "foo;bar"}},
       ab},
      {"drop on match",
       ab,
       {{.action = A::kDrop, .source_labels = {"a"}, .regex = "f.*"}},
       std::nullopt},
      {"drop keeps on no match",
       ab,
       {{.action = A::kDrop, .source_labels = {"a"}, .regex = "b.*"}},
       ab},
      {"drop with the default regex drops everything",
       ab,
       {{.action = A::kDrop, .source_labels = {"missing"}}},
       std::nullopt},
      {"later rules do not run after a drop",
       ab,
       {{.action = A::kDrop, .source_labels = {"a"}, .regex = "foo"},
        {.target_label = "c", .replacement = "x"}},
       std::nullopt},
  });
}

TEST(Relabel, KeepEqualAndDropEqual) {
  Labels same{{"a", "x"}, {"b", "x"}, {"c", "y"}};
  RunTable({
      {"keepequal keeps equal",
       same,
       {{.action = A::kKeepEqual, .source_labels = {"a"}, .target_label = "b"}},
       same},
      {"keepequal drops different",
       same,
       {{.action = A::kKeepEqual, .source_labels = {"a"}, .target_label = "c"}},
       std::nullopt},
      {"keepequal: missing target equals an empty value",
       same,
       {{.action = A::kKeepEqual, .source_labels = {"missing"}, .target_label = "other"}},
       same},
      {"keepequal compares the joined value",
       Labels{{"a", "x"}, {"b", "y"}, {"t", "x;y"}},
       {{.action = A::kKeepEqual, .source_labels = {"a", "b"}, .target_label = "t"}},
       Labels{{"a", "x"}, {"b", "y"}, {"t", "x;y"}}},
      {"dropequal drops equal",
       same,
       {{.action = A::kDropEqual, .source_labels = {"a"}, .target_label = "b"}},
       std::nullopt},
      {"dropequal keeps different",
       same,
       {{.action = A::kDropEqual, .source_labels = {"a"}, .target_label = "c"}},
       same},
  });
}

TEST(Relabel, HashMod) {
  RunTable({
      {"spec known answer: baz mod 1000",
       Labels{{"a", "baz"}},
       {{.action = A::kHashMod, .source_labels = {"a"}, .target_label = "h", .modulus = 1000}},
       Labels{{"a", "baz"}, {"h", "976"}}},
      {"spec known answer: foo\\nbar mod 1000",
       Labels{{"a", "foo"}, {"b", "bar"}},
       {{.action = A::kHashMod,
         .source_labels = {"a", "b"},
         .target_label = "h",
         .separator = "\n",
         .modulus = 1000}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"h", "734"}}},
      {"value of the worked example, mod 4",
       Labels{{"__address__", "10.0.1.17:9100"}},
       {{.action = A::kHashMod,
         .source_labels = {"__address__"},
         .target_label = "s",
         .modulus = 4}},
       Labels{{"__address__", "10.0.1.17:9100"}, {"s", "0"}}},
      {"modulus 1 always gives 0",
       Labels{{"a", "anything"}},
       {{.action = A::kHashMod, .source_labels = {"a"}, .target_label = "h", .modulus = 1}},
       Labels{{"a", "anything"}, {"h", "0"}}},
      {"overwrites the target",
       Labels{{"a", "baz"}, {"h", "old"}},
       {{.action = A::kHashMod, .source_labels = {"a"}, .target_label = "h", .modulus = 1000}},
       Labels{{"a", "baz"}, {"h", "976"}}},
  });
}

TEST(Relabel, LabelMap) {
  RunTable({
      {"copies matching names, originals kept",
       Labels{{"__meta_env", "prod"}, {"__meta_team", "db"}, {"a", "x"}},
       {{.action = A::kLabelMap, .regex = "__meta_(.+)"}},
       Labels{{"__meta_env", "prod"},
              {"__meta_team", "db"},
              {"a", "x"},
              {"env", "prod"},
              {"team", "db"}}},
      {"replacement template",
       Labels{{"__meta_filepath", "/f.json"}},
       {{.action = A::kLabelMap, .regex = "__meta_(.+)", .replacement = "sd_${1}"}},
       Labels{{"__meta_filepath", "/f.json"}, {"sd_filepath", "/f.json"}}},
      {"anchored: a partial name match does not count",
       Labels{{"xa", "1"}, {"a", "2"}},
       {{.action = A::kLabelMap, .regex = "a", .replacement = "b"}},
       Labels{{"xa", "1"}, {"a", "2"}, {"b", "2"}}},
      {"overwrites an existing label",
       Labels{{"__meta_a", "new"}, {"a", "old"}},
       {{.action = A::kLabelMap, .regex = "__meta_(.+)"}},
       Labels{{"__meta_a", "new"}, {"a", "new"}}},
      {"no match, no change",
       Labels{{"a", "1"}},
       {{.action = A::kLabelMap, .regex = "b(.*)"}},
       Labels{{"a", "1"}}},
  });
}

TEST(Relabel, LabelDropAndLabelKeep) {
  Labels in{{"__tmp_shard", "3"}, {"__tmp_x", "y"}, {"a", "1"}, {"ab", "2"}};
  RunTable({
      {"labeldrop removes matching names",
       in,
       {{.action = A::kLabelDrop, .regex = "__tmp_.*"}},
       Labels{{"a", "1"}, {"ab", "2"}}},
      {"labeldrop is anchored",
       in,
       {{.action = A::kLabelDrop, .regex = "a"}},
       Labels{{"__tmp_shard", "3"}, {"__tmp_x", "y"}, {"ab", "2"}}},
      {"labeldrop of everything leaves an empty set", in, {{.action = A::kLabelDrop}}, Labels{}},
      {"labelkeep keeps only matching names",
       in,
       {{.action = A::kLabelKeep, .regex = "a.*"}},
       Labels{{"a", "1"}, {"ab", "2"}}},
      {"labelkeep with no match keeps nothing",
       in,
       {{.action = A::kLabelKeep, .regex = "zzz"}},
       Labels{}},
  });
}

TEST(Relabel, LowercaseAndUppercase) {
  RunTable({
      {"lowercase ASCII",
       Labels{{"a", "FooBar"}},
       {{.action = A::kLowercase, .source_labels = {"a"}, .target_label = "l"}},
       Labels{{"a", "FooBar"}, {"l", "foobar"}}},
      {"uppercase ASCII",
       Labels{{"a", "FooBar"}},
       {{.action = A::kUppercase, .source_labels = {"a"}, .target_label = "u"}},
       Labels{{"a", "FooBar"}, {"u", "FOOBAR"}}},
      {"lowercase Unicode (Go strings.ToLower)",
       Labels{{"a", "\xC3\x84\xCE\x91-\xE2\x84\xAA"}},
       {{.action = A::kLowercase, .source_labels = {"a"}, .target_label = "l"}},
       Labels{{"a", "\xC3\x84\xCE\x91-\xE2\x84\xAA"}, {"l", "\xC3\xA4\xCE\xB1-k"}}},
      {"uppercase Unicode",
       Labels{{"a", "\xC3\xA4\xCE\xB1"}},
       {{.action = A::kUppercase, .source_labels = {"a"}, .target_label = "u"}},
       Labels{{"a", "\xC3\xA4\xCE\xB1"}, {"u", "\xC3\x84\xCE\x91"}}},
      {"joined sources",
       Labels{{"a", "X"}, {"b", "Y"}},
       {{.action = A::kLowercase, .source_labels = {"a", "b"}, .target_label = "l"}},
       Labels{{"a", "X"}, {"b", "Y"}, {"l", "x;y"}}},
      {"empty value deletes the target",
       Labels{{"l", "old"}},
       {{.action = A::kLowercase, .source_labels = {"missing"}, .target_label = "l"}},
       Labels{}},
  });
}

TEST(Relabel, ParseRelabelAction) {
  struct {
    std::string_view in;
    std::optional<RelabelAction> want;
  } cases[] = {
      {"replace", A::kReplace},     {"Replace", A::kReplace},     {"keep", A::kKeep},
      {"DROP", A::kDrop},           {"keepequal", A::kKeepEqual}, {"DropEqual", A::kDropEqual},
      {"HashMod", A::kHashMod},     {"labelmap", A::kLabelMap},   {"labeldrop", A::kLabelDrop},
      {"LabelKeep", A::kLabelKeep}, {"lowercase", A::kLowercase}, {"UPPERCASE", A::kUppercase},
      {"", std::nullopt},           {"replace ", std::nullopt},   {"labelreplace", std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = ParseRelabelAction(c.in);
    ASSERT_EQ(r.ok(), c.want.has_value()) << "\"" << c.in << "\"";
    if (c.want) {
      EXPECT_EQ(*r, *c.want);
    } else {
      EXPECT_TRUE(r.status().IsInvalidArgument());
    }
  }
}

TEST(Relabel, CompileValidates) {
  struct {
    std::string name;
    Rule rule;
    bool ok;
  } cases[] = {
      {"defaults are a valid replace? no: target_label required", {}, false},
      {"replace with a target", {.target_label = "a"}, true},
      {"replace target with a template", {.target_label = "${1}_x"}, true},
      {"replace target with $name", {.target_label = "$name"}, true},
      {"replace target invalid", {.target_label = "1a"}, false},
      {"replace target invalid template", {.target_label = "a-${1}"}, false},
      {"bad regex", {.regex = "a(", .target_label = "a"}, false},
      {"invalid source label name", {.source_labels = {"a-b"}, .target_label = "a"}, false},
      {"hashmod needs a modulus", {.action = A::kHashMod, .target_label = "h"}, false},
      {"hashmod ok", {.action = A::kHashMod, .target_label = "h", .modulus = 3}, true},
      {"hashmod needs a target", {.action = A::kHashMod, .modulus = 3}, false},
      {"hashmod target must be a plain name",
       {.action = A::kHashMod, .target_label = "${1}", .modulus = 3},
       false},
      {"lowercase needs a target", {.action = A::kLowercase}, false},
      {"uppercase target must be a plain name",
       {.action = A::kUppercase, .target_label = "$1"},
       false},
      {"lowercase rejects a replacement",
       {.action = A::kLowercase, .target_label = "l", .replacement = "x"},
       false},
      {"keepequal ok",
       {.action = A::kKeepEqual, .source_labels = {"a"}, .target_label = "b"},
       true},
      {"keepequal needs a target", {.action = A::kKeepEqual, .source_labels = {"a"}}, false},
      {"keepequal rejects a regex",
       {.action = A::kKeepEqual, .source_labels = {"a"}, .regex = "x", .target_label = "b"},
       false},
      {"dropequal rejects a separator",
       {.action = A::kDropEqual, .source_labels = {"a"}, .target_label = "b", .separator = ","},
       false},
      {"dropequal rejects a modulus",
       {.action = A::kDropEqual, .source_labels = {"a"}, .target_label = "b", .modulus = 2},
       false},
      {"labelmap ok", {.action = A::kLabelMap, .regex = "x_(.*)", .replacement = "y_$1"}, true},
      {"labelmap invalid replacement", {.action = A::kLabelMap, .replacement = "a-$1"}, false},
      {"labeldrop ok", {.action = A::kLabelDrop, .regex = "x"}, true},
      {"labeldrop rejects source_labels", {.action = A::kLabelDrop, .source_labels = {"a"}}, false},
      {"labelkeep rejects target_label", {.action = A::kLabelKeep, .target_label = "a"}, false},
      {"labelkeep rejects replacement", {.action = A::kLabelKeep, .replacement = "x"}, false},
      {"labelkeep rejects separator", {.action = A::kLabelKeep, .separator = ","}, false},
      {"keep needs nothing else", {.action = A::kKeep, .source_labels = {"a"}}, true},
  };
  for (const auto& c : cases) {
    RelabelConfig cfg = Make(c.rule);
    common::Status s = cfg.Compile();
    EXPECT_EQ(s.ok(), c.ok) << c.name << ": " << s.ToString();
    if (!c.ok) {
      EXPECT_TRUE(s.IsInvalidArgument()) << c.name;
      EXPECT_EQ(cfg.re, nullptr) << c.name << ": a failed Compile leaves no regex";
    } else {
      EXPECT_NE(cfg.re, nullptr) << c.name;
    }
  }
}

TEST(Relabel, UncompiledRulesAreSkipped) {
  RelabelConfig never_compiled;
  never_compiled.action = RelabelAction::kDrop;
  std::vector<RelabelConfig> cfgs{never_compiled};
  Labels out;
  EXPECT_TRUE(Relabel(Labels{{"a", "b"}}, cfgs, out));
  EXPECT_EQ(out, (Labels{{"a", "b"}}));
}

// shared/specs/file-sd.md section 4: the labels after population (section 2, steps 1-2),
// through relabel_configs (step 3), then steps 5-6 (drop __meta_*, default instance).
TEST(Relabel, SpecWorkedExample) {
  std::vector<Rule> rules = {
      {.action = A::kDrop, .source_labels = {"env"}, .regex = "staging"},
      {.source_labels = {"__address__"},
       .regex = R"(([^:]+):\d+)",
       .target_label = "host",
       .replacement = "${1}"},
      {.action = A::kHashMod,
       .source_labels = {"__address__"},
       .target_label = "__tmp_shard",
       .modulus = 4},
      {.action = A::kKeep, .source_labels = {"__tmp_shard"}, .regex = "3"},
      {.action = A::kLabelMap, .regex = "__meta_(.+)", .replacement = "sd_${1}"},
      {.action = A::kLabelDrop, .regex = "__tmp_.*"},
  };
  std::vector<RelabelConfig> cfgs;
  for (const auto& r : rules) {
    cfgs.push_back(Make(r));
    ASSERT_TRUE(cfgs.back().Compile().ok());
  }
  auto populated = [](std::string_view address, std::vector<Label> group) {
    group.push_back({"__address__", std::string(address)});
    group.push_back({"__meta_filepath", "/etc/collector/sd/nodes.json"});
    group.push_back({"job", "node"});
    group.push_back({"__scrape_interval__", "15s"});
    group.push_back({"__scrape_timeout__", "10s"});
    group.push_back({"__metrics_path__", "/metrics"});
    group.push_back({"__scheme__", "http"});
    group.push_back({"__param_format", "prometheus"});
    return Labels(std::move(group));
  };
  struct {
    std::string address;
    std::vector<Label> group;
    bool kept;
  } targets[] = {
      {"10.0.1.17:9100", {{"env", "prod"}, {"team", "db"}}, false},  // hashmod 0: rule 4
      {"db-7.prod.example.net:9100", {{"env", "prod"}, {"team", "db"}}, true},
      {"10.0.9.9:9100", {{"env", "staging"}}, false},  // rule 1
  };
  for (const auto& t : targets) {
    Labels out;
    EXPECT_EQ(Relabel(populated(t.address, t.group), cfgs, out), t.kept) << t.address;
    if (!t.kept) continue;
    LabelsBuilder lb(out);
    for (const auto& l : out) {
      if (l.name.rfind("__meta_", 0) == 0) lb.Del(l.name);
    }
    if (out.Get("instance").empty()) lb.Set("instance", out.Get("__address__"));
    Labels want{{"__address__", "db-7.prod.example.net:9100"},
                {"__metrics_path__", "/metrics"},
                {"__param_format", "prometheus"},
                {"__scheme__", "http"},
                {"__scrape_interval__", "15s"},
                {"__scrape_timeout__", "10s"},
                {"env", "prod"},
                {"host", "db-7.prod.example.net"},
                {"instance", "db-7.prod.example.net:9100"},
                {"job", "node"},
                {"sd_filepath", "/etc/collector/sd/nodes.json"},
                {"team", "db"}};
    EXPECT_EQ(lb.Build(), want) << lb.Build().ToString();
  }
}

}  // namespace
}  // namespace collector::model
