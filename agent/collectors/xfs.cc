// xfs: node_xfs_*_total counters per XFS filesystem, from sysfs fs/xfs/<device>/stats/stats
// (kernel 4.4+; one file per mounted filesystem, in the format of /proc/fs/xfs/stat).
//
// Every line is "<label> <n1> <n2> ...". As procfs' xfs parser does, every line's values must
// parse (uint32, or uint64 for "xpc") and the lines we know must have their expected number of
// values; otherwise the collector fails. All families are exported for every device, 0 when the
// file lacks the line. No fs/xfs directory means no XFS mounted: no samples, success.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collector.h"
#include "agent/procfs/fs.h"

namespace agent {
namespace {

// The number of values each known line must have.
struct LineSpec {
  std::string_view label;
  size_t min_values;
  size_t max_values;
};
constexpr std::array<LineSpec, 14> kLines = {{
    {"extent_alloc", 4, 4},
    {"abt", 4, 4},
    {"blk_map", 7, 7},
    {"bmbt", 4, 4},
    {"dir", 4, 4},
    {"trans", 3, 3},
    {"ig", 7, 7},
    {"log", 5, 5},
    {"rw", 2, 2},
    {"attr", 4, 4},
    {"icluster", 3, 3},
    {"vnodes", 7, 8},  // older kernels lack the last ("free")
    {"buf", 9, 9},
    {"xpc", 3, 3},
}};

// Exported values: line label, value index on that line, metric name, help.
struct Field {
  std::string_view label;
  uint8_t index;
  std::string_view name;
  std::string_view help;
};
constexpr std::array<Field, 39> kFields = {{
    {"extent_alloc", 0, "node_xfs_extent_allocation_extents_allocated_total",
     "Extents allocated in the filesystem."},
    {"extent_alloc", 1, "node_xfs_extent_allocation_blocks_allocated_total",
     "Blocks allocated in the filesystem."},
    {"extent_alloc", 2, "node_xfs_extent_allocation_extents_freed_total",
     "Extents freed in the filesystem."},
    {"extent_alloc", 3, "node_xfs_extent_allocation_blocks_freed_total",
     "Blocks freed in the filesystem."},
    {"abt", 0, "node_xfs_allocation_btree_lookups_total", "Lookups in the allocation B-tree."},
    {"abt", 1, "node_xfs_allocation_btree_compares_total", "Compares in the allocation B-tree."},
    {"abt", 2, "node_xfs_allocation_btree_records_inserted_total",
     "Records inserted into the allocation B-tree."},
    {"abt", 3, "node_xfs_allocation_btree_records_deleted_total",
     "Records deleted from the allocation B-tree."},
    {"blk_map", 0, "node_xfs_block_mapping_reads_total", "Block map calls for reads."},
    {"blk_map", 1, "node_xfs_block_mapping_writes_total", "Block map calls for writes."},
    {"blk_map", 2, "node_xfs_block_mapping_unmaps_total", "Block unmap (delete) calls."},
    {"blk_map", 3, "node_xfs_block_mapping_extent_list_insertions_total",
     "Insertions into inode extent lists."},
    {"blk_map", 4, "node_xfs_block_mapping_extent_list_deletions_total",
     "Deletions from inode extent lists."},
    {"blk_map", 5, "node_xfs_block_mapping_extent_list_lookups_total",
     "Lookups in inode extent lists."},
    {"blk_map", 6, "node_xfs_block_mapping_extent_list_compares_total",
     "Compares in inode extent lists."},
    {"bmbt", 0, "node_xfs_block_map_btree_lookups_total", "Lookups in the block map B-tree."},
    {"bmbt", 1, "node_xfs_block_map_btree_compares_total", "Compares in the block map B-tree."},
    {"bmbt", 2, "node_xfs_block_map_btree_records_inserted_total",
     "Records inserted into the block map B-tree."},
    {"bmbt", 3, "node_xfs_block_map_btree_records_deleted_total",
     "Records deleted from the block map B-tree."},
    {"dir", 0, "node_xfs_directory_operation_lookup_total",
     "Directory name lookups that missed the dentry cache."},
    {"dir", 1, "node_xfs_directory_operation_create_total", "Directory entries created."},
    {"dir", 2, "node_xfs_directory_operation_remove_total", "Directory entries removed."},
    {"dir", 3, "node_xfs_directory_operation_getdents_total", "getdents calls on directories."},
    {"ig", 0, "node_xfs_inode_operation_attempts_total", "Inode cache lookup attempts."},
    {"ig", 1, "node_xfs_inode_operation_found_total", "Inode cache lookups that found the inode."},
    {"ig", 2, "node_xfs_inode_operation_recycled_total",
     "Inode cache hits on inodes being recycled."},
    {"ig", 3, "node_xfs_inode_operation_missed_total", "Inode cache lookups that missed."},
    {"ig", 4, "node_xfs_inode_operation_duplicates_total",
     "Inodes inserted into the cache by a racing lookup."},
    {"ig", 5, "node_xfs_inode_operation_reclaims_total", "Inodes reclaimed from the cache."},
    {"ig", 6, "node_xfs_inode_operation_attribute_changes_total", "Inode attribute changes."},
    {"rw", 0, "node_xfs_write_calls_total", "write(2) calls on files of the filesystem."},
    {"rw", 1, "node_xfs_read_calls_total", "read(2) calls on files of the filesystem."},
    {"vnodes", 0, "node_xfs_vnode_active_total", "Vnodes not on free lists."},
    {"vnodes", 1, "node_xfs_vnode_allocate_total", "Vnode allocations."},
    {"vnodes", 2, "node_xfs_vnode_get_total", "Vnode get calls."},
    {"vnodes", 3, "node_xfs_vnode_hold_total", "Vnode hold calls."},
    {"vnodes", 4, "node_xfs_vnode_release_total", "Vnode release calls."},
    {"vnodes", 5, "node_xfs_vnode_reclaim_total", "Vnode reclaim calls."},
    {"vnodes", 6, "node_xfs_vnode_remove_total", "Vnode remove calls."},
}};

class XfsCollector : public Collector {
 public:
  explicit XfsCollector(const CollectorContext& ctx) : base_(ctx.paths.Sys("fs/xfs")) {}

  Status Update(MetricSet& out) override {
    auto entries = procfs::ListDir(base_);
    if (!entries.ok()) {
      if (entries.status().IsNotFound()) return Status::Ok();
      return entries.status();
    }
    for (const std::string& dev : *entries) {
      std::string path = base_ + "/" + dev + "/stats/stats";
      if (!procfs::Exists(path)) continue;
      LOOKOUT_RETURN_IF_ERROR(procfs::ReadFile(path, buf_));
      LOOKOUT_RETURN_IF_ERROR(Parse(path));
      for (size_t i = 0; i < kFields.size(); ++i) {
        out.Counter(kFields[i].name, kFields[i].help, values_[i], {{"device", dev}});
      }
    }
    return Status::Ok();
  }

 private:
  // Parses buf_ into values_.
  Status Parse(const std::string& path) {
    values_.fill(0);
    Status st;
    procfs::ForEachLine(buf_, [&](std::string_view line) {
      if (!st.ok()) return;
      procfs::SplitFields(line, fields_);
      if (fields_.size() < 2) return;
      std::string_view label = fields_[0];
      bool wide = label == "xpc";
      nums_.clear();
      for (size_t i = 1; i < fields_.size(); ++i) {
        uint64_t u;
        if (!procfs::ParseUint(fields_[i], u) || (!wide && u > UINT32_MAX)) {
          st = Status::InvalidArgument("bad value on line " + std::string(label) + " of " + path);
          return;
        }
        nums_.push_back(u);
      }
      for (const LineSpec& spec : kLines) {
        if (spec.label != label) continue;
        if (nums_.size() < spec.min_values || nums_.size() > spec.max_values) {
          st = Status::InvalidArgument("unexpected number of values on line " + std::string(label) +
                                       " of " + path);
          return;
        }
        break;
      }
      for (size_t i = 0; i < kFields.size(); ++i) {
        if (kFields[i].label == label && kFields[i].index < nums_.size()) {
          values_[i] = static_cast<double>(nums_[kFields[i].index]);
        }
      }
    });
    return st;
  }

  std::string base_;
  std::string buf_;
  std::vector<std::string_view> fields_;
  std::vector<uint64_t> nums_;
  std::array<double, kFields.size()> values_{};
};

}  // namespace

LOOKOUT_REGISTER_COLLECTOR({
    .name = "xfs",
    .default_enabled = true,
    .flags = {},
    .make = [](const CollectorContext& ctx) -> Result<std::unique_ptr<Collector>> {
      return std::unique_ptr<Collector>(std::make_unique<XfsCollector>(ctx));
    },
});

}  // namespace agent
