// SPDX-License-Identifier: GPL-2.0
/* A single-queue tag set can ask for no I/O scheduler by default (loop does). */
#include <linux/blk-mq.h>

unsigned int probe(void);
unsigned int probe(void)
{
	return BLK_MQ_F_NO_SCHED_BY_DEFAULT;
}
