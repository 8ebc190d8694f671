// SPDX-License-Identifier: GPL-2.0
/* 6.0: genl_family.resv_start_op makes new commands strictly validated. */
#include <net/genetlink.h>

struct genl_family probe_family = {
	.resv_start_op = 1,
};
