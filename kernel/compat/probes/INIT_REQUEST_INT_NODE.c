// SPDX-License-Identifier: GPL-2.0
/*
 * After 6.12 (seen in Debian's 7.3): blk_mq_ops.init_request takes the NUMA
 * node as an int (NUMA_NO_NODE is -1), no longer as an unsigned int.
 */
#include <linux/blk-mq.h>

static int probe_init_request(struct blk_mq_tag_set *set, struct request *rq,
			      unsigned int hctx_idx, int numa_node)
{
	return 0;
}

const struct blk_mq_ops probe_ops = {
	.init_request = probe_init_request,
};
