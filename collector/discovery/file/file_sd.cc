#include "collector/discovery/file/file_sd.h"

#include "common/base/utf8.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/yaml/yaml.h"

namespace collector::discovery::file {

using common::Result;
using common::Status;
using model::Label;
using model::Labels;
using nlohmann::json;

namespace {

constexpr std::string_view kFilepathLabel = "__meta_filepath";
constexpr std::string_view kAddressLabel = "__address__";
// Events come in bursts (a write is several IN_MODIFY, a rename two events): one scan per burst.
constexpr uint64_t kEventDebounceMs = 10;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool EndsWithFold(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualFold(s.substr(s.size() - suffix.size()), suffix);
}


// Prometheus 3 validates label names with its default UTF-8 scheme: non-empty, valid UTF-8.
bool ValidLabelName(std::string_view name) {
  return !name.empty() && common::IsValidUtf8(name);
}

std::string Source(const std::string& path, size_t i) { return path + ":" + std::to_string(i); }

// Fills the targets and labels of one group from already-typed pieces.
TargetGroup MakeGroup(const std::string& path, size_t index,
                      const std::vector<std::string>& targets, std::vector<Label> labels) {
  TargetGroup g;
  g.source = Source(path, index);
  g.targets.reserve(targets.size());
  for (const auto& t : targets) {
    if (t.empty()) {
      g.targets.emplace_back();  // no address; the scrape side reports it
    } else {
      g.targets.push_back(Labels({{kAddressLabel, t}}));
    }
  }
  model::LabelsBuilder b;
  for (auto& l : labels) b.Set(l.name, l.value);
  b.Set(kFilepathLabel, path);
  g.labels = b.Build();
  return g;
}

// ---- JSON ----

// Records the first syntax error of a document; used only once json::parse said it is invalid.
class ErrorSax : public nlohmann::json_sax<json> {
 public:
  std::string error;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string_view what = ex.what();
    size_t p = what.find("] ");  // drop the "[json.exception.parse_error.101] " prefix
    error = std::string(p == std::string_view::npos ? what : what.substr(p + 2));
    return false;
  }
};

Status JsonError(const std::string& file, const std::string& where, std::string_view msg) {
  return Status::InvalidArgument(file + ": " + where + ": " + std::string(msg));
}

Result<std::vector<TargetGroup>> ParseJson(std::string_view content, const std::string& path) {
  json doc = json::parse(content.begin(), content.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    ErrorSax sax;
    json::sax_parse(content.begin(), content.end(), &sax);
    return Status::InvalidArgument(path + ": " +
                                   (sax.error.empty() ? std::string("invalid JSON") : sax.error));
  }
  std::vector<TargetGroup> out;
  if (doc.is_null()) return out;  // Go's json.Unmarshal leaves the list nil
  if (!doc.is_array()) return JsonError(path, "top level", "expected a list of target groups");
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& item = doc[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (item.is_null()) return JsonError(path, at, "nil target group item found");
    if (!item.is_object()) return JsonError(path, at, "expected an object");
    std::vector<std::string> targets;
    std::vector<Label> labels;
    for (auto it = item.begin(); it != item.end(); ++it) {
      const std::string& key = it.key();
      const json& v = it.value();
      // Go's encoding/json matches field names case-insensitively.
      if (EqualFold(key, "targets")) {
        targets.clear();
        if (v.is_null()) continue;
        if (!v.is_array()) return JsonError(path, at + ".targets", "expected a list of strings");
        for (size_t k = 0; k < v.size(); ++k) {
          const json& t = v[k];
          if (t.is_null()) {
            targets.emplace_back();
          } else if (t.is_string()) {
            targets.push_back(*t.get_ptr<const std::string*>());
          } else {
            return JsonError(path, at + ".targets[" + std::to_string(k) + "]", "expected a string");
          }
        }
      } else if (EqualFold(key, "labels")) {
        labels.clear();
        if (v.is_null()) continue;
        if (!v.is_object()) return JsonError(path, at + ".labels", "expected an object");
        for (auto lt = v.begin(); lt != v.end(); ++lt) {
          if (!ValidLabelName(lt.key())) {
            return JsonError(path, at + ".labels",
                             "\"" + lt.key() + "\" is not a valid label name");
          }
          const json& lv = lt.value();
          if (lv.is_null()) continue;
          if (!lv.is_string()) {
            return JsonError(path, at + ".labels." + lt.key(), "expected a string");
          }
          labels.push_back(Label{lt.key(), *lv.get_ptr<const std::string*>()});
        }
      } else {
        return JsonError(path, at, "unknown field \"" + key + "\"");
      }
    }
    out.push_back(MakeGroup(path, i, targets, std::move(labels)));
  }
  return out;
}

// ---- YAML ----

Result<std::vector<TargetGroup>> ParseYaml(std::string_view content, const std::string& path) {
  auto root = common::yaml::ParseString(content, path);
  if (!root.ok()) return root.status();
  std::vector<TargetGroup> out;
  if (root->IsNull()) return out;  // empty file
  if (!root->IsSeq()) return root->Error("", "expected a list of target groups");
  for (size_t i = 0; i < root->items.size(); ++i) {
    const common::yaml::Node& item = root->items[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (item.IsNull()) return item.Error(at, "nil target group item found");
    if (!item.IsMap()) return item.Error(at, "expected a mapping with targets and labels");
    std::vector<std::string> targets;
    std::vector<Label> labels;
    for (const auto& [k, v] : item.entries) {
      if (!k.IsScalar()) return k.Error(at, "expected a key");
      if (k.scalar == "targets") {
        if (v.IsNull()) continue;
        if (!v.IsSeq()) return v.Error(at + ".targets", "expected a list of strings");
        for (size_t t = 0; t < v.items.size(); ++t) {
          const common::yaml::Node& tn = v.items[t];
          std::string tat = at + ".targets[" + std::to_string(t) + "]";
          if (tn.IsNull()) {
            targets.emplace_back();
          } else if (tn.IsScalar()) {
            targets.push_back(tn.scalar);
          } else {
            return tn.Error(tat, "expected a string");
          }
        }
      } else if (k.scalar == "labels") {
        if (v.IsNull()) continue;
        if (!v.IsMap())
          return v.Error(at + ".labels", "expected a mapping of label names to values");
        for (const auto& [ln, lv] : v.entries) {
          std::string name = ln.IsScalar() && !ln.IsNull() ? ln.scalar : std::string();
          if (!ln.IsScalar() || !ValidLabelName(name)) {
            return ln.Error(at + ".labels", "\"" + name + "\" is not a valid label name");
          }
          if (lv.IsNull()) continue;
          if (!lv.IsScalar()) return lv.Error(at + ".labels." + name, "expected a string");
          labels.push_back(Label{name, lv.scalar});
        }
      } else {
        return k.Error(at, "unknown field \"" + k.scalar + "\" (want targets, labels)");
      }
    }
    out.push_back(MakeGroup(path, i, targets, std::move(labels)));
  }
  return out;
}

// ---- files ----

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

Result<std::string> ReadWhole(const std::string& path, double* mtime_seconds) {
  Fd f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  if (fstat(f.fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (S_ISDIR(st.st_mode)) return Status::IOError("read " + path + ": is a directory");
  *mtime_seconds =
      static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
  std::string data;
  if (st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

// Expands one pattern like Go's filepath.Glob: sorted, `*` also matches leading dots, unreadable
// directories are skipped. Errors only for glob(3) running out of memory.
Result<std::vector<std::string>> Expand(const std::string& pattern) {
  glob_t g{};
  int rc = glob(pattern.c_str(), GLOB_PERIOD, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH && rc != GLOB_ABORTED) {
    return Status::ResourceExhausted("glob " + pattern + ": out of memory");
  }
  return out;
}

std::string DirOf(const std::string& pattern) {
  size_t slash = pattern.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return pattern.substr(0, slash);
}

bool SameGroups(const std::vector<TargetGroup>& a, const std::vector<TargetGroup>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].source != b[i].source || !(a[i].labels == b[i].labels) ||
        a[i].targets != b[i].targets) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ValidatePattern(std::string_view pattern) {
  static constexpr std::string_view kExts[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
  bool ext = false;
  for (std::string_view e : kExts) {
    if (pattern.size() >= e.size() && pattern.substr(pattern.size() - e.size()) == e) ext = true;
  }
  size_t star = pattern.find('*');
  bool star_ok =
      star == std::string_view::npos || pattern.find('/', star) == std::string_view::npos;
  if (!ext || !star_ok) {
    return Status::InvalidArgument("path name \"" + std::string(pattern) +
                                   "\" is not valid for file discovery: a '*' is allowed only in "
                                   "the last path segment and the name must end in .json, .yml "
                                   "or .yaml");
  }
  return Status::Ok();
}

Result<std::vector<TargetGroup>> ParseGroups(std::string_view content, const std::string& path) {
  if (EndsWithFold(path, ".json")) return ParseJson(content, path);
  if (EndsWithFold(path, ".yml") || EndsWithFold(path, ".yaml")) return ParseYaml(content, path);
  return Status::InvalidArgument(path + ": unsupported file extension (want .json, .yml, .yaml)");
}

void FileSDStats::Merge(const FileSDStats& o) {
  scans += o.scans;
  read_errors += o.read_errors;
  watcher_errors += o.watcher_errors;
  if (o.last_scan_end_ms >= last_scan_end_ms && o.scans > 0) {
    last_scan_end_ms = o.last_scan_end_ms;
    last_scan_duration_seconds = o.last_scan_duration_seconds;
  }
  for (const auto& [f, t] : o.mtime_seconds) mtime_seconds[f] = t;
}

void FileSDStats::AddTo(common::metrics::MetricSet& set) const {
  set.Counter("lookout_sd_file_scans_total", "The number of file discovery scans.",
              static_cast<double>(scans));
  set.Counter("lookout_sd_file_read_errors_total",
              "The number of file discovery read or parse errors.",
              static_cast<double>(read_errors));
  set.Counter("lookout_sd_file_watcher_errors_total", "The number of file discovery watch errors.",
              static_cast<double>(watcher_errors));
  set.Gauge("lookout_sd_file_scan_duration_seconds",
            "The duration of the last file discovery scan.", last_scan_duration_seconds);
  for (const auto& [f, t] : mtime_seconds) {
    set.Gauge("lookout_sd_file_mtime_seconds",
              "Modification time of each file read by file discovery.", t, {{"filename", f}});
  }
}

// ---- FileDiscoverer ----

struct FileDiscoverer::ScanResult {
  struct File {
    std::string path;
    Status status;
    std::vector<TargetGroup> groups;
    double mtime = 0;
  };
  std::vector<File> files;
  std::vector<Status> glob_errors;
  double duration_seconds = 0;
};

FileDiscoverer::FileDiscoverer(common::event::Loop& loop, config::FileSDConfig cfg,
                               common::log::Logger log, GroupsCallback cb)
    : loop_(loop),
      cfg_(std::move(cfg)),
      log_(std::move(log)),
      cb_(std::move(cb)),
      refresh_timer_(loop),
      debounce_timer_(loop) {}

FileDiscoverer::~FileDiscoverer() { alive_.reset(); }

void FileDiscoverer::Start() {
  if (started_) return;
  started_ = true;
  for (const auto& p : cfg_.files) {
    Status s = ValidatePattern(p);
    if (!s.ok()) {
      log_.Error("Skipping file_sd pattern", {{"err", s.message()}});
      continue;
    }
    patterns_.push_back(p);
  }
  if (cfg_.refresh_interval_ms > 0) {
    auto ms = static_cast<uint64_t>(cfg_.refresh_interval_ms);
    refresh_timer_.Start(ms, ms, [this] { Trigger(); });
  }
  Trigger();
}

void FileDiscoverer::OnEvent() {
  if (event_pending_) return;
  event_pending_ = true;
  debounce_timer_.Start(kEventDebounceMs, 0, [this] {
    event_pending_ = false;
    Trigger();
  });
}

void FileDiscoverer::Trigger() {
  if (scanning_) {
    rescan_ = true;
    return;
  }
  scanning_ = true;
  auto result = std::make_shared<ScanResult>();
  std::weak_ptr<int> alive = alive_;
  loop_.QueueWork(
      [result, patterns = patterns_] {
        auto start = std::chrono::steady_clock::now();
        std::set<std::string> seen;
        for (const auto& p : patterns) {
          auto files = Expand(p);
          if (!files.ok()) {
            result->glob_errors.push_back(files.status());
            continue;
          }
          for (auto& f : *files) {
            if (!seen.insert(f).second) continue;
            ScanResult::File file;
            file.path = f;
            auto text = ReadWhole(f, &file.mtime);
            if (!text.ok()) {
              file.status = text.status();
            } else {
              auto groups = ParseGroups(*text, f);
              if (groups.ok()) {
                file.groups = std::move(*groups);
              } else {
                file.status = groups.status();
              }
            }
            result->files.push_back(std::move(file));
          }
        }
        result->duration_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      },
      [this, result, alive] {
        if (alive.expired()) return;
        Apply(std::move(*result));
      });
}

void FileDiscoverer::Apply(ScanResult r) {
  scanning_ = false;
  ++stats_.scans;
  stats_.last_scan_duration_seconds = r.duration_seconds;
  stats_.last_scan_end_ms = SteadyMs();
  for (const auto& s : r.glob_errors) {
    log_.Error("Error expanding glob", {{"err", s.message()}});
  }

  bool changed = !published_;
  std::map<std::string, std::vector<TargetGroup>> next;
  std::vector<std::string> files;
  for (auto& f : r.files) {
    files.push_back(f.path);
    auto old = groups_.find(f.path);
    if (!f.status.ok()) {
      ++stats_.read_errors;
      log_.Error("Error reading file", {{"path", f.path}, {"err", f.status.message()}});
      if (old != groups_.end()) next[f.path] = old->second;  // keep the last good groups
      continue;
    }
    stats_.mtime_seconds[f.path] = f.mtime;
    if (old == groups_.end() || !SameGroups(old->second, f.groups)) changed = true;
    next[f.path] = std::move(f.groups);
  }
  std::vector<TargetGroup> removed;
  for (const auto& [path, old] : groups_) {
    auto it = next.find(path);
    size_t now = it == next.end() ? 0 : it->second.size();
    for (size_t i = now; i < old.size(); ++i) {
      TargetGroup g;
      g.source = Source(path, i);
      removed.push_back(std::move(g));
    }
    if (it == next.end()) {
      stats_.mtime_seconds.erase(path);
      changed = true;
    }
  }
  groups_ = std::move(next);
  if (watches_enabled_) UpdateWatches(files);
  if (rescan_) {
    rescan_ = false;
    Trigger();
  }
  if (!changed && removed.empty()) return;
  published_ = true;
  std::vector<TargetGroup> out;
  for (const auto& [path, gs] : groups_) out.insert(out.end(), gs.begin(), gs.end());
  for (auto& g : removed) out.push_back(std::move(g));
  GroupsCallback cb = cb_;  // the callback may destroy this discoverer
  cb(std::move(out));
}

void FileDiscoverer::UpdateWatches(const std::vector<std::string>& files) {
  std::map<std::string, bool> want;  // path -> is a file
  for (const auto& p : patterns_) want[DirOf(p)] = false;
  for (const auto& f : files) want.emplace(f, true);

  for (auto it = watches_.begin(); it != watches_.end();) {
    auto w = want.find(it->first);
    if (w == want.end() || it->second.stale) {
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [path, is_file] : want) {
    if (watches_.count(path)) continue;
    auto w = std::make_unique<common::event::FsWatch>(loop_);
    Status s = w->Start(path, [this, path = path, is_file = is_file](
                                  std::string_view, unsigned events, const Status& st) {
      auto it = watches_.find(path);
      if (!st.ok()) {
        ++stats_.watcher_errors;
        log_.Warn("File watch failed", {{"path", path}, {"err", st.message()}});
        if (it != watches_.end()) it->second.stale = true;
      } else if (is_file && (events & common::event::FsWatch::kRename) && it != watches_.end()) {
        it->second.stale = true;  // replaced or removed: watch the new file on the next scan
      }
      OnEvent();
    });
    if (!s.ok()) {
      // A file may vanish between listing and watching; its directory watch covers it.
      if (is_file && s.IsNotFound()) continue;
      if (failed_watches_.insert(path).second) {  // log a lasting failure once
        ++stats_.watcher_errors;
        log_.Warn("Error adding file watch", {{"path", path}, {"err", s.message()}});
      }
      continue;
    }
    failed_watches_.erase(path);
    watches_[path] = Watch{std::move(w), false};
  }
}

}  // namespace collector::discovery::file
