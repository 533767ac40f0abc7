#include "collector/storage/storage.h"

#include <cstring>

namespace collector::storage {

double StaleNaN() {
  double d;
  std::memcpy(&d, &kStaleNaNBits, sizeof d);
  return d;
}

namespace {
constexpr std::string_view kDuplicate = "duplicate sample for timestamp";
}

Status ErrOutOfOrderSample() { return Status(common::Code::kOutOfOrder, "out of order sample"); }
Status ErrDuplicateSampleForTimestamp() {
  return Status(common::Code::kInvalidArgument, kDuplicate);
}
Status ErrOutOfBounds() { return Status(common::Code::kOutOfBounds, "out of bounds"); }
bool IsOutOfOrder(const Status& s) { return s.code() == common::Code::kOutOfOrder; }
bool IsDuplicateSample(const Status& s) {
  return s.code() == common::Code::kInvalidArgument && s.message() == kDuplicate;
}
bool IsOutOfBounds(const Status& s) { return s.code() == common::Code::kOutOfBounds; }

Result<Matcher> Matcher::Make(Type type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == Type::kRegex || type == Type::kNotRegex) {
    auto re = common::re2::Regex::CompileAnchored(m.value_);
    if (!re.ok()) return re.status();
    m.re_ = std::make_shared<common::re2::Regex>(std::move(re).value());
  }
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case Type::kEqual: return v == value_;
    case Type::kNotEqual: return v != value_;
    case Type::kRegex: return re_->FullMatch(v);
    case Type::kNotRegex: return !re_->FullMatch(v);
  }
  return false;
}

std::string Matcher::ToString() const {
  const char* op = type_ == Type::kEqual ? "=" : type_ == Type::kNotEqual ? "!=" :
                   type_ == Type::kRegex ? "=~" : "!~";
  return name_ + op + "\"" + value_ + "\"";
}

Status SeriesSet::TakeSamples(std::vector<Sample>& out, std::vector<int64_t>& st) {
  out.clear();
  st.clear();
  auto it = At().Iterator();
  bool any_st = false;
  while (it->Next()) {
    int64_t s = it->st();
    if (s != 0 && !any_st) {
      any_st = true;
      st.assign(out.size(), 0);
    }
    out.push_back(Sample{it->t(), it->v()});
    if (any_st) st.push_back(s);
  }
  return it->status();
}

}  // namespace collector::storage
