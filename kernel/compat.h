/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wrappers around kernel API differences. Each HAVE_* comes from a probe in
 * compat/probes/ compiled against the target headers (compat/gen-compat.sh);
 * driver code uses only the wrappers here and never LINUX_VERSION_CODE.
 */
#ifndef HTTPCLOOP_COMPAT_H
#define HTTPCLOOP_COMPAT_H

#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/uio.h>

#include "compat_generated.h"

/*
 * 6.9 passes the initial queue_limits to blk_mq_alloc_disk(); 6.11 moved the
 * queue feature flags (rotational, entropy) into them. Before, both were set
 * on the queue after allocation.
 */
static inline struct gendisk *hcl_compat_alloc_disk(struct blk_mq_tag_set *set,
						    unsigned int block_size,
						    unsigned int max_io_bytes,
						    void *queuedata)
{
	struct gendisk *disk;
#ifdef HAVE_BLK_MQ_ALLOC_DISK_LIMITS
	struct queue_limits lim = {
		.logical_block_size	= SECTOR_SIZE,
		.physical_block_size	= PAGE_SIZE,
		.io_min			= block_size,
		.max_hw_sectors		= max_io_bytes >> SECTOR_SHIFT,
	};

	/* 6.11: no BLK_FEAT_ROTATIONAL or BLK_FEAT_ADD_RANDOM: an SSD-like disk. */
	disk = blk_mq_alloc_disk(set, &lim, queuedata);
#else
	disk = blk_mq_alloc_disk(set, queuedata);
	if (IS_ERR(disk))
		return disk;
	blk_queue_logical_block_size(disk->queue, SECTOR_SIZE);
	blk_queue_physical_block_size(disk->queue, PAGE_SIZE);
	blk_queue_io_min(disk->queue, block_size);
	blk_queue_max_hw_sectors(disk->queue, max_io_bytes >> SECTOR_SHIFT);
#endif
#ifndef HAVE_QUEUE_LIMITS_FEATURES
	if (!IS_ERR(disk)) {
		blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
		blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, disk->queue);
	}
#endif
	return disk;
}

/*
 * After 6.12 (seen in Debian's 7.3): blk_mq_ops.init_request takes the NUMA
 * node as an int.
 */
#ifdef HAVE_INIT_REQUEST_INT_NODE
#define HCL_NUMA_NODE_TYPE int
#else
#define HCL_NUMA_NODE_TYPE unsigned int
#endif

/* 5.19 dropped the "reserved" argument of blk_mq_ops.timeout. */
#ifdef HAVE_TIMEOUT_NO_RESERVED
#define HCL_TIMEOUT_ARGS struct request *rq
#else
#define HCL_TIMEOUT_ARGS struct request *rq, bool reserved
#endif

/*
 * 6.5: block_device_operations.open takes the gendisk and a blk_mode_t;
 * before, the block_device and an fmode_t. HCL_OPEN_DISK is the gendisk.
 */
#ifdef HAVE_BDOPS_OPEN_GENDISK
#define HCL_OPEN_ARGS struct gendisk *disk, blk_mode_t mode
#define HCL_OPEN_DISK disk
#else
#define HCL_OPEN_ARGS struct block_device *bdev, fmode_t mode
#define HCL_OPEN_DISK (bdev->bd_disk)
#endif

/* 6.14 removed BLK_MQ_F_SHOULD_MERGE: every queue merges bios unless told not to. */
#ifndef HAVE_BLK_MQ_F_SHOULD_MERGE
#define BLK_MQ_F_SHOULD_MERGE 0
#endif

/*
 * Kernels without the flag give a single-queue device mq-deadline: only the
 * default changes (the scheduler can still be set through sysfs).
 */
#ifndef HAVE_BLK_MQ_F_NO_SCHED_BY_DEFAULT
#define BLK_MQ_F_NO_SCHED_BY_DEFAULT 0
#endif

/* 5.19 added disk_openers(); before, the whole-disk bdev held the count. */
#ifndef HAVE_DISK_OPENERS
static inline unsigned int disk_openers(struct gendisk *disk)
{
	return atomic_read(&disk->part0->bd_openers);
}
#endif

/* 6.2 named the iov_iter directions; READ is the same value before. */
#ifndef ITER_DEST
#define ITER_DEST READ
#endif

#endif /* HTTPCLOOP_COMPAT_H */
