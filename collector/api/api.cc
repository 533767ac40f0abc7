#include "collector/api/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "collector/model/selector.h"
#include "collector/promql/parser/parser.h"
#include "common/base/units.h"
#include "common/expfmt/encoder.h"
#include "common/proto/remote_write.h"

namespace collector::api {

using common::Result;
using common::Status;
using common::http::Request;
using common::http::Respond;
using common::http::Response;
using json = nlohmann::ordered_json;
using storage::Labels;

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Response Json(int status, const json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Response Success(json data) { return Json(200, json{{"status", "success"}, {"data", std::move(data)}}); }

Response Error(int status, std::string_view type, std::string_view msg) {
  return Json(status, json{{"status", "error"}, {"errorType", type}, {"error", msg}});
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Params RequestParams(const Request& req) {
  Params p = Params::Parse(req.query);
  if (req.method == "POST" &&
      req.Header("content-type").find("application/x-www-form-urlencoded") != std::string_view::npos) {
    p.Merge(Params::Parse(req.body));
  }
  return p;
}

// Parses start/end (defaults: the whole range) and match[] selectors.
Status ParseRange(const Params& p, int64_t& start, int64_t& end,
                  std::vector<std::vector<storage::Matcher>>& sets) {
  start = std::numeric_limits<int64_t>::min() / 2;
  end = std::numeric_limits<int64_t>::max() / 2;
  if (p.Has("start")) {
    auto t = ParseTimeMs(p.Get("start"));
    if (!t.ok()) return t.status().Annotate("invalid parameter \"start\"");
    start = *t;
  }
  if (p.Has("end")) {
    auto t = ParseTimeMs(p.Get("end"));
    if (!t.ok()) return t.status().Annotate("invalid parameter \"end\"");
    end = *t;
  }
  if (end < start) return Status::InvalidArgument("end timestamp must not be before start time");
  for (const auto& m : p.GetAll("match[]")) {
    auto ms = model::ParseSeriesSelector(m);
    if (!ms.ok()) return ms.status().Annotate("invalid parameter \"match[]\"");
    sets.push_back(std::move(ms).value());
  }
  return Status::Ok();
}

json LabelsJson(const Labels& l) {
  json o = json::object();
  for (const auto& x : l) o[x.name] = x.value;
  return o;
}

// Prometheus' error envelope for a failed query. Parse errors (InvalidArgument) are bad_data.
[[maybe_unused]] Response QueryError(const Status& s, std::string_view param_prefix) {
  switch (s.code()) {
    case common::Code::kInvalidArgument:
      return Error(400, "bad_data", std::string(param_prefix) + std::string(s.message()));
    case common::Code::kDeadlineExceeded:
      return Error(503, "timeout", s.message());
    case common::Code::kCancelled:
      return Error(499, "canceled", s.message());
    case common::Code::kUnavailable:
      return Error(503, "unavailable", s.message());
    default:
      return Error(422, "execution", s.message());
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  // Printable ASCII without '"' or '\\' is its own JSON text (most label names and values);
  // anything else goes through nlohmann-json's escaping.
  bool plain = true;
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

void AppendLabelsJson(std::string& out, const Labels& l) {
  out += '{';
  bool first = true;
  for (const auto& x : l) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, x.name);
    out += ':';
    AppendJsonString(out, x.value);
  }
  out += '}';
}

// Matrices with at least this many points are encoded on two threads.
constexpr size_t kParallelRenderPoints = 50000;

// Prometheus' jsonutil.MarshalTimestamp: seconds, then the milliseconds as 3 digits if any.
// Writes at most 24 bytes at p; returns the end.
char* PutTimestamp(char* p, int64_t ms) {
  uint64_t t = static_cast<uint64_t>(ms);
  if (ms < 0) {
    *p++ = '-';
    t = 0 - t;
  }
  p = std::to_chars(p, p + 20, t / 1000).ptr;
  if (uint64_t frac = t % 1000; frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    *p++ = static_cast<char>('0' + frac / 10 % 10);
    *p++ = static_cast<char>('0' + frac % 10);
  }
  return p;
}

// AppendSampleValue's text for the values most samples have: NaN, infinities, zeros and
// 1e-6 <= |v| < 1e15, written at p (at most 32 bytes); nullptr for the others. Below 2^53 the
// shortest round-trip digits in fixed notation are Go's 'f' with precision -1 exactly (no
// integer part needs padding zeros).
char* PutCommonSampleValue(char* p, double v) {
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
  };
  if (std::isnan(v)) return put("NaN");
  if (std::isinf(v)) return put(v > 0 ? "+Inf" : "-Inf");
  if (v == 0) return put(std::signbit(v) ? "-0" : "0");
  double a = std::fabs(v);
  if (a < 1e-6 || a >= 1e15) return nullptr;
  return std::to_chars(p, p + 32, v, std::chars_format::fixed).ptr;
}

// [<seconds>,"<value>"] as AppendTimestamp and AppendSampleValue write them, built in a stack
// buffer and appended once (range results have hundreds of thousands of points).
void AppendPoint(std::string& out, int64_t t, double v) {
  char buf[64];
  char* p = buf;
  *p++ = '[';
  p = PutTimestamp(p, t);
  *p++ = ',';
  *p++ = '"';
  if (char* e = PutCommonSampleValue(p, v)) {
    p = e;
    *p++ = '"';
    *p++ = ']';
    out.append(buf, p);
    return;
  }
  out.append(buf, p);
  AppendSampleValue(out, v);
  out += "\"]";
}

// Go's strconv.FormatFloat(v, fmt, -1, 64) for fmt 'f' or 'e' (finite, non-zero v): the
// shortest round-trip digits laid out in that format, appended to `out` (no allocation beyond
// out's growth: range results format hundreds of thousands of values).
void AppendGoFloat(std::string& out, double v, char fmt) {
  char sci[64];
  auto res = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  std::string_view s(sci, static_cast<size_t>(res.ptr - sci));
  if (!s.empty() && s[0] == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  size_t epos = s.rfind('e');  // near the end: a backward scan beats memchr here
  char digits[32];
  size_t nd = 0;
  for (char c : s.substr(0, epos)) {
    if (c != '.' && nd < sizeof digits) digits[nd++] = c;
  }
  std::string_view ds(digits, nd);
  int exp = 0;
  std::string_view es = s.substr(epos + 1);
  if (!es.empty() && es[0] == '+') es.remove_prefix(1);
  std::from_chars(es.data(), es.data() + es.size(), exp);
  if (fmt == 'e') {
    out += ds[0];
    if (nd > 1) {
      out += '.';
      out += ds.substr(1);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    int ae = exp < 0 ? -exp : exp;
    if (ae < 10) out += '0';
    char eb[8];
    auto er = std::to_chars(eb, eb + sizeof eb, ae);
    out.append(eb, er.ptr);
    return;
  }
  int dp = exp + 1;  // digits before the decimal point
  int n = static_cast<int>(nd);
  if (dp <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-dp), '0');
    out += ds;
  } else if (dp >= n) {
    out += ds;
    out.append(static_cast<size_t>(dp - n), '0');
  } else {
    out += ds.substr(0, static_cast<size_t>(dp));
    out += '.';
    out += ds.substr(static_cast<size_t>(dp));
  }
}

std::string GoFormatFloat(double v, char fmt) {
  std::string out;
  AppendGoFloat(out, v, fmt);
  return out;
}

#ifdef LOOKOUT_HAVE_PROMQL
// Prometheus' parser.ValueType strings (as used by translateAST), not the documented names.
std::string_view GoValueType(promql::parser::ValueType t) {
  using VT = promql::parser::ValueType;
  switch (t) {
    case VT::kNone: return "none";
    case VT::kScalar: return "scalar";
    case VT::kVector: return "vector";
    case VT::kMatrix: return "matrix";
    case VT::kString: return "string";
  }
  return "none";
}

std::string_view MatcherTypeName(storage::Matcher::Type t) {
  switch (t) {
    case storage::Matcher::Type::kEqual: return "=";
    case storage::Matcher::Type::kNotEqual: return "!=";
    case storage::Matcher::Type::kRegex: return "=~";
    case storage::Matcher::Type::kNotRegex: return "!~";
  }
  return "=";
}

nlohmann::json Matchers(const std::vector<storage::Matcher>& ms) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : ms) {
    out.push_back({{"name", m.name()}, {"value", m.value()}, {"type", MatcherTypeName(m.type())}});
  }
  return out;
}

nlohmann::json StartOrEnd(promql::parser::AtModifier a) {
  if (a == promql::parser::AtModifier::kStart) return "start";
  if (a == promql::parser::AtModifier::kEnd) return "end";
  return nullptr;
}

nlohmann::json OptionalTs(const std::optional<int64_t>& t) {
  if (!t) return nullptr;
  return *t;
}

std::string NumberText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  return GoFormatFloat(v, 'f');
}

// Prometheus' translateAST (web/api/v1/translate_ast.go): the tree as the UI's tree view reads
// it. Keys come out sorted, as Go's encoding of maps.
nlohmann::json TranslateAst(const promql::parser::Expr* e) {
  namespace p = promql::parser;
  using nlohmann::json;
  if (e == nullptr) return nullptr;
  switch (e->kind) {
    case p::Expr::Kind::kAggregate: {
      const auto& n = static_cast<const p::AggregateExpr&>(*e);
      return {{"type", "aggregation"}, {"op", p::AggOpName(n.op)}, {"expr", TranslateAst(n.expr.get())},
              {"param", TranslateAst(n.param.get())}, {"grouping", n.grouping}, {"without", n.without}};
    }
    case p::Expr::Kind::kBinary: {
      const auto& n = static_cast<const p::BinaryExpr&>(*e);
      json matching = nullptr;
      if (n.matching) {
        const auto& m = *n.matching;
        const char* card = m.card == p::Cardinality::kOneToOne    ? "one-to-one"
                           : m.card == p::Cardinality::kManyToOne ? "many-to-one"
                           : m.card == p::Cardinality::kOneToMany ? "one-to-many"
                                                                  : "many-to-many";
        json fill = {{"lhs", m.fill_left ? json(*m.fill_left) : json(nullptr)},
                     {"rhs", m.fill_right ? json(*m.fill_right) : json(nullptr)}};
        matching = {{"card", card}, {"labels", m.matching_labels}, {"on", m.on}, {"include", m.include},
                    {"fillValues", fill}};
      }
      return {{"type", "binaryExpr"}, {"op", p::BinOpName(n.op)}, {"lhs", TranslateAst(n.lhs.get())},
              {"rhs", TranslateAst(n.rhs.get())}, {"matching", matching}, {"bool", n.return_bool}};
    }
    case p::Expr::Kind::kCall: {
      const auto& n = static_cast<const p::Call&>(*e);
      json args = json::array();
      for (const auto& a : n.args) args.push_back(TranslateAst(a.get()));
      json fn = nullptr;
      if (n.func != nullptr) {
        json types = json::array();
        for (auto t : n.func->arg_types) types.push_back(GoValueType(t));
        fn = {{"name", n.func->name}, {"argTypes", types}, {"variadic", n.func->variadic},
              {"returnType", GoValueType(n.func->return_type)}};
      }
      return {{"type", "call"}, {"func", fn}, {"args", args}};
    }
    case p::Expr::Kind::kMatrixSelector: {
      const auto& n = static_cast<const p::MatrixSelector&>(*e);
      const auto* vs = static_cast<const p::VectorSelector*>(n.vector_selector.get());
      if (vs == nullptr) return nullptr;
      return {{"type", "matrixSelector"}, {"name", vs->name}, {"range", n.range_ms},
              {"offset", vs->offset_ms}, {"matchers", Matchers(vs->matchers)},
              {"timestamp", OptionalTs(vs->at_ms)}, {"startOrEnd", StartOrEnd(vs->at_modifier)},
              {"anchored", vs->anchored}, {"smoothed", vs->smoothed}};
    }
    case p::Expr::Kind::kSubquery: {
      const auto& n = static_cast<const p::SubqueryExpr&>(*e);
      return {{"type", "subquery"}, {"expr", TranslateAst(n.expr.get())}, {"range", n.range_ms},
              {"offset", n.offset_ms}, {"step", n.step_ms}, {"timestamp", OptionalTs(n.at_ms)},
              {"startOrEnd", StartOrEnd(n.at_modifier)}, {"alignEvalTime", false}};
    }
    case p::Expr::Kind::kNumberLiteral: {
      const auto& n = static_cast<const p::NumberLiteral&>(*e);
      return {{"type", "numberLiteral"}, {"val", NumberText(n.val)}};
    }
    case p::Expr::Kind::kParen: {
      const auto& n = static_cast<const p::ParenExpr&>(*e);
      return {{"type", "parenExpr"}, {"expr", TranslateAst(n.expr.get())}};
    }
    case p::Expr::Kind::kStringLiteral: {
      const auto& n = static_cast<const p::StringLiteral&>(*e);
      return {{"type", "stringLiteral"}, {"val", n.val}};
    }
    case p::Expr::Kind::kUnary: {
      const auto& n = static_cast<const p::UnaryExpr&>(*e);
      return {{"type", "unaryExpr"}, {"op", n.negate ? "-" : "+"}, {"expr", TranslateAst(n.expr.get())}};
    }
    case p::Expr::Kind::kVectorSelector: {
      const auto& n = static_cast<const p::VectorSelector&>(*e);
      return {{"type", "vectorSelector"}, {"name", n.name}, {"offset", n.offset_ms},
              {"matchers", Matchers(n.matchers)}, {"timestamp", OptionalTs(n.at_ms)},
              {"startOrEnd", StartOrEnd(n.at_modifier)}, {"anchored", n.anchored},
              {"smoothed", n.smoothed}};
    }
    case p::Expr::Kind::kDuration: {
      // Not a node upstream's translateAST knows (duration expressions are folded there).
      const auto& n = static_cast<const p::DurationExpr&>(*e);
      return {{"type", "durationExpr"}, {"text", p::Format(n)}};
    }
  }
  return nullptr;
}
#endif  // LOOKOUT_HAVE_PROMQL

// Validates one remote_write series as the spec requires of senders.
Status ValidateSeries(const common::proto::RwSeriesView& s) {
  if (s.labels.empty()) return Status::InvalidArgument("series without labels");
  bool has_name = false;
  for (size_t i = 0; i < s.labels.size(); ++i) {
    const auto& [n, v] = s.labels[i];
    if (n.empty()) return Status::InvalidArgument("empty label name");
    for (size_t k = 0; k < n.size(); ++k) {
      char c = n[k];
      bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
                (k > 0 && std::isdigit(static_cast<unsigned char>(c)));
      if (!ok) return Status::InvalidArgument("invalid label name \"" + std::string(n) + "\"");
    }
    if (n == "__name__") {
      has_name = true;
      if (v.empty()) return Status::InvalidArgument("empty metric name");
    }
    if (i > 0) {
      std::string_view prev = s.labels[i - 1].first;
      if (prev == n) return Status::InvalidArgument("duplicate label name \"" + std::string(n) + "\"");
      if (prev > n) {
        return Status::InvalidArgument("labels not sorted by name: \"" + std::string(prev) + "\" before \"" +
                                       std::string(n) + "\"");
      }
    }
  }
  if (!has_name) return Status::InvalidArgument("series without a __name__ label");
  return Status::Ok();
}

std::string SeriesString(const common::proto::RwSeriesView& s) {
  std::string out = "{";
  for (const auto& [n, v] : s.labels) {
    if (out.size() > 1) out += ", ";
    out += n;
    out += "=\"";
    out += v;
    out += '"';
  }
  return out + "}";
}

// Remote-write series cache, one per worker thread: the hash of a series' label bytes as sent
// (name \xff value \xff ...) -> its built Labels and last known storage ref, so a series seen
// before costs one hash lookup and a label compare instead of validation, a Labels build and the
// store's label hash. Only valid series get in (their labels are sorted by name, so the cached
// Labels are the sent pairs minus empty values, in order); a hash collision is a miss. A stale ref (series dropped from the head, another store) is harmless:
// the appender checks the ref's labels and falls back to a lookup by labels.
// A series seen before by this thread: its head ref, keyed by a 64-bit hash of the label bytes
// and checked with a second, independent 64-bit hash (no label copies: at 1M series a copy per
// worker thread cost about 1 KB per series).
struct WriteCacheEntry {
  storage::SeriesRef ref = 0;
  uint64_t check = 0;
};

struct WriteCache {
  static constexpr size_t kMaxEntries = 1 << 20;

  const void* owner = nullptr;  // the Appendable the refs belong to
  std::unordered_map<uint64_t, WriteCacheEntry> map;
  std::string key;                         // reused
  uint64_t check = 0;                      // second hash of `key`, set by Hash()
  std::vector<WriteCacheEntry*> entries;   // per series of the current request; null = new
  common::proto::RwRequestView request;    // reused decode output

  void Reset(const void* o) {
    if (owner != o || map.size() >= kMaxEntries) {
      map = {};
      owner = o;
    }
  }
  uint64_t Hash(const common::proto::RwSeriesView& s) {
    key.clear();
    for (const auto& [n, v] : s.labels) {
      key += n;
      key += '\xff';
      key += v;
      key += '\xff';
    }
    // FNV-1a with a splitmix64 finish: independent of std::hash (MurmurHash2 in libstdc++).
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : key) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    check = h ^ (h >> 31);
    return std::hash<std::string_view>{}(key);
  }
};

}  // namespace

Params Params::Parse(std::string_view enc) {
  Params p;
  while (!enc.empty()) {
    size_t amp = enc.find('&');
    std::string_view kv = enc.substr(0, amp);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k = Unescape(kv.substr(0, eq));
      std::string v = eq == std::string_view::npos ? "" : Unescape(kv.substr(eq + 1));
      p.kv_.emplace(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    enc.remove_prefix(amp + 1);
  }
  return p;
}

// Form semantics (Go's r.Form): the merged-in (body) values come first, so Get() prefers them
// and GetAll() lists them before the URL's.
void Params::Merge(const Params& o) {
  auto old = std::move(kv_);
  kv_ = o.kv_;
  kv_.insert(old.begin(), old.end());
}

std::string Params::Get(std::string_view name) const {
  auto it = kv_.find(name);
  return it == kv_.end() ? "" : it->second;
}

bool Params::Has(std::string_view name) const { return kv_.find(name) != kv_.end(); }

std::vector<std::string> Params::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = kv_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<int64_t> ParseTimeMs(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("empty timestamp");
  char* end = nullptr;
  std::string str(s);
  double secs = std::strtod(str.c_str(), &end);
  if (end == str.c_str() + str.size() && std::isfinite(secs)) {
    return static_cast<int64_t>(std::llround(secs * 1000));
  }
  // RFC 3339: 2006-01-02T15:04:05(.999)?(Z|+07:00)
  struct tm tm = {};
  const char* rest = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  }
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0, scale = 100;
    while (std::isdigit(static_cast<unsigned char>(*rest))) {
      frac += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
    ms += frac;
  }
  if (*rest == 'Z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) {
      return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
    }
    ms -= sign * (hh * 3600 + mm * 60) * 1000ll;
    rest += 6;
  } else {
    return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  }
  if (*rest != '\0') return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid timestamp");
  return ms;
}

Result<int64_t> ParseDurationParamMs(std::string_view s) {
  std::string str(s);
  char* end = nullptr;
  double secs = std::strtod(str.c_str(), &end);
  if (!str.empty() && end == str.c_str() + str.size() && !std::isnan(secs)) {
    double ns = secs * 1e9;  // as Go: time.Duration(d * float64(time.Second))
    if (ns > 9.2e18 || ns < -9.2e18) {
      return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid duration. It overflows int64");
    }
    return static_cast<int64_t>(ns) / 1'000'000;
  }
  auto d = common::ParseDurationMs(s);
  if (!d.ok()) return Status::InvalidArgument("cannot parse \"" + str + "\" to a valid duration");
  return d;
}

void AppendSampleValue(std::string& out, double v) {
  char b[32];
  if (char* e = PutCommonSampleValue(b, v)) {
    out.append(b, e);
    return;
  }
  double a = std::fabs(v);
  AppendGoFloat(out, v, a < 1e-6 || a >= 1e21 ? 'e' : 'f');
}

std::string FormatSampleValue(double v) {
  std::string out;
  AppendSampleValue(out, v);
  return out;
}

void AppendTimestamp(std::string& out, int64_t ms) {
  char b[24];
  out.append(b, PutTimestamp(b, ms));
}

std::string FormatTimestamp(int64_t ms) {
  std::string out;
  AppendTimestamp(out, ms);
  return out;
}

std::string RenderQueryData(const promql::Value& v, size_t limit, bool* truncated) {
  std::string out;
  if (truncated != nullptr) *truncated = false;
  if (const auto* sc = std::get_if<promql::Scalar>(&v)) {
    out += R"({"resultType":"scalar","result":)";
    AppendPoint(out, sc->t, sc->v);
  } else if (const auto* st = std::get_if<promql::String>(&v)) {
    out += R"({"resultType":"string","result":[)";
    out += FormatTimestamp(st->t);
    out += ',';
    AppendJsonString(out, st->v);
    out += ']';
  } else if (const auto* vec = std::get_if<promql::Vector>(&v)) {
    out += R"({"resultType":"vector","result":[)";
    size_t n = vec->size();
    if (limit > 0 && n > limit) {
      n = limit;
      if (truncated != nullptr) *truncated = true;
    }
    for (size_t i = 0; i < n; ++i) {
      const auto& s = (*vec)[i];
      if (i > 0) out += ',';
      out += R"({"metric":)";
      AppendLabelsJson(out, s.metric);
      out += R"(,"value":)";
      AppendPoint(out, s.t, s.v);
      out += '}';
    }
    out += ']';
  } else {
    const auto& m = std::get<promql::Matrix>(v);
    out += R"({"resultType":"matrix","result":[)";
    size_t n = m.size();
    if (limit > 0 && n > limit) {
      n = limit;
      if (truncated != nullptr) *truncated = true;
    }
    size_t points = 0;
    for (size_t i = 0; i < n; ++i) points += m[i].points.size();
    auto render = [&m](size_t lo, size_t hi, std::string& dst) {
      for (size_t i = lo; i < hi; ++i) {
        const auto& s = m[i];
        if (i > 0) dst += ',';
        dst += R"({"metric":)";
        AppendLabelsJson(dst, s.metric);
        dst += R"(,"values":[)";
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0) dst += ',';
          AppendPoint(dst, s.points[k].t, s.points[k].v);
        }
        dst += "]}";
      }
    };
    if (points >= kParallelRenderPoints && n >= 2 && std::thread::hardware_concurrency() >= 2) {
      // Large matrices: the second half of the points is encoded on another thread.
      size_t mid = 0, seen = 0;
      while (mid < n - 1 && seen < points / 2) seen += m[mid++].points.size();
      size_t second_bytes = (points - seen) * 28 + (n - mid) * 128;
      out.reserve(out.size() + seen * 28 + mid * 128 + second_bytes);
      std::string second;
      second.reserve(second_bytes);
      std::thread t([&] { render(mid, n, second); });
      render(0, mid, out);
      t.join();
      out += second;
    } else {
      out.reserve(out.size() + points * 28 + n * 128);  // a typical point and label set
      render(0, n, out);
    }
    out += ']';
  }
  out += '}';
  return out;
}

Api::Api(common::event::Loop& loop, storage::Appendable* app, storage::Queryable* q, Options opts,
         common::log::Logger log)
    : loop_(loop), app_(app), q_(q), opts_(std::move(opts)), log_(std::move(log)) {}

void Api::Register(common::http::Server& server) {
  server.Handle("/api/v1/write", {"POST"}, [this](Request& r, Respond d) { HandleWrite(r, std::move(d)); });
  server.Handle("/federate", {"GET"}, [this](Request& r, Respond d) { HandleFederate(r, std::move(d)); });
  server.Handle("/api/v1/series", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleSeries(r, std::move(d)); });
  server.Handle("/api/v1/labels", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleLabels(r, std::move(d), ""); });
  server.Handle("/api/v1/query", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleQuery(r, std::move(d), false); });
  server.Handle("/api/v1/query_range", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleQuery(r, std::move(d), true); });
  server.Handle("/api/v1/format_query", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleFormatOrParse(r, std::move(d), false); });
  server.Handle("/api/v1/parse_query", {"GET", "POST"},
                [this](Request& r, Respond d) { HandleFormatOrParse(r, std::move(d), true); });
  server.Handle("/api/v1/query_exemplars", {"GET", "POST"},
                [](Request&, Respond d) { d(Success(json::array())); });
  // No metadata is kept by the scrape side yet: an empty object, as Prometheus with no targets.
  server.Handle("/api/v1/metadata", {"GET"}, [](Request&, Respond d) { d(Success(json::object())); });
  server.Handle("/api/v1/status/buildinfo", {"GET"}, [this](Request&, Respond d) {
    // `features` stays empty: a non-empty one makes Grafana take us for Mimir.
    d(Success(json{{"version", opts_.prometheus_version},
                   {"revision", opts_.revision},
                   {"branch", ""},
                   {"buildUser", ""},
                   {"buildDate", opts_.build_date},
                   {"goVersion", ""},
                   {"features", json::object()}}));
  });
  server.Handle("/api/v1/status/flags", {"GET"}, [this](Request&, Respond d) {
    json o = json::object();
    for (const auto& [k, v] : opts_.flags) o[k] = v;
    d(Success(std::move(o)));
  });
  server.Handle("/api/v1/targets", {"GET"}, [this](Request& r, Respond d) {
    Params p = RequestParams(r);
    std::string state = p.Has("state") ? p.Get("state") : "any";
    if (state != "any" && state != "active" && state != "dropped") {
      d(Error(400, "bad_data", "invalid parameter \"state\": " + state));
      return;
    }
    json active = json::array(), dropped = json::array();
    if (scrape_ != nullptr && state != "dropped") {
      for (const auto& t : scrape_->ActiveTargets()) {
        char ts[64] = "0001-01-01T00:00:00Z";
        if (t.last_scrape_ms > 0) {
          time_t secs = static_cast<time_t>(t.last_scrape_ms / 1000);
          struct tm tm;
          gmtime_r(&secs, &tm);
          std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(t.last_scrape_ms % 1000));
        }
        active.push_back(json{{"discoveredLabels", LabelsJson(t.discovered)},
                              {"labels", LabelsJson(t.labels)},
                              {"scrapePool", t.scrape_pool},
                              {"scrapeUrl", t.scrape_url},
                              {"globalUrl", t.scrape_url},
                              {"lastError", t.last_error},
                              {"lastScrape", ts},
                              {"lastScrapeDuration", t.last_duration_s},
                              {"health", t.health},
                              {"scrapeInterval", scrape::FormatDuration(t.interval_ms)},
                              {"scrapeTimeout", scrape::FormatDuration(t.timeout_ms)}});
      }
    }
    if (scrape_ != nullptr && state != "active") {
      for (const auto& t : scrape_->DroppedTargets()) {
        dropped.push_back(json{{"discoveredLabels", LabelsJson(t.discovered)}});
      }
    }
    d(Success(json{{"activeTargets", active}, {"droppedTargets", dropped}}));
  });
  server.HandlePrefix("/api/v1/label/", {"GET"}, [this](Request& r, Respond d) {
    std::string rest = r.path.substr(std::string("/api/v1/label/").size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos || rest.substr(slash) != "/values" || slash == 0) {
      d(Error(404, "not_found", "unknown path " + r.path));
      return;
    }
    HandleLabels(r, std::move(d), rest.substr(0, slash));
  });
}

void Api::HandleWrite(Request& req, Respond respond) {
  std::string_view ce = req.Header("content-encoding");
  if (!ce.empty() && ce != "snappy") {
    write_bad_++;
    respond(Response::Text(415, "unsupported Content-Encoding \"" + std::string(ce) +
                                    "\": remote_write bodies are snappy block-compressed"));
    return;
  }
  auto body = std::make_shared<std::string>(std::move(req.body));
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, body, result] {
        thread_local WriteCache cache;
        cache.Reset(app_);
        common::proto::RwRequestView& rw = cache.request;
        Status s = common::proto::DecodeWriteRequestViews(*body, opts_.max_decoded_write_bytes, rw);
        if (!s.ok()) {
          (s.IsResourceExhausted() ? write_too_large_ : write_bad_)++;
          *result = Response::Text(s.IsResourceExhausted() ? 413 : 400, std::string(s.message()));
          return;
        }
        // Validate everything before appending anything: a rejected request leaves no trace.
        // Cached series were valid when they got in.
        cache.entries.assign(rw.size, nullptr);
        for (size_t i = 0; i < rw.size; ++i) {
          const auto& series = rw.series[i];
          if (auto it = cache.map.find(cache.Hash(series));
              it != cache.map.end() && it->second.check == cache.check) {
            cache.entries[i] = &it->second;
            continue;
          }
          Status v = ValidateSeries(series);
          if (!v.ok()) {
            write_bad_++;
            *result = Response::Text(400, std::string(v.message()) + ": " + SeriesString(series));
            return;
          }
        }
        auto app = app_->NewAppender();
        uint64_t n = 0;
        for (size_t i = 0; i < rw.size; ++i) {
          const auto& series = rw.series[i];
          WriteCacheEntry* e = cache.entries[i];
          WriteCacheEntry uncached;  // for a series whose hash collides with a cached one
          Labels labels;             // built only for series the cache does not know
          auto build_labels = [&] {
            std::vector<model::Label> ls;
            ls.reserve(series.labels.size());
            for (const auto& [k, v] : series.labels) {
              if (!v.empty()) ls.push_back(model::Label{std::string(k), std::string(v)});
            }
            labels = Labels(std::move(ls));
          };
          if (e == nullptr) {
            auto [it, inserted] = cache.map.try_emplace(cache.Hash(series));
            e = &it->second;
            if (!inserted) e = &uncached;  // a hash collision: this request goes uncached
            e->check = cache.check;
            build_labels();
          }
          for (const auto& smp : series.samples) {
            auto r = app->Append(e->ref, labels, smp.timestamp_ms, smp.value);
            if (!r.ok() && r.status().code() == common::Code::kNotFound && labels.empty()) {
              // The head no longer has the cached ref: look the series up by its labels.
              build_labels();
              e->ref = 0;
              r = app->Append(0, labels, smp.timestamp_ms, smp.value);
            }
            if (!r.ok()) {
              app->Rollback();
              write_bad_++;
              *result = Response::Text(400, std::string(r.status().message()) + " for series " +
                                                SeriesString(series) + " at timestamp " +
                                                std::to_string(smp.timestamp_ms));
              return;
            }
            e->ref = *r;
            ++n;
          }
        }
        Status c = app->Commit();
        if (!c.ok()) {
          write_failed_++;
          log_.Error("remote write commit failed", {{"err", c.ToString()}});
          // 5xx: the sender keeps the batch and retries.
          *result = Response::Text(503, "cannot store samples: " + std::string(c.message()));
          return;
        }
        write_ok_++;
        samples_in_ += n;
        result->status = 204;
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleFederate(Request& req, Respond respond) {
  federate_requests_++;
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (!s.ok()) {
    respond(Response::Text(400, std::string(s.message())));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), result] {
        int64_t now = NowMs();
        int64_t mint = now - opts_.lookback_ms;
        auto q = q_->NewQuerier(mint, now);
        if (!q.ok()) {
          *result = Response::Text(500, std::string(q.status().message()));
          return;
        }
        // Latest sample per series, series deduplicated over the match[] sets.
        std::map<Labels, std::pair<int64_t, double>> latest;
        for (const auto& ms : sets) {
          auto set = (*q)->Select(true, mint, now, ms);
          while (set->Next()) {
            auto it = set->At().Iterator();
            bool have = false;
            int64_t t = 0;
            double v = 0;
            while (it->Next()) {
              t = it->t();
              v = it->v();
              have = true;
            }
            if (!have || storage::IsStaleNaN(v)) continue;
            model::LabelsBuilder b(set->At().labels());
            for (const auto& el : opts_.external_labels) {
              if (!set->At().labels().Has(el.name)) b.Set(el.name, el.value);
            }
            latest[b.Build()] = {t, v};
          }
          if (!set->status().ok()) {
            *result = Response::Text(500, std::string(set->status().message()));
            return;
          }
        }
        std::string out;
        std::string_view family;
        for (const auto& [l, tv] : latest) {
          std::string_view name = l.Get("__name__");
          if (name != family) {
            common::expfmt::AppendType(out, name, common::expfmt::MetricType::kUntyped);
            family = name;
          }
          out += name;
          bool first = true;
          for (const auto& x : l) {
            if (x.name == "__name__") continue;
            out += first ? '{' : ',';
            first = false;
            out += x.name;
            out += "=\"";
            common::expfmt::AppendLabelValue(out, x.value);
            out += '"';
          }
          if (!first) out += '}';
          out += ' ';
          common::expfmt::AppendFloat(out, tv.second);
          out += ' ';
          common::expfmt::AppendInt(out, tv.first);
          out += '\n';
        }
        result->content_type = std::string(common::expfmt::kTextContentType);
        result->body = std::move(out);
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleSeries(Request& req, Respond respond) {
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (s.ok() && sets.empty()) s = Status::InvalidArgument("no match[] parameter provided");
  if (!s.ok()) {
    respond(Error(400, "bad_data", s.message()));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), start, end, result] {
        auto q = q_->NewQuerier(start, end);
        if (!q.ok()) {
          *result = Error(500, "internal", q.status().message());
          return;
        }
        std::map<Labels, bool> seen;
        for (const auto& ms : sets) {
          auto set = (*q)->Select(true, start, end, ms);
          while (set->Next()) {
            // Only series with a sample in [start, end].
            auto it = set->At().Iterator();
            if (it->Next()) seen.emplace(set->At().labels(), true);
          }
          if (!set->status().ok()) {
            *result = Error(500, "internal", set->status().message());
            return;
          }
        }
        json data = json::array();
        for (const auto& [l, _] : seen) data.push_back(LabelsJson(l));
        *result = Success(std::move(data));
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleLabels(Request& req, Respond respond, std::string label_name) {
  Params p = RequestParams(req);
  std::vector<std::vector<storage::Matcher>> sets;
  int64_t start, end;
  Status s = ParseRange(p, start, end, sets);
  if (!s.ok()) {
    respond(Error(400, "bad_data", s.message()));
    return;
  }
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, sets = std::move(sets), start, end, result, label_name] {
        auto q = q_->NewQuerier(start, end);
        if (!q.ok()) {
          *result = Error(500, "internal", q.status().message());
          return;
        }
        std::vector<std::string> all;
        auto run = [&](std::span<const storage::Matcher> ms) -> Status {
          auto r = label_name.empty() ? (*q)->LabelNames(ms) : (*q)->LabelValues(label_name, ms);
          if (!r.ok()) return r.status();
          all.insert(all.end(), r->begin(), r->end());
          return Status::Ok();
        };
        Status st;
        if (sets.empty()) {
          st = run({});
        } else {
          for (const auto& ms : sets) {
            if (st.ok()) st = run(ms);
          }
        }
        if (!st.ok()) {
          *result = Error(500, "internal", st.message());
          return;
        }
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        *result = Success(json(all));
      },
      [respond, result] { respond(std::move(*result)); });
}

void Api::HandleQuery(Request& req, Respond respond, bool range) {
  Params p = RequestParams(req);
  std::string query = p.Get("query");
  int64_t start = 0, end = 0, step = 0;
  if (range) {
    for (const char* name : {"start", "end"}) {
      auto t = ParseTimeMs(p.Get(name));
      if (!t.ok()) {
        respond(Error(400, "bad_data", "invalid parameter \"" + std::string(name) + "\": cannot parse \"" +
                                           p.Get(name) + "\" to a valid timestamp"));
        return;
      }
      (std::string_view(name) == "start" ? start : end) = *t;
    }
    if (end < start) {
      respond(Error(400, "bad_data", "invalid parameter \"end\": end timestamp must not be before start time"));
      return;
    }
    auto st = ParseDurationParamMs(p.Get("step"));
    if (!st.ok()) {
      respond(Error(400, "bad_data", "invalid parameter \"step\": " + std::string(st.status().message())));
      return;
    }
    step = *st;
    if (step <= 0) {
      respond(Error(400, "bad_data",
                    "invalid parameter \"step\": zero or negative query resolution step widths are not "
                    "accepted. Try a positive integer"));
      return;
    }
    // As Prometheus: (end - start) / step as whole steps, at most 11,000.
    if ((end - start) / step > 11000) {
      respond(Error(400, "bad_data",
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                    "query resolution (?step=XX)"));
      return;
    }
  } else {
    start = NowMs();
    if (p.Has("time")) {
      auto t = ParseTimeMs(p.Get("time"));
      if (!t.ok()) {
        respond(Error(400, "bad_data", "invalid parameter \"time\": cannot parse \"" + p.Get("time") +
                                           "\" to a valid timestamp"));
        return;
      }
      start = *t;
    }
    end = start;
  }
  int64_t timeout_ms = 0, lookback_ms = 0;
  if (p.Has("timeout")) {
    auto t = ParseDurationParamMs(p.Get("timeout"));
    if (!t.ok()) {
      respond(Error(400, "bad_data", "invalid parameter \"timeout\": " + std::string(t.status().message())));
      return;
    }
    timeout_ms = *t;
  }
  if (p.Has("lookback_delta")) {
    auto t = ParseDurationParamMs(p.Get("lookback_delta"));
    if (!t.ok()) {
      respond(Error(400, "bad_data", "invalid parameter \"lookback_delta\": " + std::string(t.status().message())));
      return;
    }
    lookback_ms = *t;
  }
  size_t limit = 0;
  if (p.Has("limit")) {
    std::string l = p.Get("limit");
    int64_t n = -1;
    auto [ptr, ec] = std::from_chars(l.data(), l.data() + l.size(), n);
    if (ec != std::errc() || ptr != l.data() + l.size() || n < 0) {
      respond(Error(400, "bad_data", "invalid parameter \"limit\": cannot parse \"" + l + "\" to a valid limit"));
      return;
    }
    limit = static_cast<size_t>(n);
  }
  if (engine_ == nullptr) {
    respond(Error(503, "unavailable", "this lookout-collector has no PromQL engine"));
    return;
  }
#ifdef LOOKOUT_HAVE_PROMQL
  promql::EngineOptions eopts = engine_->options();
  if (timeout_ms > 0) eopts.timeout_ms = std::min(eopts.timeout_ms, timeout_ms);
  if (lookback_ms > 0) eopts.lookback_delta_ms = lookback_ms;
  auto result = std::make_shared<Response>();
  loop_.QueueWork(
      [this, query = std::move(query), eopts, range, start, end, step, limit, result] {
        auto expr = promql::parser::ParseExpr(query);
        if (!expr.ok()) {
          queries_failed_++;
          *result = QueryError(expr.status(), "invalid parameter \"query\": ");
          return;
        }
        promql::Engine engine(eopts);
        auto r = range ? engine.Range(*q_, **expr, start, end, step) : engine.Instant(*q_, **expr, start);
        if (!r.ok()) {
          queries_failed_++;
          *result = QueryError(r.status(), "");
          return;
        }
        queries_ok_++;
        bool truncated = false;
        std::string body = R"({"status":"success","data":)";
        body += RenderQueryData(r->value, limit, &truncated);
        std::vector<std::string> warnings = r->annotations.warnings;
        if (truncated) warnings.push_back("results truncated due to limit");
        for (const auto* list : {&warnings, &r->annotations.infos}) {
          if (list->empty()) continue;
          body += list == &warnings ? R"(,"warnings":[)" : R"(,"infos":[)";
          for (size_t i = 0; i < list->size(); ++i) {
            if (i > 0) body += ',';
            AppendJsonString(body, (*list)[i]);
          }
          body += ']';
        }
        body += '}';
        result->status = 200;
        result->content_type = "application/json";
        result->body = std::move(body);
      },
      [respond, result] { respond(std::move(*result)); });
#else
  (void)start, (void)end, (void)step, (void)limit, (void)range, (void)timeout_ms, (void)lookback_ms;
  respond(Error(503, "unavailable", "this lookout-collector was built without the PromQL engine"));
#endif
}

void Api::HandleFormatOrParse(Request& req, Respond respond, bool parse) {
  Params p = RequestParams(req);
#ifdef LOOKOUT_HAVE_PROMQL
  auto expr = promql::parser::ParseExpr(p.Get("query"));
  if (!expr.ok()) {
    respond(QueryError(expr.status(), "invalid parameter \"query\": "));
    return;
  }
  if (parse) {
    respond(Success(json::parse(TranslateAst(expr->get()).dump())));
  } else {
    respond(Success(json(promql::parser::Format(**expr))));
  }
#else
  (void)p, (void)parse;
  respond(Error(503, "unavailable", "this lookout-collector was built without the PromQL parser"));
#endif
}

void Api::AddMetrics(common::metrics::MetricSet& out) const {
  const char* h = "Remote-write requests handled, by outcome.";
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_ok_.load()),
              {{"code", "204"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_bad_.load()),
              {{"code", "400"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_too_large_.load()),
              {{"code", "413"}});
  out.Counter("lookout_remote_write_requests_total", h, static_cast<double>(write_failed_.load()),
              {{"code", "503"}});
  out.Counter("lookout_remote_write_samples_received_total",
              "Samples stored from remote-write requests.", static_cast<double>(samples_in_.load()));
  out.Counter("lookout_federate_requests_total", "Requests to /federate.",
              static_cast<double>(federate_requests_.load()));
  const char* q = "PromQL queries (/api/v1/query, query_range) answered, by outcome.";
  out.Counter("lookout_api_queries_total", q, static_cast<double>(queries_ok_.load()), {{"outcome", "success"}});
  out.Counter("lookout_api_queries_total", q, static_cast<double>(queries_failed_.load()), {{"outcome", "error"}});
}

}  // namespace collector::api
