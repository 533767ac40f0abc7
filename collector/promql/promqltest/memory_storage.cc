#include "collector/promql/promqltest/memory_storage.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace collector::promql::promqltest {

using common::Result;
using common::Status;

namespace {

using Point = MemoryStorage::Point;

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

class MemIterator : public storage::SampleIterator {
 public:
  MemIterator(const Point* begin, const Point* end) : begin_(begin), end_(end), cur_(begin) {}
  bool Next() override {
    if (!started_) {
      started_ = true;
      cur_ = begin_;
    } else if (cur_ != end_) {
      ++cur_;
    }
    return cur_ != end_;
  }
  bool Seek(int64_t t_ms) override {
    if (!started_) {
      started_ = true;
      cur_ = begin_;
    }
    if (cur_ == end_) return false;
    if (cur_->t >= t_ms) return true;
    cur_ = std::lower_bound(cur_, end_, t_ms, [](const Point& p, int64_t t) { return p.t < t; });
    return cur_ != end_;
  }
  int64_t t() const override { return cur_->t; }
  double v() const override { return cur_->v; }
  int64_t st() const override { return cur_->st; }
  Status status() const override { return Status::Ok(); }

 private:
  const Point* begin_;
  const Point* end_;
  const Point* cur_;
  bool started_ = false;
};

class MemSeries : public storage::Series {
 public:
  MemSeries(const model::Labels* labels, const Point* begin, const Point* end)
      : labels_(labels), begin_(begin), end_(end) {}
  const model::Labels& labels() const override { return *labels_; }
  std::unique_ptr<storage::SampleIterator> Iterator() const override {
    return std::make_unique<MemIterator>(begin_, end_);
  }

 private:
  const model::Labels* labels_;
  const Point* begin_;
  const Point* end_;
};

class MemSeriesSet : public storage::SeriesSet {
 public:
  explicit MemSeriesSet(std::vector<MemSeries> s) : s_(std::move(s)) {}
  bool Next() override {
    if (!started_) {
      started_ = true;
    } else if (i_ < s_.size()) {
      ++i_;
    }
    return i_ < s_.size();
  }
  const storage::Series& At() const override { return s_[i_]; }
  Status status() const override { return Status::Ok(); }

 private:
  std::vector<MemSeries> s_;
  size_t i_ = 0;
  bool started_ = false;
};

bool MatchesAll(const model::Labels& l, std::span<const storage::Matcher> ms) {
  for (const auto& m : ms) {
    if (!m.Matches(l.Get(m.name()))) return false;
  }
  return true;
}

class MemQuerier : public storage::Querier {
 public:
  MemQuerier(const MemoryStorage::SeriesMap& m, int64_t mint, int64_t maxt)
      : m_(m), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(bool /*sorted: the map is*/, int64_t mint, int64_t maxt,
                                             std::span<const storage::Matcher> matchers) override {
    std::vector<MemSeries> out;
    for (const auto& [labels, pts] : m_) {
      if (!MatchesAll(labels, matchers)) continue;
      auto lo = std::lower_bound(pts.begin(), pts.end(), mint,
                                 [](const Point& p, int64_t t) { return p.t < t; });
      auto hi = std::upper_bound(lo, pts.end(), maxt,
                                 [](int64_t t, const Point& p) { return t < p.t; });
      if (lo == hi) continue;  // no sample in range: not returned, as the tsdb head
      out.emplace_back(&labels, pts.data() + (lo - pts.begin()), pts.data() + (hi - pts.begin()));
    }
    return std::make_unique<MemSeriesSet>(std::move(out));
  }

  Result<std::vector<std::string>> LabelNames(std::span<const storage::Matcher> matchers) override {
    std::set<std::string> names;
    ForEach(matchers, [&](const model::Labels& l) {
      for (const auto& x : l) names.insert(x.name);
    });
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const storage::Matcher> matchers) override {
    std::set<std::string> values;
    ForEach(matchers, [&](const model::Labels& l) {
      if (l.Has(name)) values.insert(std::string(l.Get(name)));
    });
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  template <typename F>
  void ForEach(std::span<const storage::Matcher> matchers, F f) {
    for (const auto& [labels, pts] : m_) {
      if (!MatchesAll(labels, matchers)) continue;
      bool any = false;
      for (const auto& p : pts) {
        if (p.t >= mint_ && p.t <= maxt_) {
          any = true;
          break;
        }
      }
      if (any) f(labels);
    }
  }

  const MemoryStorage::SeriesMap& m_;
  int64_t mint_;
  int64_t maxt_;
};

}  // namespace

Status MemoryStorage::Add(const model::Labels& labels, int64_t t_ms, double v, int64_t st_ms) {
  auto& pts = series_[labels];
  if (!pts.empty()) {
    const Point& last = pts.back();
    if (t_ms < last.t) return storage::ErrOutOfOrderSample();
    if (t_ms == last.t) {
      if (SameBits(v, last.v)) return Status::Ok();
      return storage::ErrDuplicateSampleForTimestamp();
    }
  }
  pts.push_back({t_ms, v, st_ms});
  return Status::Ok();
}

Result<std::unique_ptr<storage::Querier>> MemoryStorage::NewQuerier(int64_t mint, int64_t maxt) {
  return std::unique_ptr<storage::Querier>(std::make_unique<MemQuerier>(series_, mint, maxt));
}

}  // namespace collector::promql::promqltest
