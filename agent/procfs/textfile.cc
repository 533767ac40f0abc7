#include "agent/procfs/textfile.h"

#include "common/base/utf8.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "agent/procfs/fs.h"

namespace agent::procfs {

using common::Status;

namespace {

// The metric types a TYPE line may name. kGaugeHistogram is accepted there (it is in the
// protobuf enum) but no sample may follow it, as in Go's parser.
enum class ParsedType { kUnset, kCounter, kGauge, kUntyped, kSummary, kHistogram, kGaugeHistogram };

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsMetricNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsMetricNameChar(char c) { return IsMetricNameStart(c) || (c >= '0' && c <= '9'); }
bool IsLabelNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsLabelNameChar(char c) { return IsLabelNameStart(c) || (c >= '0' && c <= '9'); }

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}


// expfmt's parseFloat: Go's strconv.ParseFloat without 'p', 'P' or '_'.
bool ParseSampleFloat(std::string_view s, double& out) {
  if (s.find_first_of("pP_") != std::string_view::npos) return false;
  if (s.empty()) return false;
  std::string_view t = s;
  bool neg = false;
  if (t.front() == '+' || t.front() == '-') {
    neg = t.front() == '-';
    t.remove_prefix(1);
  }
  std::string lower(t);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "inf" || lower == "infinity") {
    out = neg ? -INFINITY : INFINITY;
    return true;
  }
  if (lower == "nan") {
    out = NAN;
    return true;
  }
  if (t.size() > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) return false;  // needs 'p'
  return ParseDouble(s, out);
}

struct ParseFamily {
  TextFamily fam;
  ParsedType type = ParsedType::kUnset;
  bool help_set = false;
  std::unordered_map<std::string, size_t> by_signature;  // summary/histogram metrics
  // Per-metric scratch for summaries/histograms: quantiles and buckets in arrival order (the
  // last value of a repeated quantile or bound wins, as in Go's map).
};

class Parser {
 public:
  Status Parse(std::string_view text, std::vector<TextFamily>& out) {
    size_t line_no = 0;
    while (!text.empty()) {
      ++line_no;
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      if (nl == std::string_view::npos) {
        // Go's parser needs the newline: content without one is a premature end of input.
        for (char c : line) {
          if (!IsBlank(c)) return Error(line_no, "unexpected end of input stream");
        }
        break;
      }
      text.remove_prefix(nl + 1);
      Status st = Line(line);
      if (!st.ok()) return Error(line_no, st.message());
    }
    out.clear();
    for (ParseFamily& pf : fams_) {
      if (pf.fam.metrics.empty()) continue;  // HELP/TYPE without samples
      pf.fam.type = pf.type == ParsedType::kCounter     ? MetricType::kCounter
                    : pf.type == ParsedType::kGauge     ? MetricType::kGauge
                    : pf.type == ParsedType::kSummary   ? MetricType::kSummary
                    : pf.type == ParsedType::kHistogram ? MetricType::kHistogram
                                                        : MetricType::kUntyped;
      out.push_back(std::move(pf.fam));
    }
    return Status::Ok();
  }

 private:
  static Status Error(size_t line_no, std::string_view msg) {
    return Status::InvalidArgument("text format parsing error in line " + std::to_string(line_no) +
                                   ": " + std::string(msg));
  }
  static Status Fail(std::string msg) { return Status::InvalidArgument(msg); }

  static void SkipBlanks(std::string_view& s) {
    while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  }
  static std::string_view TokenUntilBlank(std::string_view& s) {
    size_t i = 0;
    while (i < s.size() && !IsBlank(s[i])) ++i;
    std::string_view t = s.substr(0, i);
    s.remove_prefix(i);
    return t;
  }
  static std::string_view MetricName(std::string_view& s) {
    size_t i = 0;
    if (!s.empty() && IsMetricNameStart(s[0])) {
      i = 1;
      while (i < s.size() && IsMetricNameChar(s[i])) ++i;
    }
    std::string_view t = s.substr(0, i);
    s.remove_prefix(i);
    return t;
  }

  Status Line(std::string_view s) {
    SkipBlanks(s);
    if (s.empty()) return Status::Ok();
    if (s.front() == '#') {
      s.remove_prefix(1);
      return Comment(s);
    }
    return Sample(s);
  }

  ParseFamily& Family(std::string_view name, bool& is_sum, bool& is_count) {
    is_sum = is_count = false;
    auto it = index_.find(std::string(name));
    if (it != index_.end()) return fams_[it->second];
    auto base = [&](std::initializer_list<std::string_view> suffixes) -> std::string_view {
      for (std::string_view suf : suffixes) {
        if (HasSuffix(name, suf)) return name.substr(0, name.size() - suf.size());
      }
      return name;
    };
    std::string_view summary = base({"_count", "_sum"});
    if (auto s = index_.find(std::string(summary)); s != index_.end()) {
      if (fams_[s->second].type == ParsedType::kSummary) {
        is_count = HasSuffix(name, "_count");
        is_sum = HasSuffix(name, "_sum");
        return fams_[s->second];
      }
    }
    std::string_view histogram = base({"_count", "_sum", "_bucket"});
    if (auto h = index_.find(std::string(histogram)); h != index_.end()) {
      if (fams_[h->second].type == ParsedType::kHistogram) {
        is_count = HasSuffix(name, "_count");
        is_sum = HasSuffix(name, "_sum");
        return fams_[h->second];
      }
    }
    index_.emplace(std::string(name), fams_.size());
    ParseFamily& f = fams_.emplace_back();
    f.fam.name.assign(name);
    return f;
  }

  Status Comment(std::string_view s) {
    SkipBlanks(s);
    if (s.empty()) return Status::Ok();
    std::string_view keyword = TokenUntilBlank(s);
    if (s.empty()) return Status::Ok();
    if (keyword != "HELP" && keyword != "TYPE") return Status::Ok();  // a plain comment
    SkipBlanks(s);
    std::string_view name = MetricName(s);
    if (s.empty()) return Status::Ok();
    if (!IsBlank(s.front())) return Fail("invalid metric name in comment");
    bool is_sum, is_count;
    ParseFamily& f = Family(name, is_sum, is_count);
    SkipBlanks(s);
    if (s.empty()) return Status::Ok();
    if (keyword == "HELP") {
      if (f.help_set) return Fail("second HELP line for metric name \"" + f.fam.name + "\"");
      std::string help;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
          help += s[i];
          continue;
        }
        if (++i >= s.size()) return Fail("invalid escape sequence at end of HELP");
        if (s[i] == '\\')
          help += '\\';
        else if (s[i] == 'n')
          help += '\n';
        else
          return Fail(std::string("invalid escape sequence '\\") + s[i] + "'");
      }
      f.fam.help = std::move(help);
      f.fam.has_help = true;
      f.help_set = true;
      return Status::Ok();
    }
    if (f.type != ParsedType::kUnset) {
      return Fail("second TYPE line for metric name \"" + f.fam.name +
                  "\", or TYPE reported after samples");
    }
    std::string_view type = TokenUntilBlank(s);
    std::string upper(type);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "COUNTER")
      f.type = ParsedType::kCounter;
    else if (upper == "GAUGE")
      f.type = ParsedType::kGauge;
    else if (upper == "UNTYPED")
      f.type = ParsedType::kUntyped;
    else if (upper == "SUMMARY")
      f.type = ParsedType::kSummary;
    else if (upper == "HISTOGRAM")
      f.type = ParsedType::kHistogram;
    else if (upper == "GAUGE_HISTOGRAM")
      f.type = ParsedType::kGaugeHistogram;
    else
      return Fail("unknown metric type \"" + std::string(type) + "\"");
    // Go's parser starts a new "line" right after the type word.
    return s.empty() ? Status::Ok() : Line(s);
  }

  Status Sample(std::string_view s) {
    std::string_view name = MetricName(s);
    if (name.empty()) return Fail("invalid metric name");
    bool is_sum, is_count;
    ParseFamily& f = Family(name, is_sum, is_count);
    if (f.type == ParsedType::kUnset) f.type = ParsedType::kUntyped;
    bool special = f.type == ParsedType::kSummary || f.type == ParsedType::kHistogram;
    SkipBlanks(s);

    TextMetric m;
    double quantile = NAN, bucket = NAN;
    if (!s.empty() && s.front() == '{') {
      s.remove_prefix(1);
      for (;;) {
        SkipBlanks(s);
        if (s.empty()) return Fail("unexpected end of input stream");
        if (s.front() == '}') break;
        size_t i = 0;
        if (IsLabelNameStart(s[0])) {
          i = 1;
          while (i < s.size() && IsLabelNameChar(s[i])) ++i;
        }
        if (i == 0) return Fail("invalid label name for metric \"" + f.fam.name + "\"");
        std::string_view label = s.substr(0, i);
        s.remove_prefix(i);
        if (label == "__name__") return Fail("label name \"__name__\" is reserved");
        bool is_quantile = f.type == ParsedType::kSummary && label == "quantile";
        bool is_le = f.type == ParsedType::kHistogram && label == "le";
        if (!is_quantile && !is_le) {
          for (const auto& l : m.labels) {
            if (l.first == label) {
              return Fail("duplicate label names for metric \"" + f.fam.name + "\"");
            }
          }
        }
        SkipBlanks(s);
        if (s.empty() || s.front() != '=') return Fail("expected '=' after label name");
        s.remove_prefix(1);
        SkipBlanks(s);
        if (s.empty() || s.front() != '"') return Fail("expected '\"' at start of label value");
        s.remove_prefix(1);
        std::string value;
        bool closed = false;
        while (!s.empty()) {
          char c = s.front();
          s.remove_prefix(1);
          if (c == '"') {
            closed = true;
            break;
          }
          if (c != '\\') {
            value += c;
            continue;
          }
          if (s.empty()) break;
          char e = s.front();
          s.remove_prefix(1);
          if (e == '"' || e == '\\')
            value += e;
          else if (e == 'n')
            value += '\n';
          else
            return Fail(std::string("invalid escape sequence '\\") + e + "'");
        }
        if (!closed) return Fail("label value \"" + value + "\" contains unescaped new-line");
        if (!common::IsValidUtf8(value)) return Fail("invalid label value \"" + value + "\"");
        if (is_quantile) {
          if (!ParseSampleFloat(value, quantile)) {
            return Fail("expected float as value for 'quantile' label, got \"" + value + "\"");
          }
        } else if (is_le) {
          if (!ParseSampleFloat(value, bucket)) {
            return Fail("expected float as value for 'le' label, got \"" + value + "\"");
          }
        } else {
          m.labels.emplace_back(std::string(label), std::move(value));
        }
        SkipBlanks(s);
        if (s.empty()) return Fail("unexpected end of label value");
        if (s.front() == ',') {
          s.remove_prefix(1);
          continue;
        }
        if (s.front() != '}') return Fail("unexpected end of label value");
      }
      s.remove_prefix(1);  // '}'
      SkipBlanks(s);
    }

    // The metric this line belongs to: summaries and histograms gather their lines by labels.
    TextMetric* target;
    if (special) {
      std::vector<std::pair<std::string, std::string>> sorted = m.labels;
      std::sort(sorted.begin(), sorted.end());
      std::string sig;
      for (const auto& [k, v] : sorted) sig.append(k).append(1, '\xff').append(v).append(1, '\xff');
      auto it = f.by_signature.find(sig);
      if (it == f.by_signature.end()) {
        f.by_signature.emplace(sig, f.fam.metrics.size());
        target = &f.fam.metrics.emplace_back(std::move(m));
      } else {
        target = &f.fam.metrics[it->second];
      }
    } else {
      target = &f.fam.metrics.emplace_back(std::move(m));
    }

    std::string_view token = TokenUntilBlank(s);
    double v;
    if (!ParseSampleFloat(token, v)) {
      return Fail("expected float as value, got \"" + std::string(token) + "\"");
    }
    switch (f.type) {
      case ParsedType::kCounter:
      case ParsedType::kGauge:
      case ParsedType::kUntyped:
        target->value = v;
        break;
      case ParsedType::kSummary:
        if (is_count) {
          target->count = static_cast<uint64_t>(v);
        } else if (is_sum) {
          target->sum = v;
        } else if (!std::isnan(quantile)) {
          target->quantiles.emplace_back(quantile, v);
        }
        break;
      case ParsedType::kHistogram:
        if (is_count) {
          target->count = static_cast<uint64_t>(v);
        } else if (is_sum) {
          target->sum = v;
        } else if (!std::isnan(bucket)) {
          target->buckets.emplace_back(bucket, static_cast<uint64_t>(v));
        }
        break;
      default:
        return Fail("unexpected type for metric name \"" + f.fam.name + "\"");
    }
    if (s.empty()) return Status::Ok();
    SkipBlanks(s);
    std::string_view ts = TokenUntilBlank(s);
    int64_t t;
    if (!ParseInt(ts, t)) {
      return Fail("expected integer as timestamp, got \"" + std::string(ts) + "\"");
    }
    target->has_timestamp = true;
    if (!s.empty()) return Fail("spurious string after timestamp: \"" + std::string(s) + "\"");
    return Status::Ok();
  }

  std::vector<ParseFamily> fams_;
  std::unordered_map<std::string, size_t> index_;
};

// Go's path.Clean, for the file label (filepath.Join cleans its result).

// Within one file's family: every sample gets every label name the family uses (empty when
// missing), labels sorted by name; summaries and histograms get their quantiles and buckets
// deduplicated (the last wins) and sorted, and +Inf buckets dropped (the encoder adds one).
void Normalize(TextFamily& f) {
  std::vector<std::string> names;
  for (const TextMetric& m : f.metrics) {
    for (const auto& l : m.labels) {
      if (std::find(names.begin(), names.end(), l.first) == names.end()) names.push_back(l.first);
    }
  }
  for (TextMetric& m : f.metrics) {
    for (const std::string& n : names) {
      bool present = false;
      for (const auto& l : m.labels) present = present || l.first == n;
      if (!present) m.labels.emplace_back(n, "");
    }
    std::sort(m.labels.begin(), m.labels.end());
    auto dedupe = [](auto& v) {
      // Stable: keep the last of equal keys.
      std::vector<std::remove_reference_t<decltype(v[0])>> out;
      for (const auto& e : v) {
        auto it =
            std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.first == e.first; });
        if (it != out.end())
          *it = e;
        else
          out.push_back(e);
      }
      std::sort(out.begin(), out.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      v = std::move(out);
    };
    dedupe(m.quantiles);
    dedupe(m.buckets);
    m.buckets.erase(
        std::remove_if(m.buckets.begin(), m.buckets.end(),
                       [](const auto& b) { return std::isinf(b.first) && b.first > 0; }),
        m.buckets.end());
  }
}

// client_golang's metric order: by label count, then label values in label-name order.
bool MetricLess(const TextMetric& a, const TextMetric& b) {
  if (a.labels.size() != b.labels.size()) return a.labels.size() < b.labels.size();
  for (size_t i = 0; i < a.labels.size(); ++i) {
    if (a.labels[i].second != b.labels[i].second) return a.labels[i].second < b.labels[i].second;
  }
  return false;
}

}  // namespace

Status ParseTextFormat(std::string_view text, std::vector<TextFamily>& out) {
  Parser p;
  return p.Parse(text, out);
}

void TextfileReader::Read(const std::vector<std::string>& directories, TextfileResult& out) {
  out.families.clear();
  out.mtimes.clear();
  out.error = false;

  std::vector<std::string> paths;
  for (const std::string& pattern : directories) {
    glob_t g = {};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == 0 && g.gl_pathc > 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    } else {
      paths.push_back(pattern);
    }
    ::globfree(&g);
  }

  struct Parsed {
    TextFamily fam;
    std::string file;
  };
  std::vector<Parsed> parsed;
  std::map<std::string, std::vector<std::string>> files_by_name;
  std::map<std::string, std::pair<std::string, bool>> help_by_name;  // first help, conflicted
  std::vector<TextFamily> families;

  for (const std::string& dir : paths) {
    auto entries = ListDir(dir);
    if (!entries.ok()) {
      if (!dir.empty()) out.error = true;
      continue;
    }
    for (const std::string& name : *entries) {
      if (!HasSuffix(name, ".prom")) continue;
      std::string file = CleanPath(dir + "/" + name);
      if (!ReadFile(file, buf_).ok() || !ParseTextFormat(buf_, families).ok()) {
        out.error = true;
        continue;
      }
      bool timestamps = false;
      for (const TextFamily& f : families) {
        for (const TextMetric& m : f.metrics) timestamps = timestamps || m.has_timestamp;
      }
      if (timestamps) {
        out.error = true;  // client-side timestamps are not supported: skip the whole file
        continue;
      }
      for (TextFamily& f : families) {
        auto seen = help_by_name.find(f.name);
        if (seen != help_by_name.end() &&
            ((f.has_help && seen->second.first != f.help) || seen->second.second)) {
          seen->second.second = true;  // inconsistent HELP: keep the first, drop this one
          out.error = true;
          continue;
        }
        if (f.has_help) help_by_name[f.name] = {f.help, false};
        files_by_name[f.name].push_back(file);
        parsed.push_back({std::move(f), file});
      }
      struct stat st;
      if (::stat(file.c_str(), &st) != 0) {
        out.error = true;
        continue;
      }
      out.mtimes.emplace_back(file, static_cast<double>(st.st_mtim.tv_sec));
    }
  }

  // Families without HELP share one generated text naming every file that has them.
  std::map<std::string, std::string> generated;
  for (Parsed& p : parsed) {
    if (p.fam.has_help) continue;
    auto it = generated.find(p.fam.name);
    if (it == generated.end()) {
      std::string help = "Metric read from ";
      const auto& files = files_by_name[p.fam.name];
      for (size_t i = 0; i < files.size(); ++i) {
        if (i > 0) help += ", ";
        help += files[i];
      }
      it = generated.emplace(p.fam.name, std::move(help)).first;
    }
    p.fam.help = it->second;
  }

  // Merge by name as the registry does: the first family fixes HELP and TYPE, later metrics that
  // disagree are dropped, and so are repeated series.
  std::map<std::string, size_t> index;
  for (Parsed& p : parsed) {
    Normalize(p.fam);
    auto it = index.find(p.fam.name);
    if (it == index.end()) {
      index.emplace(p.fam.name, out.families.size());
      TextFamily& f = out.families.emplace_back();
      f.name = p.fam.name;
      f.help = p.fam.help;
      f.has_help = true;
      f.type = p.fam.type;
      it = index.find(p.fam.name);
    }
    TextFamily& f = out.families[it->second];
    if (f.help != p.fam.help || f.type != p.fam.type) continue;
    for (TextMetric& m : p.fam.metrics) {
      bool dup = false;
      for (const TextMetric& e : f.metrics) dup = dup || e.labels == m.labels;
      if (!dup) f.metrics.push_back(std::move(m));
    }
  }
  std::sort(out.families.begin(), out.families.end(),
            [](const TextFamily& a, const TextFamily& b) { return a.name < b.name; });
  for (TextFamily& f : out.families) std::sort(f.metrics.begin(), f.metrics.end(), MetricLess);
  std::sort(out.mtimes.begin(), out.mtimes.end());
}

}  // namespace agent::procfs
