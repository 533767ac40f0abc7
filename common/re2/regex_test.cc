#include "common/re2/regex.h"

#include <gtest/gtest.h>

namespace common::re2 {
namespace {

TEST(Regex, CompileAnchoredMatchesWholeStringAndDotMatchesNewline) {
  struct Case {
    std::string_view pattern, input;
    bool want;
  } cases[] = {
      {"a", "a", true},
      {"a", "ba", false},
      {"a|b", "b", true},
      {"a|b", "ab", false},
      {".*x.*", "axb", true},
      {"(.*)", "a\nb", true},
      {"foo.bar", "foo\nbar", true},
  };
  for (const auto& c : cases) {
    auto re = Regex::CompileAnchored(c.pattern);
    ASSERT_TRUE(re.ok()) << re.status().ToString();
    EXPECT_EQ(re->FullMatch(c.input), c.want) << c.pattern << " on \"" << c.input << "\"";
  }
  auto bad = Regex::CompileAnchored("a(");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

// Go's regexp.Expand semantics (https://pkg.go.dev/regexp#Regexp.Expand).
TEST(Regex, ExpandMatchFollowsGoExpand) {
  struct Case {
    std::string_view pattern, input, rewrite, want;
  } cases[] = {
      {"(a)(b)", "ab", "$1", "a"},
      {"(a)(b)", "ab", "$2$1", "ba"},
      {"(a)(b)", "ab", "${1}x", "ax"},
      {"(a)(b)", "ab", "$1x", ""},  // the longest name: group "1x", unknown
      {"(a)(b)", "ab", "$1_", ""},  // '_' belongs to the name too
      {"(a)(b)", "ab", "$1-", "a-"},
      {"(a)(b)", "ab", "$0", "ab"},
      {"(a)(b)", "ab", "$3", ""},  // out of range
      {"(a)(b)", "ab", "$10", ""},
      {"(a)(b)", "ab", "$$1", "$1"},  // $$ is a literal $
      {"(a)(b)", "ab", "$$$1", "$a"},
      {"(a)(b)", "ab", "$", "$"},  // malformed references keep the '$'
      {"(a)(b)", "ab", "x$", "x$"},
      {"(a)(b)", "ab", "${1", "${1"},
      {"(a)(b)", "ab", "${}", "${}"},
      {"(a)(b)", "ab", "$-1", "$-1"},
      {"(a)(b)", "ab", "${1}${2}", "ab"},
      {"(a)(b)", "ab", "${ 1}", "${ 1}"},
      {"(a)(b)", "ab", "$01", ""},  // leading zero: a name, not group 1 (regression)
      {"(a)(b)", "ab", "${01}", ""},
      {"(a)(b)", "ab", "$1\xC3\xA9", ""},  // letters are Unicode: name "1é" (regression)
      {"(a)(b)", "ab", "${1}\xC3\xA9", "a\xC3\xA9"},
      {"(a)(b)", "ab", "$1\xE2\x82\xAC", "a\xE2\x82\xAC"},  // '€' is not a letter
      {"(?P<first>a)(?P<second>b)", "ab", "$second.$first", "b.a"},
      {"(?P<first>a)(?P<second>b)", "ab", "${second}x${first}", "bxa"},
      {"(?P<first>a)(?P<second>b)", "ab", "$firstx", ""},
      {"(?P<first>a)(?P<second>b)", "ab", "$1$2", "ab"},
      {"(a)?(b)", "b", "[$1|$2]", "[|b]"},  // a group that did not take part expands to ""
      {"(.*)", "", "$1", ""},
      {"(.*)", "a\nb", "<$1>", "<a\nb>"},
      {"no refs", "no refs", "plain text", "plain text"},
  };
  for (const auto& c : cases) {
    auto re = Regex::CompileAnchored(c.pattern);
    ASSERT_TRUE(re.ok()) << re.status().ToString();
    std::string out = "stale";
    ASSERT_TRUE(re->ExpandMatch(c.input, c.rewrite, out)) << c.pattern;
    EXPECT_EQ(out, c.want) << "pattern " << c.pattern << " rewrite \"" << c.rewrite << "\"";
  }
}

TEST(Regex, ExpandMatchReportsNoMatch) {
  auto re = Regex::CompileAnchored("a(b)");
  ASSERT_TRUE(re.ok());
  std::string out;
  EXPECT_FALSE(re->ExpandMatch("xab", "$1", out));
  EXPECT_FALSE(re->ExpandMatch("abx", "$1", out));
  EXPECT_TRUE(re->ExpandMatch("ab", "$1", out));
  EXPECT_EQ(out, "b");
}

TEST(Regex, IsLiteral) {
  std::string lit;
  auto plain = Regex::CompileAnchored("node_exporter");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->IsLiteral(lit));
  EXPECT_EQ(lit, "node_exporter");
  auto meta = Regex::CompileAnchored("node.*");
  ASSERT_TRUE(meta.ok());
  EXPECT_FALSE(meta->IsLiteral(lit));
}

}  // namespace
}  // namespace common::re2
