#include "collector/model/selector.h"

#include <cctype>

#include "collector/promql/parser/lexer.h"

namespace collector::model {

using common::Result;
using common::Status;
using storage::Matcher;

namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void Skip() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
  }
  bool AtEnd() {
    Skip();
    return p_ >= s_.size();
  }
  char Peek() {
    Skip();
    return p_ < s_.size() ? s_[p_] : '\0';
  }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++p_;
    return true;
  }
  bool Ident(std::string& out, bool allow_colon) {
    Skip();
    size_t start = p_;
    while (p_ < s_.size()) {
      char c = s_[p_];
      bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (allow_colon && c == ':') ||
                (p_ > start && std::isdigit(static_cast<unsigned char>(c)));
      if (!ok) break;
      ++p_;
    }
    out = std::string(s_.substr(start, p_ - start));
    return !out.empty();
  }
  Status String(std::string& out) {
    Skip();
    if (p_ >= s_.size()) return Err("expected a quoted string");
    char q = s_[p_];
    if (q != '"' && q != '\'' && q != '`') return Err("expected a quoted string");
    auto r = collector::promql::parser::ReadGoQuoted(s_, &p_);
    if (!r.ok()) return Err(r.status().message());
    out = std::move(r).value();
    return Status::Ok();
  }
  Status Err(std::string_view what) const {
    return Status::InvalidArgument("1:" + std::to_string(p_ + 1) + ": parse error: " + std::string(what));
  }
  size_t pos() const { return p_; }

 private:
  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

Result<std::vector<Matcher>> ParseSeriesSelector(std::string_view s) {
  Lexer lx(s);
  std::vector<Matcher> ms;
  std::string name;
  if (lx.Peek() != '{') {
    if (!lx.Ident(name, true)) return lx.Err("expected a metric name or '{'");
    auto m = Matcher::Make(Matcher::Type::kEqual, "__name__", name);
    if (!m.ok()) return m.status();
    ms.push_back(std::move(m).value());
  }
  if (lx.Eat('{')) {
    while (!lx.Eat('}')) {
      std::string lname, value;
      if (!lx.Ident(lname, false)) return lx.Err("expected a label name");
      Matcher::Type t;
      if (lx.Eat('=')) {
        t = lx.Eat('~') ? Matcher::Type::kRegex : Matcher::Type::kEqual;
      } else if (lx.Eat('!')) {
        if (lx.Eat('=')) t = Matcher::Type::kNotEqual;
        else if (lx.Eat('~')) t = Matcher::Type::kNotRegex;
        else return lx.Err("expected '=' or '~' after '!'");
      } else {
        return lx.Err("expected a label matching operator (=, !=, =~, !~)");
      }
      LOOKOUT_RETURN_IF_ERROR(lx.String(value));
      auto m = Matcher::Make(t, lname, value);
      if (!m.ok()) return m.status();
      ms.push_back(std::move(m).value());
      if (lx.Eat(',')) continue;
      if (lx.Peek() != '}') return lx.Err("expected ',' or '}'");
    }
  }
  if (!lx.AtEnd()) return lx.Err("unexpected characters after the selector");
  if (ms.empty()) return Status::InvalidArgument("vector selector must contain at least one matcher");
  bool nonempty = false;
  for (const auto& m : ms) nonempty |= !m.Matches("");
  if (!nonempty) {
    return Status::InvalidArgument("vector selector must contain at least one non-empty matcher");
  }
  return ms;
}

}  // namespace collector::model
