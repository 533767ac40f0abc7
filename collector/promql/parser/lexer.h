#pragma once
// PromQL lexer (after Prometheus' promql/parser/lex.go): turns a query into tokens. Internal to
// the parser folder.
//
// Tokenize() never fails as a call: a lexing error ends the stream with a kError token whose
// `val` is Prometheus' message and whose `pos` is where the bad item starts. Otherwise the
// stream ends with kEof. Comments are dropped. Thread affinity: none.

#include <cstdint>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace collector::promql::parser {

enum class Tok {
  kEof, kError, kIdentifier, kMetricIdentifier, kNumber, kDuration, kString,
  kLParen, kRParen, kLBrace, kRBrace, kLBracket, kRBracket, kComma, kColon, kEql,
  // Operators.
  kAdd, kSub, kMul, kDiv, kMod, kPow, kEqlc, kNeq, kLte, kLss, kGte, kGtr, kEqlRegex, kNeqRegex,
  kAt, kLand, kLor, kLunless, kAtan2, kTrimUpper, kTrimLower,
  // Aggregators.
  kAvg, kBottomK, kCount, kCountValues, kGroup, kMax, kMin, kQuantile, kStddev, kStdvar, kSum,
  kTopK, kLimitK, kLimitRatio,
  // Keywords.
  kBool, kBy, kGroupLeft, kGroupRight, kIgnoring, kOffset, kSmoothed, kAnchored, kOn, kWithout,
  kFill, kFillLeft, kFillRight,
  // Preprocessors and duration-expression words.
  kStart, kEnd, kStep, kRange, kMinOf, kMaxOf,
};

struct Token {
  Tok kind = Tok::kEof;
  int pos = 0;      // byte offset of the first character
  std::string val;  // the raw text (kError: the message)
  int End() const { return pos + static_cast<int>(val.size()); }
};

bool IsOperatorTok(Tok t);
bool IsAggregatorTok(Tok t);
bool IsKeywordTok(Tok t);

std::vector<Token> Tokenize(std::string_view input);

// Prometheus' Item.desc(): `"("`, `<op:+>`, `<aggr:sum>`, `<by>`, `identifier "foo"`,
// `end of input`, ...
std::string TokenDesc(const Token& t);

// Go's strconv.Quote / QuoteRune (used in messages and by the printer).
std::string GoQuote(std::string_view s);
std::string GoQuoteRune(uint32_t r);

// Reads a Go-quoted string ("...", '...' with Go escapes, or `...` raw) starting at s[*pos] and
// advances *pos past its closing quote. InvalidArgument on an unterminated string or a bad
// escape. The one unquoter of the project's selector and test-script parsers.
common::Result<std::string> ReadGoQuoted(std::string_view s, size_t* pos);

// Unquotes a string token (its raw text with quotes), as Prometheus' strutil.Unquote. The lexer
// has validated the escapes already.
std::string UnquoteString(std::string_view raw);

}  // namespace collector::promql::parser
