// SPDX-License-Identifier: GPL-2.0
/* 5.19: disk_openers() counts the openers of a whole disk. */
#include <linux/blkdev.h>

unsigned int probe(struct gendisk *disk);
unsigned int probe(struct gendisk *disk)
{
	return disk_openers(disk);
}
