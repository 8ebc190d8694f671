// SPDX-License-Identifier: GPL-2.0
/*
 * httpcloop devices: blk-mq queue, cache-file reads and parked misses.
 *
 * A read whose blocks are all present is served from the cache file by a work
 * item, as the loop driver serves its backing file. A read that touches a
 * missing block is parked on the device; the fetch work asks the owning daemon
 * for the block once, however many reads wait for it. BLOCK_READY marks the
 * block present and re-runs the parked reads; BLOCK_FAILED, the blk-mq timeout
 * and the loss of the daemon fail them with EIO.
 */
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "httpcloop.h"

/* Bounds the bitmaps: 2^28 blocks is 16 TiB of 64 KiB blocks, 64 MiB of bits. */
#define HCL_MAX_BLOCKS		BIT_ULL(28)
#define HCL_QUEUE_DEPTH		128
/*
 * Largest request: a request may span several blocks, so that a large read
 * costs one cache-file read rather than one per block.
 */
#define HCL_MAX_IO_BYTES	(1024 * 1024)
#define HCL_INLINE_BVECS	16
#define HCL_FETCH_BATCH		32
/* Retry delay when the daemon's socket buffer is full. */
#define HCL_FETCH_RETRY		(HZ / 50)

static int hcl_major;
static struct workqueue_struct *hcl_wq;
/* Guards hcl_idr; device lifetime is serialised by the genetlink lock. */
static DEFINE_MUTEX(hcl_idr_mutex);
static DEFINE_IDR(hcl_idr);

static void hcl_cmd_end(struct hcl_cmd *cmd, blk_status_t status)
{
	if (status)
		atomic64_inc(&cmd->dev->stats.io_errors);
	cmd->status = status;
	blk_mq_complete_request(blk_mq_rq_from_pdu(cmd));
}

static void hcl_complete_rq(struct request *rq)
{
	struct hcl_cmd *cmd = blk_mq_rq_to_pdu(rq);

	blk_mq_end_request(rq, cmd->status);
}

/*
 * Fill @rq from the cache file. Bytes past the end of the image (the tail of
 * the last sector of an image whose size is not a multiple of 512) are zero.
 */
static blk_status_t hcl_read_cached(struct hcl_device *dev, struct request *rq)
{
	struct bio_vec inline_bvecs[HCL_INLINE_BVECS];
	struct bio_vec *bvecs = inline_bvecs, bv;
	struct req_iterator rq_iter;
	loff_t pos = (loff_t)blk_rq_pos(rq) << SECTOR_SHIFT;
	size_t len = blk_rq_bytes(rq);
	size_t in_image = 0;
	unsigned int nr = 0;
	struct iov_iter iter;
	struct kiocb kiocb;
	blk_status_t status = BLK_STS_OK;
	unsigned int noio_flags;
	ssize_t ret;

	rq_for_each_bvec(bv, rq, rq_iter)
		nr++;
	if (nr > HCL_INLINE_BVECS) {
		bvecs = kmalloc_array(nr, sizeof(*bvecs), GFP_NOIO);
		if (!bvecs)
			return BLK_STS_RESOURCE;
	}
	nr = 0;
	rq_for_each_bvec(bv, rq, rq_iter)
		bvecs[nr++] = bv;

	if (pos < dev->image_size)
		in_image = min_t(u64, len, dev->image_size - pos);
	iov_iter_bvec(&iter, ITER_DEST, bvecs, nr, len);
	iov_iter_truncate(&iter, in_image);

	init_sync_kiocb(&kiocb, dev->cache_file);
	kiocb.ki_pos = pos;
	/*
	 * As loop does: the cache file's reads must not recurse into I/O to
	 * reclaim memory, which could need this very device.
	 */
	noio_flags = memalloc_noio_save();
	ret = dev->cache_file->f_op->read_iter(&kiocb, &iter);
	memalloc_noio_restore(noio_flags);
	if (ret != in_image) {
		pr_err_ratelimited("%s: cache file read at %lld: %zd of %zu bytes\n",
				   dev->disk->disk_name, pos, ret, in_image);
		status = BLK_STS_IOERR;
		goto out_free;
	}
	if (in_image < len) {
		iov_iter_reexpand(&iter, len - in_image);
		iov_iter_zero(len - in_image, &iter);
	}
	atomic64_inc(&dev->stats.cache_reads);
out_free:
	if (bvecs != inline_bvecs)
		kfree(bvecs);
	return status;
}

static void hcl_cmd_work(struct work_struct *work)
{
	struct hcl_cmd *cmd = container_of(work, struct hcl_cmd, work);
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	struct hcl_device *dev = cmd->dev;
	unsigned int shift = dev->block_shift - SECTOR_SHIFT;
	u64 first = blk_rq_pos(rq) >> shift;
	u64 last = (blk_rq_pos(rq) + blk_rq_sectors(rq) - 1) >> shift;
	u64 missing;

	spin_lock(&dev->lock);
	last = min(last, dev->nr_blocks - 1);
	missing = find_next_zero_bit(dev->present, last + 1, first);
	if (missing > last) {
		spin_unlock(&dev->lock);
		hcl_cmd_end(cmd, hcl_read_cached(dev, rq));
		return;
	}
	if (dev->state == HCL_REMOVING || dev->owner_dead) {
		spin_unlock(&dev->lock);
		hcl_cmd_end(cmd, BLK_STS_IOERR);
		return;
	}
	/*
	 * Everything that touches dev is done before the unlock: once parked, the
	 * request may complete on another CPU (BLOCK_READY), and nothing then keeps
	 * a removal from freeing dev under us. mod_delayed_work() does not sleep.
	 */
	atomic64_inc(&dev->stats.misses);
	cmd->wait_block = missing;
	cmd->last_block = last;
	cmd->parked = true;
	list_add_tail(&cmd->park_node, &dev->parked);
	dev->nr_parked++;
	if (dev->owner_portid && !test_bit(missing, dev->fetching))
		mod_delayed_work(hcl_wq, &dev->fetch_work, 0);
	spin_unlock(&dev->lock);
}

/* The daemon's socket is gone: parked reads fail after dead_timeout. */
static void hcl_owner_lost(struct hcl_device *dev, u32 portid)
{
	spin_lock(&dev->lock);
	if (!portid || dev->owner_portid != portid) {
		spin_unlock(&dev->lock);
		return;
	}
	WRITE_ONCE(dev->owner_portid, 0);
	/* Outstanding FETCHes died with the socket. */
	bitmap_zero(dev->fetching, dev->nr_blocks);
	spin_unlock(&dev->lock);

	pr_warn("%s: daemon gone; reads of missing blocks fail in %us\n",
		dev->disk->disk_name, dev->dead_timeout);
	mod_delayed_work(hcl_wq, &dev->dead_work,
			 (unsigned long)dev->dead_timeout * HZ);
}

static void hcl_fetch_work(struct work_struct *work)
{
	struct hcl_device *dev = container_of(to_delayed_work(work),
					      struct hcl_device, fetch_work);
	u64 blocks[HCL_FETCH_BATCH];
	struct hcl_cmd *cmd;
	u64 b;
	unsigned int n, i;
	u32 portid;
	int err;

	do {
		n = 0;
		spin_lock(&dev->lock);
		portid = dev->owner_portid;
		/* Every missing block of a parked request is asked for at once. */
		list_for_each_entry(cmd, &dev->parked, park_node) {
			for (b = cmd->wait_block; b <= cmd->last_block; b++) {
				if (!portid || n == HCL_FETCH_BATCH)
					goto send;
				if (test_bit(b, dev->present) ||
				    test_and_set_bit(b, dev->fetching))
					continue;
				blocks[n++] = b;
			}
		}
send:
		spin_unlock(&dev->lock);

		for (i = 0; i < n; i++) {
			err = hcl_netlink_send_fetch(dev, portid, blocks[i]);
			if (err)
				break;
			atomic64_inc(&dev->stats.fetches_sent);
		}
		if (i < n) {
			spin_lock(&dev->lock);
			for (; i < n; i++)
				clear_bit(blocks[i], dev->fetching);
			spin_unlock(&dev->lock);
			if (err == -ECONNREFUSED)
				hcl_owner_lost(dev, portid);
			else
				mod_delayed_work(hcl_wq, &dev->fetch_work,
						 HCL_FETCH_RETRY);
			return;
		}
	} while (n == HCL_FETCH_BATCH);
}

/* Takes every parked command for which @match is true off the parked list. */
static void hcl_unpark(struct hcl_device *dev, struct list_head *out,
		       bool (*match)(struct hcl_device *dev,
				     struct hcl_cmd *cmd, u64 block),
		       u64 block)
{
	struct hcl_cmd *cmd, *tmp;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry_safe(cmd, tmp, &dev->parked, park_node) {
		if (!match(dev, cmd, block))
			continue;
		list_move_tail(&cmd->park_node, out);
		cmd->parked = false;
		dev->nr_parked--;
	}
}

static bool hcl_match_all(struct hcl_device *dev, struct hcl_cmd *cmd, u64 block)
{
	return true;
}

static bool hcl_match_block(struct hcl_device *dev, struct hcl_cmd *cmd,
			    u64 block)
{
	return cmd->wait_block == block;
}

static bool hcl_match_present(struct hcl_device *dev, struct hcl_cmd *cmd,
			      u64 block)
{
	return test_bit(cmd->wait_block, dev->present);
}

/* Completes (@status) or re-runs (BLK_STS_OK) the commands on @list. */
static void hcl_resume(struct list_head *list, blk_status_t status)
{
	struct hcl_cmd *cmd, *tmp;

	list_for_each_entry_safe(cmd, tmp, list, park_node) {
		list_del_init(&cmd->park_node);
		if (status)
			hcl_cmd_end(cmd, status);
		else
			queue_work(hcl_wq, &cmd->work);
	}
}

static void hcl_dead_work(struct work_struct *work)
{
	struct hcl_device *dev = container_of(to_delayed_work(work),
					      struct hcl_device, dead_work);
	LIST_HEAD(failed);

	spin_lock(&dev->lock);
	if (dev->owner_portid) {
		spin_unlock(&dev->lock);
		return;
	}
	dev->owner_dead = true;
	hcl_unpark(dev, &failed, hcl_match_all, 0);
	spin_unlock(&dev->lock);

	if (!list_empty(&failed))
		pr_warn("%s: no daemon for %us: failing parked reads\n",
			dev->disk->disk_name, dev->dead_timeout);
	hcl_resume(&failed, BLK_STS_IOERR);
}

/*
 * @portid becomes the owner of @dev (DEV_CLAIM; the caller checked that it
 * serves the same image from the same cache file). Whatever was asked of the
 * old owner is forgotten and asked again of the new one, so reads parked
 * meanwhile complete normally: a FETCH is always safe to repeat, the image is
 * read-only and content-addressed.
 */
int hcl_dev_claim(struct hcl_device *dev, u32 portid, pid_t daemon_pid,
		  struct netlink_ext_ack *extack)
{
	u32 old_portid;

	spin_lock(&dev->lock);
	if (dev->state == HCL_REMOVING || dev->state == HCL_ADD_FAILED) {
		spin_unlock(&dev->lock);
		NL_SET_ERR_MSG(extack, "the device is being removed");
		return -ENODEV;
	}
	old_portid = dev->owner_portid;
	WRITE_ONCE(dev->owner_portid, portid);
	WRITE_ONCE(dev->daemon_pid, daemon_pid);
	dev->owner_dead = false;
	/* The owner claiming again (it lost FETCHes) is no take-over. */
	if (old_portid != portid)
		WRITE_ONCE(dev->claims, dev->claims + 1);
	bitmap_zero(dev->fetching, dev->nr_blocks);
	spin_unlock(&dev->lock);

	/* dead_work finds an owner and does nothing if it runs anyway. */
	cancel_delayed_work(&dev->dead_work);
	mod_delayed_work(hcl_wq, &dev->fetch_work, 0);
	/* A live old owner (an upgrade) is told, so that it exits. */
	if (old_portid && old_portid != portid)
		hcl_netlink_send_released(dev, old_portid,
					  HTTPCLOOP_RELEASED_CLAIMED);
	if (old_portid == portid)
		pr_info("%s: the daemon asks for every outstanding block again\n",
			dev->disk->disk_name);
	else
		pr_info("%s: taken over by a new daemon (pid %d)\n",
			dev->disk->disk_name, daemon_pid);
	return 0;
}

void hcl_dev_block_done(struct hcl_device *dev, u64 block, int error)
{
	LIST_HEAD(resume);

	spin_lock(&dev->lock);
	clear_bit(block, dev->fetching);
	if (!error && !__test_and_set_bit(block, dev->present))
		dev->present_count++;
	hcl_unpark(dev, &resume, hcl_match_block, block);
	spin_unlock(&dev->lock);

	atomic64_inc(error ? &dev->stats.blocks_failed :
			     &dev->stats.blocks_ready);
	hcl_resume(&resume, error ? BLK_STS_IOERR : BLK_STS_OK);
}

int hcl_dev_seed(struct hcl_device *dev, u64 first_block, const u8 *bits,
		 size_t len, struct netlink_ext_ack *extack)
{
	LIST_HEAD(resume);
	u64 nbits, i;

	if (first_block % 8 || first_block >= dev->nr_blocks ||
	    len > DIV_ROUND_UP_ULL(dev->nr_blocks - first_block, 8)) {
		NL_SET_ERR_MSG(extack, "bitmap does not fit the device");
		return -EINVAL;
	}
	nbits = min_t(u64, (u64)len * 8, dev->nr_blocks - first_block);

	spin_lock(&dev->lock);
	for (i = 0; i < nbits; i++) {
		if (!(bits[i / 8] & (1U << (i % 8))))
			continue;
		if (!__test_and_set_bit(first_block + i, dev->present))
			dev->present_count++;
	}
	hcl_unpark(dev, &resume, hcl_match_present, 0);
	spin_unlock(&dev->lock);

	hcl_resume(&resume, BLK_STS_OK);
	return 0;
}

static blk_status_t hcl_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct hcl_cmd *cmd = blk_mq_rq_to_pdu(rq);

	/* Read-only device: anything but a read is refused. */
	if (req_op(rq) != REQ_OP_READ)
		return BLK_STS_IOERR;

	blk_mq_start_request(rq);
	cmd->parked = false;
	cmd->status = BLK_STS_OK;
	queue_work(hcl_wq, &cmd->work);
	return BLK_STS_OK;
}

/*
 * Only a parked read can time out: the block it waits for did not arrive
 * within io_timeout. A read that is being served from the cache file is left
 * to finish, as loop leaves its backing file's reads: the read fills the
 * request's own pages, so failing the request before it returns would hand
 * those pages back while they are still being written. It is reported
 * instead, once per io_timeout, so that a hanging cache disk is not silent.
 */
static enum blk_eh_timer_return hcl_timeout(HCL_TIMEOUT_ARGS)
{
	struct hcl_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct hcl_device *dev = cmd->dev;

	spin_lock(&dev->lock);
	if (!cmd->parked) {
		spin_unlock(&dev->lock);
		pr_warn_ratelimited("%s: a read from the cache file has not finished within %us; still waiting for it\n",
				    dev->disk->disk_name, dev->io_timeout);
		return BLK_EH_RESET_TIMER;
	}
	list_del_init(&cmd->park_node);
	cmd->parked = false;
	dev->nr_parked--;
	/*
	 * The FETCH for this block went unanswered: forget it, so that the next
	 * read of the block asks again instead of waiting out another
	 * io_timeout for an answer that may never come. A duplicate FETCH is
	 * harmless: the daemon fetches a block once however often it is asked.
	 */
	clear_bit(cmd->wait_block, dev->fetching);
	spin_unlock(&dev->lock);

	pr_warn_ratelimited("%s: block %llu not fetched within %us\n",
			    dev->disk->disk_name, cmd->wait_block,
			    dev->io_timeout);
	hcl_cmd_end(cmd, BLK_STS_IOERR);
	return BLK_EH_DONE;
}

static int hcl_init_request(struct blk_mq_tag_set *set, struct request *rq,
			    unsigned int hctx_idx, HCL_NUMA_NODE_TYPE numa_node)
{
	struct hcl_cmd *cmd = blk_mq_rq_to_pdu(rq);

	INIT_WORK(&cmd->work, hcl_cmd_work);
	INIT_LIST_HEAD(&cmd->park_node);
	cmd->dev = set->driver_data;
	return 0;
}

static const struct blk_mq_ops hcl_mq_ops = {
	.queue_rq	= hcl_queue_rq,
	.complete	= hcl_complete_rq,
	.timeout	= hcl_timeout,
	.init_request	= hcl_init_request,
};

/*
 * Called with disk->open_mutex held, as is the state change to REMOVING. Opens
 * during add_disk() are the kernel's own partition scan: allowed, so that
 * partitions appear at attach (their reads wait for the daemon like any other).
 */
static int hcl_open(HCL_OPEN_ARGS)
{
	struct hcl_device *dev = HCL_OPEN_DISK->private_data;
	enum hcl_state state = READ_ONCE(dev->state);

	return state == HCL_LIVE || state == HCL_ADDING ? 0 : -ENXIO;
}

static const struct block_device_operations hcl_fops = {
	.owner	= THIS_MODULE,
	.open	= hcl_open,
};

static void hcl_add_work(struct work_struct *work)
{
	struct hcl_device *dev = container_of(work, struct hcl_device,
					      add_work);
	u32 portid;
	int err;

	err = device_add_disk(NULL, dev->disk, hcl_disk_attr_groups);
	spin_lock(&dev->lock);
	dev->state = err ? HCL_ADD_FAILED : HCL_LIVE;
	portid = dev->owner_portid;
	spin_unlock(&dev->lock);

	if (err)
		pr_err("%s: add_disk failed: %d\n", dev->disk->disk_name, err);
	if (portid)
		hcl_netlink_send_online(dev, portid, err);
}

struct hcl_device *hcl_dev_create(u64 image_size, u32 block_size,
				  struct file *cache_file, u32 owner_portid,
				  pid_t daemon_pid,
				  const struct hcl_timeouts *timeouts,
				  struct netlink_ext_ack *extack)
{
	struct hcl_device *dev;
	struct gendisk *disk;
	u64 nr_blocks = DIV_ROUND_UP_ULL(image_size, block_size);
	int err;

	if (nr_blocks == 0 || nr_blocks > HCL_MAX_BLOCKS) {
		NL_SET_ERR_MSG(extack, "image size out of range");
		return ERR_PTR(-EINVAL);
	}

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->image_size = image_size;
	dev->block_size = block_size;
	dev->block_shift = ilog2(block_size);
	dev->nr_blocks = nr_blocks;
	dev->owner_portid = owner_portid;
	dev->daemon_pid = daemon_pid;
	/* The module parameters are the defaults, read once (they may change). */
	dev->io_timeout = timeouts->io ?: READ_ONCE(hcl_io_timeout);
	dev->dead_timeout = timeouts->dead ?: READ_ONCE(hcl_dead_timeout);
	dev->state = HCL_ADDING;
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->parked);
	INIT_WORK(&dev->add_work, hcl_add_work);
	INIT_DELAYED_WORK(&dev->fetch_work, hcl_fetch_work);
	INIT_DELAYED_WORK(&dev->dead_work, hcl_dead_work);

	err = -ENOMEM;
	dev->present = kvcalloc(BITS_TO_LONGS(nr_blocks), sizeof(long),
				GFP_KERNEL);
	if (!dev->present)
		goto out_free_dev;
	dev->fetching = kvcalloc(BITS_TO_LONGS(nr_blocks), sizeof(long),
				 GFP_KERNEL);
	if (!dev->fetching)
		goto out_free_present;

	/* Reserve the index now, publish the device once it is complete. */
	mutex_lock(&hcl_idr_mutex);
	dev->index = idr_alloc(&hcl_idr, NULL, 0, hcl_max_devices, GFP_KERNEL);
	mutex_unlock(&hcl_idr_mutex);
	if (dev->index < 0) {
		err = dev->index == -ENOSPC ? -EBUSY : dev->index;
		NL_SET_ERR_MSG(extack, "no free device index (max_devices)");
		goto out_free_fetching;
	}

	dev->tag_set.ops = &hcl_mq_ops;
	dev->tag_set.nr_hw_queues = 1;
	dev->tag_set.queue_depth = HCL_QUEUE_DEPTH;
	dev->tag_set.numa_node = NUMA_NO_NODE;
	dev->tag_set.cmd_size = sizeof(struct hcl_cmd);
	/*
	 * No I/O scheduler by default, as loop: the requests are served from
	 * the page cache or wait for the network, and there is no seek to save
	 * or device queue to share. mq-deadline, which a single-queue device
	 * otherwise gets, cost more per request than the cache-file read: warm
	 * 4 KiB random reads at queue depth 16 ran at 0.29-0.57 x loop's rate
	 * under it and 0.86-1.25 x without (QEMU TCG, Debian 12's kernel).
	 */
	dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE |
			     BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	/* At most HTTPCLOOP_MAX_TIMEOUT * HZ: no overflow. */
	dev->tag_set.timeout = dev->io_timeout * HZ;
	dev->tag_set.driver_data = dev;
	err = blk_mq_alloc_tag_set(&dev->tag_set);
	if (err)
		goto out_free_index;

	disk = hcl_compat_alloc_disk(&dev->tag_set, block_size,
				     max_t(u32, block_size, HCL_MAX_IO_BYTES), dev);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out_free_tag_set;
	}
	disk->major = hcl_major;
	disk->first_minor = dev->index << HCL_PART_SHIFT;
	disk->minors = 1 << HCL_PART_SHIFT;
	disk->fops = &hcl_fops;
	disk->private_data = dev;
	snprintf(disk->disk_name, DISK_NAME_LEN, HCL_NAME "%d", dev->index);
	set_capacity(disk, DIV_ROUND_UP_ULL(image_size, SECTOR_SIZE));
	set_disk_ro(disk, true);
	dev->disk = disk;
	dev->cache_file = cache_file;

	mutex_lock(&hcl_idr_mutex);
	idr_replace(&hcl_idr, dev, dev->index);
	mutex_unlock(&hcl_idr_mutex);
	return dev;

out_free_tag_set:
	blk_mq_free_tag_set(&dev->tag_set);
out_free_index:
	mutex_lock(&hcl_idr_mutex);
	idr_remove(&hcl_idr, dev->index);
	mutex_unlock(&hcl_idr_mutex);
out_free_fetching:
	kvfree(dev->fetching);
out_free_present:
	kvfree(dev->present);
out_free_dev:
	kfree(dev);
	return ERR_PTR(err);
}

void hcl_dev_start(struct hcl_device *dev)
{
	dev->add_started = true;
	queue_work(hcl_wq, &dev->add_work);
}

struct hcl_device *hcl_dev_lookup(int index)
{
	struct hcl_device *dev;

	mutex_lock(&hcl_idr_mutex);
	dev = idr_find(&hcl_idr, index);
	mutex_unlock(&hcl_idr_mutex);
	return dev;
}

/* Tears down a device whose state is HCL_REMOVING; @added: add_disk() succeeded. */
static void hcl_dev_destroy(struct hcl_device *dev, bool added)
{
	LIST_HEAD(failed);

	/* Unpublish first: the netlink notifier no longer finds the device. */
	mutex_lock(&hcl_idr_mutex);
	idr_remove(&hcl_idr, dev->index);
	mutex_unlock(&hcl_idr_mutex);

	/* New misses fail at once (HCL_REMOVING); fail those already parked. */
	spin_lock(&dev->lock);
	hcl_unpark(dev, &failed, hcl_match_all, 0);
	spin_unlock(&dev->lock);
	hcl_resume(&failed, BLK_STS_IOERR);

	if (added)
		del_gendisk(dev->disk);
	/* No request is left, so nothing queues these works again. */
	cancel_delayed_work_sync(&dev->fetch_work);
	cancel_delayed_work_sync(&dev->dead_work);
	put_disk(dev->disk);
	blk_mq_free_tag_set(&dev->tag_set);
	fput(dev->cache_file);
	kvfree(dev->fetching);
	kvfree(dev->present);
	kfree(dev);
}

/*
 * Removes device @index unless it is open. Runs under the genetlink lock
 * (or at module exit), so the device cannot go away underneath.
 *
 * Under the genetlink lock (@wait false) it never waits for I/O: add_disk()'s
 * partition scan and an open or BLKRRPART holding open_mutex may each wait for
 * a block, which only the daemon's BLOCK_READY, a command needing that same
 * lock, can bring. Both make the removal fail with EBUSY instead (try again).
 * At module exit (@wait true) nothing can be waiting for the daemon any more.
 */
int hcl_dev_remove(int index, struct netlink_ext_ack *extack, bool wait)
{
	struct hcl_device *dev = hcl_dev_lookup(index);
	u32 owner;
	bool added;

	if (!dev) {
		NL_SET_ERR_MSG(extack, "no such httpcloop device");
		return -ENODEV;
	}
	if (!wait && dev->add_started && READ_ONCE(dev->state) == HCL_ADDING) {
		NL_SET_ERR_MSG(extack,
			       "the device is still being added (its partition table is being read); try again");
		return -EBUSY;
	}
	/* Now at most the DEV_ONLINE message is left to send, unless @wait. */
	flush_work(&dev->add_work);

	added = dev->state == HCL_LIVE;
	if (added) {
		if (wait) {
			mutex_lock(&dev->disk->open_mutex);
		} else if (!mutex_trylock(&dev->disk->open_mutex)) {
			NL_SET_ERR_MSG(extack,
				       "device is busy (being opened, or its partitions read); try again");
			return -EBUSY;
		}
		if (disk_openers(dev->disk)) {
			mutex_unlock(&dev->disk->open_mutex);
			NL_SET_ERR_MSG(extack,
				       "device is in use (mounted or open)");
			return -EBUSY;
		}
	}
	spin_lock(&dev->lock);
	WRITE_ONCE(dev->state, HCL_REMOVING);
	owner = dev->owner_portid;
	spin_unlock(&dev->lock);
	if (added)
		mutex_unlock(&dev->disk->open_mutex);

	/* The owner is told, so that it exits rather than serve nothing. */
	if (owner)
		hcl_netlink_send_released(dev, owner, HTTPCLOOP_RELEASED_REMOVED);
	hcl_dev_destroy(dev, added);
	return 0;
}

/* Module exit: no device can be open, since an open one pins the module. */
void hcl_dev_remove_all(void)
{
	struct hcl_device *dev;
	int index;

	mutex_lock(&hcl_idr_mutex);
	idr_for_each_entry(&hcl_idr, dev, index) {
		mutex_unlock(&hcl_idr_mutex);
		if (dev)
			WARN_ON(hcl_dev_remove(index, NULL, true));
		mutex_lock(&hcl_idr_mutex);
	}
	mutex_unlock(&hcl_idr_mutex);
}

void hcl_dev_owner_released(u32 portid)
{
	struct hcl_device *dev;
	int index;

	mutex_lock(&hcl_idr_mutex);
	idr_for_each_entry(&hcl_idr, dev, index)
		if (dev)
			hcl_owner_lost(dev, portid);
	mutex_unlock(&hcl_idr_mutex);
}

int hcl_dev_init(void)
{
	hcl_wq = alloc_workqueue(HCL_NAME, WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!hcl_wq)
		return -ENOMEM;
	hcl_major = register_blkdev(0, HCL_NAME);
	if (hcl_major < 0) {
		destroy_workqueue(hcl_wq);
		return hcl_major;
	}
	return 0;
}

void hcl_dev_exit(void)
{
	unregister_blkdev(hcl_major, HCL_NAME);
	destroy_workqueue(hcl_wq);
	idr_destroy(&hcl_idr);
}
