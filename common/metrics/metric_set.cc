#include "common/metrics/metric_set.h"

#include "common/base/utf8.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace common::metrics {

MetricSet::Ref MetricSet::StoreUtf8(std::string_view s) {
  // Label values must be valid UTF-8 or the whole exposition becomes unparseable: runs of invalid
  // bytes (garbage in a /proc file) become U+FFFD, as Go's strings.ToValidUTF8.
  return Store(common::ToValidUtf8(s, utf8_scratch_));
}

MetricSet::Ref MetricSet::Store(std::string_view s) {
  Ref r{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(s.size())};
  arena_.append(s);
  return r;
}

uint32_t MetricSet::AddLabels(std::span<const Label> labels) {
  uint32_t begin = static_cast<uint32_t>(labels_.size());
  for (const Label& l : labels) {
    LabelRec rec{Store(l.name), StoreUtf8(l.value)};
    // Insertion sort by name: label sets are small.
    labels_.push_back(rec);
    size_t i = labels_.size() - 1;
    while (i > begin && View(labels_[i - 1].name) > View(labels_[i].name)) {
      std::swap(labels_[i - 1], labels_[i]);
      --i;
    }
  }
  return begin;
}

void MetricSet::Add(std::string_view name, std::string_view help, MetricType type, double value,
                    std::span<const Label> labels) {
  uint32_t fam;
  auto it = family_index_.find(name);  // transparent lookup: no key copy
  if (it == family_index_.end()) {
    fam = static_cast<uint32_t>(families_.size());
    families_.push_back(Family{std::string(name), std::string(help), type, 0});
    family_index_.emplace(std::string(name), fam);
  } else {
    fam = it->second;
  }
  families_[fam].samples++;
  uint32_t begin = AddLabels(labels);
  samples_.push_back(Sample{fam, begin, static_cast<uint32_t>(labels_.size() - begin), value});
}

void MetricSet::AddSummary(std::string_view name, std::string_view help,
                           std::span<const Label> labels,
                           std::span<const std::pair<double, double>> quantiles, double sum,
                           uint64_t count) {
  Add(name, help, MetricType::kSummary, sum, labels);
  Sample& s = samples_.back();
  s.extra_begin = static_cast<uint32_t>(extras_.size());
  s.extra_count = static_cast<uint32_t>(quantiles.size());
  s.count = count;
  extras_.insert(extras_.end(), quantiles.begin(), quantiles.end());
}

void MetricSet::AddHistogram(std::string_view name, std::string_view help,
                             std::span<const Label> labels,
                             std::span<const std::pair<double, uint64_t>> buckets, double sum,
                             uint64_t count) {
  Add(name, help, MetricType::kHistogram, sum, labels);
  Sample& s = samples_.back();
  s.extra_begin = static_cast<uint32_t>(extras_.size());
  s.count = count;
  for (const auto& [le, c] : buckets) {
    if (std::isinf(le)) continue;  // the +Inf bucket is written from `count`
    extras_.push_back({le, static_cast<double>(c)});
  }
  s.extra_count = static_cast<uint32_t>(extras_.size() - s.extra_begin);
}

void MetricSet::Clear() {
  for (auto& f : families_) f.samples = 0;
  samples_.clear();
  labels_.clear();
  extras_.clear();
  arena_.clear();
}

void Encoder::Encode(std::span<const MetricSet* const> sets, std::string& out) {
  fams_.clear();
  uint32_t order = 0;
  for (const MetricSet* s : sets) s->order_ = order++;
  for (const MetricSet* s : sets) {
    for (uint32_t i = 0; i < s->families_.size(); ++i) {
      if (s->families_[i].samples > 0) fams_.push_back(FamRef{s, i});
    }
  }
  std::sort(fams_.begin(), fams_.end(), [](const FamRef& a, const FamRef& b) {
    return a.set->families_[a.family].name < b.set->families_[b.family].name;
  });
  for (size_t g = 0; g < fams_.size();) {
    const MetricSet::Family& head = fams_[g].set->families_[fams_[g].family];
    size_t end = g + 1;
    while (end < fams_.size() && fams_[end].set->families_[fams_[end].family].name == head.name) {
      ++end;
    }
    samples_.clear();
    for (size_t k = g; k < end; ++k) {
      const MetricSet* s = fams_[k].set;
      for (const auto& smp : s->samples_) {
        if (smp.family == fams_[k].family) samples_.push_back(SampleRef{s, &smp});
      }
    }
    // std::sort with a total order (insertion order breaks ties): std::stable_sort would
    // allocate a temporary buffer on every call.
    std::sort(samples_.begin(), samples_.end(), [](const SampleRef& a, const SampleRef& b) {
      if (a.sample->label_count != b.sample->label_count) {
        return a.sample->label_count < b.sample->label_count;
      }
      for (uint32_t i = 0; i < a.sample->label_count; ++i) {
        std::string_view va = a.set->View(a.set->labels_[a.sample->label_begin + i].value);
        std::string_view vb = b.set->View(b.set->labels_[b.sample->label_begin + i].value);
        if (va != vb) return va < vb;
      }
      if (a.set != b.set) return a.set->order_ < b.set->order_;
      return a.sample < b.sample;
    });
    expfmt::AppendHelp(out, head.name, head.help);
    expfmt::AppendType(out, head.name, head.type);
    for (const SampleRef& r : samples_) {
      const MetricSet& set = *r.set;
      const MetricSet::Sample& smp = *r.sample;
      // One line: name+suffix{labels[,extra="v"]} value
      auto line = [&](std::string_view suffix, std::string_view extra_name, double extra,
                      double value) {
        out += head.name;
        out += suffix;
        bool any = smp.label_count > 0 || !extra_name.empty();
        if (any) out += '{';
        for (uint32_t i = 0; i < smp.label_count; ++i) {
          const auto& l = set.labels_[smp.label_begin + i];
          if (i > 0) out += ',';
          out += set.View(l.name);
          out += "=\"";
          expfmt::AppendLabelValue(out, set.View(l.value));
          out += '"';
        }
        if (!extra_name.empty()) {
          if (smp.label_count > 0) out += ',';
          out += extra_name;
          out += "=\"";
          expfmt::AppendFloat(out, extra);
          out += '"';
        }
        if (any) out += '}';
        out += ' ';
        expfmt::AppendFloat(out, value);
        out += '\n';
      };
      if (head.type == MetricType::kSummary && (smp.extra_count > 0 || smp.count > 0)) {
        for (uint32_t i = 0; i < smp.extra_count; ++i) {
          const auto& [q, v] = set.extras_[smp.extra_begin + i];
          line("", "quantile", q, v);
        }
        line("_sum", "", 0, smp.value);
        line("_count", "", 0, static_cast<double>(smp.count));
      } else if (head.type == MetricType::kHistogram) {
        for (uint32_t i = 0; i < smp.extra_count; ++i) {
          const auto& [le, c] = set.extras_[smp.extra_begin + i];
          line("_bucket", "le", le, c);
        }
        line("_bucket", "le", std::numeric_limits<double>::infinity(), static_cast<double>(smp.count));
        line("_sum", "", 0, smp.value);
        line("_count", "", 0, static_cast<double>(smp.count));
      } else {
        line("", "", 0, smp.value);
      }
    }
    g = end;
  }
}

}  // namespace common::metrics
