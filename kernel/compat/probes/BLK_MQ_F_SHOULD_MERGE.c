// SPDX-License-Identifier: GPL-2.0
/* Before 6.14: a tag set asks for bio merging with BLK_MQ_F_SHOULD_MERGE. */
#include <linux/blk-mq.h>

unsigned int probe(void);
unsigned int probe(void)
{
	return BLK_MQ_F_SHOULD_MERGE;
}
