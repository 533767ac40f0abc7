#include "common/expfmt/encoder.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace common::expfmt {

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kUntyped: return "untyped";
    case MetricType::kSummary: return "summary";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void AppendFloat(std::string& out, double v) {
  if (v == 1) { out += '1'; return; }
  if (v == 0) { out += '0'; return; }
  if (v == -1) { out += "-1"; return; }
  if (std::isnan(v)) { out += "NaN"; return; }
  if (std::isinf(v)) { out += v > 0 ? "+Inf" : "-Inf"; return; }
  // Shortest round-trip digits in scientific form give the digit string and the exponent;
  // then lay them out as Go's %g does.
  char sci[64];
  auto res = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  std::string_view s(sci, res.ptr - sci);
  bool neg = false;
  if (!s.empty() && s[0] == '-') { neg = true; s.remove_prefix(1); }
  size_t epos = s.find('e');
  std::string_view mant = s.substr(0, epos);
  int exp = 0;
  std::from_chars(s.data() + epos + 1 + (s[epos + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
  char digits[32];
  int nd = 0;
  for (char c : mant) if (c != '.') digits[nd++] = c;
  if (neg) out += '-';
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (nd > 1) {
      out += '.';
      out.append(digits + 1, nd - 1);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    int ae = exp < 0 ? -exp : exp;
    if (ae < 10) out += '0';
    AppendInt(out, ae);
    return;
  }
  int dp = exp + 1;  // digits before the decimal point
  if (dp <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-dp), '0');
    out.append(digits, nd);
  } else if (dp >= nd) {
    out.append(digits, nd);
    out.append(static_cast<size_t>(dp - nd), '0');
  } else {
    out.append(digits, dp);
    out += '.';
    out.append(digits + dp, nd - dp);
  }
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

void AppendLabelValue(std::string& out, std::string_view v) {
  size_t start = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(v.data() + start, i - start);
    out += c == '\\' ? "\\\\" : c == '"' ? "\\\"" : "\\n";
    start = i + 1;
  }
  out.append(v.data() + start, v.size() - start);
}

void AppendHelp(std::string& out, std::string_view name, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  size_t start = 0;
  for (size_t i = 0; i < help.size(); ++i) {
    char c = help[i];
    if (c != '\\' && c != '\n') continue;
    out.append(help.data() + start, i - start);
    out += c == '\\' ? "\\\\" : "\\n";
    start = i + 1;
  }
  out.append(help.data() + start, help.size() - start);
  out += '\n';
}

void AppendType(std::string& out, std::string_view name, MetricType type) {
  out += "# TYPE ";
  out += name;
  out += ' ';
  out += TypeName(type);
  out += '\n';
}

}  // namespace common::expfmt
