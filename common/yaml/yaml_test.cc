#include "common/yaml/yaml.h"

#include <gtest/gtest.h>

namespace common::yaml {
namespace {

TEST(Yaml, TreeWithPositions) {
  auto r = ParseString(
      "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    honor_labels: true\n"
      "    static_configs:\n      - targets: ['a:9100', \"b:9100\"]\n",
      "p.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Node* sc = r->Get("scrape_configs");
  ASSERT_TRUE(sc && sc->IsSeq());
  const Node& job = sc->items[0];
  EXPECT_EQ(*job.Get("job_name")->AsString("job_name"), "node");
  EXPECT_TRUE(*job.Get("honor_labels")->AsBool("honor_labels"));
  const Node* targets = job.Get("static_configs")->items[0].Get("targets");
  ASSERT_EQ(targets->items.size(), 2u);
  EXPECT_EQ(targets->items[1].scalar, "b:9100");
  EXPECT_EQ(targets->items[1].Where(), "p.yml:7:29");
  auto bad = job.Get("job_name")->AsInt("scrape_configs[0].job_name");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "p.yml:4:15: scrape_configs[0].job_name: expected an integer, got \"node\"");
}

TEST(Yaml, ErrorsNamePositions) {
  auto r = ParseString("a: [1, 2\nb: 3\n", "bad.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.yml:"), std::string::npos) << r.status().ToString();
  auto dup = ParseString("a: 1\na: 2\n", "dup.yml");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("dup.yml:2:1"), std::string::npos) << dup.status().ToString();
}

TEST(Yaml, AnchorsAliasesAndQuoting) {
  auto r = ParseString("base: &b {x: 1}\nuse: *b\nmerged:\n  <<: *b\n  y: 2\nq: 'true'\nn: ~\n", "a.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Get("use")->Get("x")->scalar, "1");
  EXPECT_EQ(r->Get("merged")->Get("x")->scalar, "1");
  EXPECT_FALSE(r->Get("q")->AsBool("q").ok());  // quoted: a string, not a bool
  EXPECT_TRUE(r->Get("n")->IsNull());
}

}  // namespace
}  // namespace common::yaml
