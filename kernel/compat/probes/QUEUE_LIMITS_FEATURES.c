// SPDX-License-Identifier: GPL-2.0
/* 6.11: queue feature flags (rotational, add_random, ...) live in queue_limits. */
#include <linux/blkdev.h>

unsigned int probe(void);
unsigned int probe(void)
{
	struct queue_limits lim = { .features = 0 };

	return lim.features & BLK_FEAT_ROTATIONAL;
}
