// SPDX-License-Identifier: GPL-2.0
/*
 * httpcloop: block devices backed by disk images published over HTTP.
 *
 * The daemon (httpcloop attach) downloads, verifies and decompresses blocks
 * into a local cache file; this module serves reads of cached blocks from that
 * file and parks reads of missing ones until the daemon has fetched them.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include <linux/httpcloop.h>

#include "httpcloop.h"

#define HCL_VERSION "0.1.0"

/* Both timeouts: 1 s .. HTTPCLOOP_MAX_TIMEOUT, so that seconds * HZ cannot overflow. */
static int hcl_set_timeout(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, HTTPCLOOP_MAX_TIMEOUT);
}

static const struct kernel_param_ops hcl_timeout_ops = {
	.set	= hcl_set_timeout,
	.get	= param_get_uint,
};

unsigned int hcl_dead_timeout = 30;
module_param_cb(dead_timeout, &hcl_timeout_ops, &hcl_dead_timeout, 0644);
__MODULE_PARM_TYPE(dead_timeout, "uint");
MODULE_PARM_DESC(dead_timeout,
		 "Seconds that reads of missing blocks wait for a daemon after the daemon's socket closed, then fail with EIO, for devices added afterwards that set none (1-86400). Default: 30");

unsigned int hcl_io_timeout = 300;
module_param_cb(io_timeout, &hcl_timeout_ops, &hcl_io_timeout, 0644);
__MODULE_PARM_TYPE(io_timeout, "uint");
MODULE_PARM_DESC(io_timeout,
		 "Seconds a read may wait for a missing block before it fails with EIO (longer than the daemon's whole fetch budget), for devices added afterwards that set none (1-86400). Default: 300");

unsigned int hcl_max_devices = 64;
module_param_named(max_devices, hcl_max_devices, uint, 0444);
MODULE_PARM_DESC(max_devices, "Most httpcloop devices at once. Default: 64");

static int __init hcl_init(void)
{
	int err;

	if (hcl_max_devices == 0 || hcl_max_devices > (1U << (MINORBITS - HCL_PART_SHIFT)))
		return -EINVAL;
	err = hcl_dev_init();
	if (err)
		return err;
	err = hcl_netlink_init();
	if (err)
		goto out_dev_exit;
	pr_info("httpcloop " HCL_VERSION " loaded\n");
	return 0;

out_dev_exit:
	hcl_dev_exit();
	return err;
}

static void __exit hcl_exit(void)
{
	hcl_netlink_exit();
	hcl_dev_remove_all();
	hcl_dev_exit();
}

module_init(hcl_init);
module_exit(hcl_exit);

MODULE_DESCRIPTION("Block devices backed by disk images published over HTTP");
MODULE_AUTHOR("The httpcloop developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(HCL_VERSION);
MODULE_ALIAS_GENL_FAMILY(HTTPCLOOP_GENL_NAME);
