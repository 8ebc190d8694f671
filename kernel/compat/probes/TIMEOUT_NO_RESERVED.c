// SPDX-License-Identifier: GPL-2.0
/* 5.19: blk_mq_ops.timeout lost its "reserved" argument. */
#include <linux/blk-mq.h>

static enum blk_eh_timer_return probe_timeout(struct request *rq)
{
	return BLK_EH_DONE;
}

const struct blk_mq_ops probe_ops = {
	.timeout = probe_timeout,
};
