#pragma once
// Self-metrics of the running process under client_golang's process collector names:
// process_cpu_seconds_total, process_open_fds, process_max_fds, process_virtual_memory_bytes,
// process_virtual_memory_max_bytes, process_resident_memory_bytes, process_start_time_seconds.
// Read from /proc/self; a file that cannot be read omits its metrics. Thread-safe.

#include "common/metrics/metric_set.h"

namespace common::metrics {

void AddProcessMetrics(MetricSet& out);

}  // namespace common::metrics
