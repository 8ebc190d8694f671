// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device attributes in /sys/block/httpcloopN/httpcloop/, registered with
 * the disk so that they exist as soon as the device appears.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/sysfs.h>

#include "httpcloop.h"

static struct hcl_device *hcl_from_dev(struct device *d)
{
	return dev_to_disk(d)->private_data;
}

#define HCL_ATTR(name, fmt, expr)					\
static ssize_t name##_show(struct device *d,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct hcl_device *dev = hcl_from_dev(d);			\
									\
	return sysfs_emit(buf, fmt "\n", expr);				\
}									\
static DEVICE_ATTR_RO(name)

HCL_ATTR(image_size, "%llu", dev->image_size);
HCL_ATTR(block_size, "%u", dev->block_size);
HCL_ATTR(blocks_total, "%llu", dev->nr_blocks);
HCL_ATTR(blocks_present, "%llu", READ_ONCE(dev->present_count));
HCL_ATTR(parked, "%u", READ_ONCE(dev->nr_parked));
HCL_ATTR(daemon_pid, "%d", READ_ONCE(dev->daemon_pid));
HCL_ATTR(claims, "%u", READ_ONCE(dev->claims));
HCL_ATTR(io_timeout, "%u", dev->io_timeout);
HCL_ATTR(dead_timeout, "%u", dev->dead_timeout);
HCL_ATTR(daemon_alive, "%d", READ_ONCE(dev->owner_portid) != 0);
HCL_ATTR(cache_reads, "%lld", atomic64_read(&dev->stats.cache_reads));
HCL_ATTR(misses, "%lld", atomic64_read(&dev->stats.misses));
HCL_ATTR(fetches_sent, "%lld", atomic64_read(&dev->stats.fetches_sent));
HCL_ATTR(blocks_ready, "%lld", atomic64_read(&dev->stats.blocks_ready));
HCL_ATTR(blocks_failed, "%lld", atomic64_read(&dev->stats.blocks_failed));
HCL_ATTR(io_errors, "%lld", atomic64_read(&dev->stats.io_errors));

static struct attribute *hcl_attrs[] = {
	&dev_attr_image_size.attr,
	&dev_attr_block_size.attr,
	&dev_attr_blocks_total.attr,
	&dev_attr_blocks_present.attr,
	&dev_attr_parked.attr,
	&dev_attr_daemon_pid.attr,
	&dev_attr_daemon_alive.attr,
	&dev_attr_claims.attr,
	&dev_attr_io_timeout.attr,
	&dev_attr_dead_timeout.attr,
	&dev_attr_cache_reads.attr,
	&dev_attr_misses.attr,
	&dev_attr_fetches_sent.attr,
	&dev_attr_blocks_ready.attr,
	&dev_attr_blocks_failed.attr,
	&dev_attr_io_errors.attr,
	NULL,
};

static const struct attribute_group hcl_attr_group = {
	.name	= HCL_NAME,
	.attrs	= hcl_attrs,
};

const struct attribute_group *hcl_disk_attr_groups[] = {
	&hcl_attr_group,
	NULL,
};
