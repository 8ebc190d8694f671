/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * httpcloop: block devices backed by disk images published over HTTP.
 *
 * Generic netlink interface between the httpcloop kernel module and the
 * httpcloop daemon. The daemon adds a device and hands the kernel a file
 * descriptor of a local cache file; the kernel serves reads of present blocks
 * from that file and asks the daemon for missing blocks with FETCH. No block
 * data ever crosses netlink.
 *
 * The protocol grows by adding attributes and commands at the end; existing
 * numbers are frozen. Every command needs CAP_NET_ADMIN; DEV_ADD, DEV_REMOVE
 * and DEV_CLAIM also need CAP_SYS_ADMIN (EPERM), both in the initial user
 * namespace. The family exists in the initial network namespace only.
 *
 * Device lifecycle:
 *
 *   daemon                                    kernel
 *   DEV_ADD {IMAGE_SIZE, BLOCK_SIZE,   --->   allocates the device, takes a
 *            CACHE_FD, [BITMAP],               reference on the cache file;
 *            [DAEMON_PID], [FEATURES],         the sending socket becomes the
 *            [IMAGE_ID]}
 *                                              device's owner
 *                                     <---   reply DEV_ADD {INDEX, FEATURES}
 *   DEV_SEED {INDEX, BITMAP_OFFSET,    --->   more present bits (large images)
 *             BITMAP}
 *                                     <---   DEV_ONLINE {INDEX, [ERRNO]} once
 *                                             /dev/httpcloopINDEX exists (the
 *                                             kernel may already send FETCH
 *                                             before this, for the partition
 *                                             scan)
 *                                     <---   FETCH {INDEX, BLOCK}, at most one
 *                                             outstanding per block
 *   BLOCK_READY {INDEX, BLOCK}         --->   the block's plaintext is in the
 *                                              cache file: parked reads go on
 *   BLOCK_FAILED {INDEX, BLOCK, ERRNO} --->   parked reads of the block fail
 *                                              with EIO; a later read asks again
 *   DEV_REMOVE {INDEX}                 --->   refused with EBUSY while the
 *                                              device is open (mounted), while
 *                                              add_disk() still reads the
 *                                              partition table, and while an
 *                                              open or a partition rescan is
 *                                              under way (try again): no
 *                                              command waits for I/O
 *
 * Only the owner socket may answer FETCH (BLOCK_READY/BLOCK_FAILED/DEV_SEED).
 * When the owner socket closes, reads of missing blocks wait for the
 * dead_timeout module parameter and then fail with EIO; reads of present
 * blocks keep working.
 *
 * Take-over (HTTPCLOOP_F_CLAIM): a new daemon becomes the owner of a device
 * whose daemon died or is being replaced:
 *   DEV_CLAIM {INDEX, IMAGE_ID,        --->   refused unless the device was
 *              CACHE_FD, [DAEMON_PID]}         added with the same IMAGE_ID
 *                                              (EINVAL; EOPNOTSUPP if it had
 *                                              none) and CACHE_FD is the same
 *                                              file (same inode; EINVAL);
 *                                              ENODEV for no such device
 *                                     <---   reply DEV_CLAIM {INDEX, FEATURES};
 *                                             the sender is the owner now,
 *                                             and every block parked reads
 *                                             wait for is asked for again
 *                                             with FETCH (a read parked
 *                                             before the claim completes
 *                                             normally)
 * The owner may claim its own device again: every outstanding FETCH is sent
 * anew (for a daemon whose socket overflowed, ENOBUFS, and lost some); this
 * is not counted as a take-over in sysfs claims.
 * A claim may come before dead_timeout ends (no read fails) or after (reads
 * failed meanwhile; new reads work again), or while the old owner lives (an
 * upgrade: the old owner's answers are refused from then on).
 *
 * Privileges and errors, per command (every command: EPERM without
 * CAP_NET_ADMIN; EINVAL for a missing or malformed attribute):
 *   DEV_ADD      CAP_SYS_ADMIN (EPERM). EBADF: CACHE_FD not open; EINVAL: cache
 *                file not regular, not readable or shorter than IMAGE_SIZE, block
 *                size not a power of two, image size 0 or too large, bad BITMAP;
 *                ERANGE: block size or a timeout out of range; EBUSY:
 *                max_devices reached; ENOMEM.
 *   DEV_SEED     the owner (EPERM). ENODEV: no such device; EINVAL: offset not a
 *                multiple of 8, or bits beyond the image.
 *   BLOCK_READY, BLOCK_FAILED
 *                the owner (EPERM). ENODEV: no such device; ERANGE: block beyond
 *                the image. A block never asked for is accepted (readahead).
 *   DEV_REMOVE   CAP_SYS_ADMIN (EPERM). ENODEV: no such device; EBUSY: open,
 *                being added, or an open/partition rescan under way.
 *   DEV_CLAIM    CAP_SYS_ADMIN (EPERM). ENODEV: no such device or being removed;
 *                EOPNOTSUPP: added without IMAGE_ID; EINVAL: another image id or
 *                another cache file; EBADF: CACHE_FD not open.
 *
 * Release (HTTPCLOOP_F_RELEASED): the owner is told when it stops being one,
 * so that it can exit instead of serving nothing:
 *                                     <---   DEV_RELEASED {INDEX, REASON} to
 *                                             the former owner, after the
 *                                             device was removed (by anyone,
 *                                             REMOVED) or claimed by another
 *                                             socket (CLAIMED)
 */
#ifndef _UAPI_LINUX_HTTPCLOOP_H
#define _UAPI_LINUX_HTTPCLOOP_H

#define HTTPCLOOP_GENL_NAME	"httpcloop"
#define HTTPCLOOP_GENL_VERSION	1

/* Image block sizes: a power of two in this range. */
#define HTTPCLOOP_MIN_BLOCK_SIZE	(64 * 1024)
#define HTTPCLOOP_MAX_BLOCK_SIZE	(4 * 1024 * 1024)

/* Largest BITMAP attribute, in bytes; larger images use DEV_SEED. */
#define HTTPCLOOP_MAX_BITMAP_CHUNK	32768

/*
 * Feature bits, exchanged in DEV_ADD: the daemon sends what it understands,
 * the kernel replies with what both understand.
 */
#define HTTPCLOOP_F_SEED	(1ULL << 0)	/* DEV_SEED */
#define HTTPCLOOP_F_CLAIM	(1ULL << 1)	/* DEV_CLAIM, IMAGE_ID */
#define HTTPCLOOP_F_RELEASED	(1ULL << 2)	/* DEV_RELEASED */
#define HTTPCLOOP_F_TIMEOUTS	(1ULL << 3)	/* IO_TIMEOUT, DEAD_TIMEOUT */
#define HTTPCLOOP_F_ALL		(HTTPCLOOP_F_SEED | HTTPCLOOP_F_CLAIM | \
				 HTTPCLOOP_F_RELEASED | HTTPCLOOP_F_TIMEOUTS)

/* IO_TIMEOUT and DEAD_TIMEOUT: 1 s up to a day (ERANGE otherwise). */
#define HTTPCLOOP_MAX_TIMEOUT	(24 * 3600)

/* HTTPCLOOP_ATTR_REASON of DEV_RELEASED. */
enum httpcloop_release_reason {
	HTTPCLOOP_RELEASED_REMOVED = 1,	/* the device is gone */
	HTTPCLOOP_RELEASED_CLAIMED = 2,	/* another daemon took it over */
};

/* Length of an image id: the SHA-256 of the image's manifest. */
#define HTTPCLOOP_IMAGE_ID_LEN	32

enum httpcloop_attr {
	HTTPCLOOP_ATTR_UNSPEC,
	HTTPCLOOP_ATTR_PAD,		/* alignment padding for u64 attributes */
	HTTPCLOOP_ATTR_INDEX,		/* u32: N of /dev/httpcloopN */
	HTTPCLOOP_ATTR_IMAGE_SIZE,	/* u64: bytes */
	HTTPCLOOP_ATTR_BLOCK_SIZE,	/* u32: bytes, power of two */
	HTTPCLOOP_ATTR_CACHE_FD,	/* u32: fd of the plaintext cache file,
					 * open for reading, at least IMAGE_SIZE
					 * bytes long
					 */
	HTTPCLOOP_ATTR_BITMAP,		/* binary: present bits, bit i of the
					 * chunk is bit (i % 8) of byte (i / 8)
					 */
	HTTPCLOOP_ATTR_BITMAP_OFFSET,	/* u64: block of the BITMAP's bit 0,
					 * a multiple of 8
					 */
	HTTPCLOOP_ATTR_BLOCK,		/* u64: block index */
	HTTPCLOOP_ATTR_ERRNO,		/* u32: positive errno */
	HTTPCLOOP_ATTR_FEATURES,	/* u64: HTTPCLOOP_F_* */
	HTTPCLOOP_ATTR_DAEMON_PID,	/* u32: informational, shown in sysfs */
	HTTPCLOOP_ATTR_IMAGE_ID,	/* binary, HTTPCLOOP_IMAGE_ID_LEN: what
					 * a DEV_CLAIM must name (DEV_ADD)
					 */
	HTTPCLOOP_ATTR_REASON,		/* u32: enum httpcloop_release_reason */
	HTTPCLOOP_ATTR_IO_TIMEOUT,	/* u32: seconds a read may wait for a
					 * missing block (DEV_ADD; default: the
					 * io_timeout module parameter)
					 */
	HTTPCLOOP_ATTR_DEAD_TIMEOUT,	/* u32: seconds reads of missing blocks
					 * wait for a new owner once the owner's
					 * socket closed (DEV_ADD; default: the
					 * dead_timeout module parameter)
					 */
	__HTTPCLOOP_ATTR_MAX,
};

#define HTTPCLOOP_ATTR_MAX (__HTTPCLOOP_ATTR_MAX - 1)

enum httpcloop_cmd {
	HTTPCLOOP_CMD_UNSPEC,
	HTTPCLOOP_CMD_DEV_ADD,
	HTTPCLOOP_CMD_DEV_REMOVE,
	HTTPCLOOP_CMD_DEV_SEED,
	HTTPCLOOP_CMD_DEV_ONLINE,	/* kernel to owner */
	HTTPCLOOP_CMD_FETCH,		/* kernel to owner */
	HTTPCLOOP_CMD_BLOCK_READY,
	HTTPCLOOP_CMD_BLOCK_FAILED,
	HTTPCLOOP_CMD_DEV_CLAIM,
	HTTPCLOOP_CMD_DEV_RELEASED,	/* kernel to former owner */
	__HTTPCLOOP_CMD_MAX,
};

#define HTTPCLOOP_CMD_MAX (__HTTPCLOOP_CMD_MAX - 1)

#endif /* _UAPI_LINUX_HTTPCLOOP_H */
