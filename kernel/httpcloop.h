/* SPDX-License-Identifier: GPL-2.0 */
/*
 * httpcloop: internal definitions shared by the module's source files.
 */
#ifndef HTTPCLOOP_H
#define HTTPCLOOP_H

#include <linux/blk-mq.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include <linux/httpcloop.h>

#define HCL_NAME "httpcloop"
#define HCL_PART_SHIFT 4	/* 15 partitions per device */

/* Module parameters (main.c). */
extern unsigned int hcl_dead_timeout;
extern unsigned int hcl_io_timeout;
extern unsigned int hcl_max_devices;

enum hcl_state {
	HCL_ADDING,		/* allocated, add_disk() not done yet */
	HCL_LIVE,		/* /dev/httpcloopN exists */
	HCL_ADD_FAILED,		/* add_disk() failed; waits for DEV_REMOVE */
	HCL_REMOVING,		/* no new opens, misses fail at once */
};

struct hcl_stats {
	atomic64_t cache_reads;		/* requests served from the cache file */
	atomic64_t misses;		/* requests that had to wait for a block */
	atomic64_t fetches_sent;	/* FETCH messages sent */
	atomic64_t blocks_ready;	/* BLOCK_READY received */
	atomic64_t blocks_failed;	/* BLOCK_FAILED received */
	atomic64_t io_errors;		/* requests completed with an error */
};

struct hcl_device {
	int index;
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct file *cache_file;

	u64 image_size;
	u32 block_size;
	unsigned int block_shift;
	u64 nr_blocks;

	/*
	 * lock protects the bitmaps, the parked list, the owner fields and the
	 * state. A present bit is set only when the daemon says the block's
	 * plaintext is in the cache file, and never cleared (no eviction yet).
	 */
	spinlock_t lock;
	unsigned long *present;
	unsigned long *fetching;	/* a FETCH is outstanding */
	u64 present_count;
	struct list_head parked;	/* struct hcl_cmd waiting for a block */
	unsigned int nr_parked;
	enum hcl_state state;
	u32 owner_portid;		/* 0 once the owner socket is gone */
	pid_t daemon_pid;
	unsigned int io_timeout;	/* seconds, fixed at DEV_ADD */
	unsigned int dead_timeout;	/* seconds, fixed at DEV_ADD */
	bool owner_dead;		/* dead_timeout expired with no owner */
	unsigned int claims;		/* DEV_CLAIMs accepted (new owners) */

	/* Set at DEV_ADD, never changed: what a DEV_CLAIM must name. */
	bool has_image_id;
	u8 image_id[HTTPCLOOP_IMAGE_ID_LEN];

	struct work_struct add_work;	/* add_disk() outside the netlink call */
	bool add_started;		/* add_work queued (under genl_mutex) */
	struct delayed_work fetch_work;	/* sends FETCH for parked blocks */
	struct delayed_work dead_work;	/* fails parked reads of a dead owner */
	struct hcl_stats stats;
};

/* Per-request data, allocated by blk-mq after each struct request. */
struct hcl_cmd {
	struct work_struct work;
	struct hcl_device *dev;
	struct list_head park_node;
	u64 wait_block;			/* first missing block of a parked request */
	u64 last_block;			/* last block the request touches */
	bool parked;
	blk_status_t status;
};

/* dev.c */
int hcl_dev_init(void);
void hcl_dev_exit(void);
/* Per-device timeouts in seconds (DEV_ADD); 0: the module parameter's. */
struct hcl_timeouts {
	unsigned int io;
	unsigned int dead;
};

struct hcl_device *hcl_dev_create(u64 image_size, u32 block_size,
				  struct file *cache_file, u32 owner_portid,
				  pid_t daemon_pid,
				  const struct hcl_timeouts *timeouts,
				  struct netlink_ext_ack *extack);
void hcl_dev_start(struct hcl_device *dev);
int hcl_dev_remove(int index, struct netlink_ext_ack *extack, bool wait);
void hcl_dev_remove_all(void);
struct hcl_device *hcl_dev_lookup(int index);
int hcl_dev_seed(struct hcl_device *dev, u64 first_block, const u8 *bits,
		 size_t len, struct netlink_ext_ack *extack);
void hcl_dev_block_done(struct hcl_device *dev, u64 block, int error);
void hcl_dev_owner_released(u32 portid);
int hcl_dev_claim(struct hcl_device *dev, u32 portid, pid_t daemon_pid,
		  struct netlink_ext_ack *extack);

/* netlink.c */
int hcl_netlink_init(void);
void hcl_netlink_exit(void);
int hcl_netlink_send_fetch(struct hcl_device *dev, u32 portid, u64 block);
void hcl_netlink_send_online(struct hcl_device *dev, u32 portid, int error);
void hcl_netlink_send_released(struct hcl_device *dev, u32 portid, u32 reason);

/* sysfs.c */
extern const struct attribute_group *hcl_disk_attr_groups[];

#endif /* HTTPCLOOP_H */
