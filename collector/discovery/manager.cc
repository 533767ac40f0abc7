#include "collector/discovery/manager.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace collector::discovery {

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

bool SameFileSD(const config::FileSDConfig& a, const config::FileSDConfig& b) {
  return a.files == b.files && a.refresh_interval_ms == b.refresh_interval_ms;
}

}  // namespace

Manager::Manager(common::event::Loop& loop, Options opts, common::log::Logger log, SyncFunc sync)
    : loop_(loop),
      opts_(opts),
      log_(std::move(log)),
      sync_(std::move(sync)),
      removed_timer_(loop) {}

Manager::~Manager() { jobs_.clear(); }

void Manager::ApplyConfig(const config::Config& cfg) {
  std::vector<JobSpec> specs;
  specs.reserve(cfg.scrape_configs.size());
  for (const auto& sc : cfg.scrape_configs) {
    specs.push_back(JobSpec{sc.job_name, sc.static_configs, sc.file_sd_configs});
  }
  ApplyJobs(specs);
}

void Manager::ApplyJobs(const std::vector<JobSpec>& specs) {
  std::map<std::string, std::unique_ptr<Job>> old = std::move(jobs_);
  jobs_.clear();
  for (const auto& spec : specs) {
    if (jobs_.count(spec.job)) {
      log_.Warn("Duplicate job in discovery config; keeping the first", {{"job", spec.job}});
      continue;
    }
    auto job = std::make_unique<Job>();
    job->timer = std::make_unique<common::event::Timer>(loop_);
    std::vector<std::unique_ptr<Provider>> previous;
    if (auto it = old.find(spec.job); it != old.end()) {
      job->sent = it->second->sent;
      job->last = std::move(it->second->last);
      job->last_sync_ms = it->second->last_sync_ms;
      previous = std::move(it->second->providers);
    }

    if (!spec.static_groups.empty()) {
      auto p = std::make_unique<Provider>();
      p->reported = true;
      for (size_t i = 0; i < spec.static_groups.size(); ++i) {
        if (spec.static_groups[i].targets.empty()) continue;
        TargetGroup g = spec.static_groups[i];
        if (g.source.empty()) g.source = std::to_string(i);
        p->groups.push_back(std::move(g));
      }
      job->providers.push_back(std::move(p));
    }

    std::vector<file::FileDiscoverer*> to_start;
    for (const auto& fc : spec.file_sd) {
      auto reuse = std::find_if(previous.begin(), previous.end(), [&](const auto& p) {
        return p && p->file && SameFileSD(p->file->config(), fc);
      });
      if (reuse != previous.end()) {
        job->providers.push_back(std::move(*reuse));
        continue;
      }
      auto p = std::make_unique<Provider>();
      Provider* raw = p.get();
      p->file = std::make_unique<file::FileDiscoverer>(
          loop_, fc, log_.Child("file").Child(spec.job),
          [this, name = spec.job, raw](std::vector<TargetGroup> groups) {
            OnGroups(name, raw, std::move(groups));
          });
      to_start.push_back(p->file.get());
      job->providers.push_back(std::move(p));
    }
    for (auto& p : previous) {
      if (p) Retire(std::move(p));
    }

    Job& ref = *job;
    jobs_[spec.job] = std::move(job);
    for (auto* d : to_start) d->Start();  // first scan completes asynchronously
    MarkDirty(spec.job, ref);
  }

  for (auto& [name, job] : old) {
    if (jobs_.count(name)) continue;  // kept; its providers were taken over
    for (auto& p : job->providers) {
      if (p) Retire(std::move(p));
    }
    if (job->sent) removed_.push_back(name);
  }
  old.clear();
  std::erase_if(removed_, [this](const std::string& n) { return jobs_.count(n) > 0; });
  if (!removed_.empty()) removed_timer_.Start(0, 0, [this] { FlushRemoved(); });
}

void Manager::Retire(std::unique_ptr<Provider> p) {
  if (!p->file) return;
  file::FileSDStats s = p->file->stats();
  s.mtime_seconds.clear();  // its files are no longer discovered by it
  retired_stats_.Merge(s);
  p.reset();  // stops the discoverer
}

void Manager::OnGroups(const std::string& name, Provider* p, std::vector<TargetGroup> groups) {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  bool ours = std::any_of(job.providers.begin(), job.providers.end(),
                          [p](const auto& q) { return q.get() == p; });
  if (!ours) return;
  p->groups.clear();
  for (auto& g : groups) {
    if (!g.targets.empty()) p->groups.push_back(std::move(g));
  }
  p->reported = true;
  MarkDirty(name, job);
}

void Manager::MarkDirty(const std::string& name, Job& job) {
  if (job.armed) return;
  job.armed = true;
  int64_t delay = 0;
  if (job.sent) {
    delay = std::max<int64_t>(
        0, job.last_sync_ms + static_cast<int64_t>(opts_.update_interval_ms) - SteadyMs());
  }
  job.timer->Start(static_cast<uint64_t>(delay), 0, [this, name] { Flush(name); });
}

void Manager::Flush(const std::string& name_ref) {
  std::string name = name_ref;
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  job.armed = false;
  std::vector<TargetGroup> merged;
  for (const auto& p : job.providers) {
    if (!p->reported) return;  // its first report marks the job dirty again
    merged.insert(merged.end(), p->groups.begin(), p->groups.end());
  }
  if (job.sent && SameGroups(merged, job.last)) return;
  job.sent = true;
  job.last = merged;
  job.last_sync_ms = SteadyMs();
  SyncFunc sync = sync_;  // the call may re-enter ApplyJobs
  sync(name, std::move(merged));
}

void Manager::FlushRemoved() {
  std::vector<std::string> names = std::move(removed_);
  removed_.clear();
  SyncFunc sync = sync_;
  for (const auto& n : names) sync(n, {});
}

std::vector<TargetGroup> Manager::Groups(const std::string& job) const {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return {};
  return it->second->last;
}

file::FileSDStats Manager::FileStats() const {
  file::FileSDStats s = retired_stats_;
  for (const auto& [name, job] : jobs_) {
    for (const auto& p : job->providers) {
      if (p->file) s.Merge(p->file->stats());
    }
  }
  return s;
}

}  // namespace collector::discovery
