// SPDX-License-Identifier: GPL-2.0
/*
 * httpcloop generic netlink family: the control channel to the daemon.
 * See include/uapi/linux/httpcloop.h for the protocol.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/netlink.h>
#include <net/genetlink.h>

#include <linux/httpcloop.h>

#include "compat.h"
#include "httpcloop.h"

static struct genl_family hcl_genl_family;

static struct netlink_range_validation hcl_block_size_range = {
	.min = HTTPCLOOP_MIN_BLOCK_SIZE,
	.max = HTTPCLOOP_MAX_BLOCK_SIZE,
};

static struct netlink_range_validation hcl_timeout_range = {
	.min = 1,
	.max = HTTPCLOOP_MAX_TIMEOUT,
};

static const struct nla_policy hcl_dev_add_policy[HTTPCLOOP_ATTR_MAX + 1] = {
	[HTTPCLOOP_ATTR_IMAGE_SIZE]	= { .type = NLA_U64 },
	[HTTPCLOOP_ATTR_BLOCK_SIZE]	= NLA_POLICY_FULL_RANGE(NLA_U32,
						&hcl_block_size_range),
	[HTTPCLOOP_ATTR_CACHE_FD]	= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_BITMAP]		= { .type = NLA_BINARY,
					    .len = HTTPCLOOP_MAX_BITMAP_CHUNK },
	[HTTPCLOOP_ATTR_FEATURES]	= { .type = NLA_U64 },
	[HTTPCLOOP_ATTR_DAEMON_PID]	= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_IMAGE_ID]	= NLA_POLICY_EXACT_LEN(HTTPCLOOP_IMAGE_ID_LEN),
	[HTTPCLOOP_ATTR_IO_TIMEOUT]	= NLA_POLICY_FULL_RANGE(NLA_U32,
						&hcl_timeout_range),
	[HTTPCLOOP_ATTR_DEAD_TIMEOUT]	= NLA_POLICY_FULL_RANGE(NLA_U32,
						&hcl_timeout_range),
};

static const struct nla_policy hcl_dev_claim_policy[HTTPCLOOP_ATTR_MAX + 1] = {
	[HTTPCLOOP_ATTR_INDEX]		= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_IMAGE_ID]	= NLA_POLICY_EXACT_LEN(HTTPCLOOP_IMAGE_ID_LEN),
	[HTTPCLOOP_ATTR_CACHE_FD]	= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_DAEMON_PID]	= { .type = NLA_U32 },
};

static const struct nla_policy hcl_dev_remove_policy[HTTPCLOOP_ATTR_MAX + 1] = {
	[HTTPCLOOP_ATTR_INDEX]		= { .type = NLA_U32 },
};

static const struct nla_policy hcl_dev_seed_policy[HTTPCLOOP_ATTR_MAX + 1] = {
	[HTTPCLOOP_ATTR_INDEX]		= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_BITMAP_OFFSET]	= { .type = NLA_U64 },
	[HTTPCLOOP_ATTR_BITMAP]		= { .type = NLA_BINARY,
					    .len = HTTPCLOOP_MAX_BITMAP_CHUNK },
};

static const struct nla_policy hcl_block_policy[HTTPCLOOP_ATTR_MAX + 1] = {
	[HTTPCLOOP_ATTR_INDEX]		= { .type = NLA_U32 },
	[HTTPCLOOP_ATTR_BLOCK]		= { .type = NLA_U64 },
	[HTTPCLOOP_ATTR_ERRNO]		= { .type = NLA_U32 },
};

/* Opens the cache file passed by the daemon and checks it can back the image. */
static struct file *hcl_get_cache_file(u32 fd, u64 image_size,
				       struct netlink_ext_ack *extack)
{
	struct file *file = fget(fd);

	if (!file) {
		NL_SET_ERR_MSG(extack, "CACHE_FD is not an open file");
		return ERR_PTR(-EBADF);
	}
	if (!S_ISREG(file_inode(file)->i_mode) ||
	    !(file->f_mode & FMODE_READ) || !file->f_op->read_iter) {
		NL_SET_ERR_MSG(extack, "cache file must be a regular file open for reading");
		goto out_put;
	}
	if (i_size_read(file_inode(file)) < image_size) {
		NL_SET_ERR_MSG(extack, "cache file is shorter than the image");
		goto out_put;
	}
	return file;

out_put:
	fput(file);
	return ERR_PTR(-EINVAL);
}

/*
 * Creating, removing and taking over block devices needs CAP_SYS_ADMIN (as
 * nbd's netlink does), on top of the CAP_NET_ADMIN that GENL_ADMIN_PERM checks
 * for every command: a device pins kernel memory and its cache file, and its
 * removal ends another process's service. Both are checked in the initial user
 * namespace; the family is not visible from other network namespaces anyway.
 */
static int hcl_nl_check_sys_admin(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return 0;
	NL_SET_ERR_MSG(info->extack, "needs CAP_SYS_ADMIN");
	return -EPERM;
}

static int hcl_nl_dev_add(struct sk_buff *skb, struct genl_info *info)
{
	struct hcl_device *dev;
	struct file *file;
	struct sk_buff *reply;
	struct nlattr *bitmap = info->attrs[HTTPCLOOP_ATTR_BITMAP];
	struct hcl_timeouts timeouts = {};
	u64 features = 0;
	u64 image_size;
	u32 block_size;
	void *hdr;
	int err;

	err = hcl_nl_check_sys_admin(skb, info);
	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_IMAGE_SIZE) ||
	    GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_BLOCK_SIZE) ||
	    GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_CACHE_FD))
		return -EINVAL;
	image_size = nla_get_u64(info->attrs[HTTPCLOOP_ATTR_IMAGE_SIZE]);
	block_size = nla_get_u32(info->attrs[HTTPCLOOP_ATTR_BLOCK_SIZE]);
	if (!is_power_of_2(block_size)) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[HTTPCLOOP_ATTR_BLOCK_SIZE],
				    "block size must be a power of two");
		return -EINVAL;
	}
	if (info->attrs[HTTPCLOOP_ATTR_FEATURES])
		features = nla_get_u64(info->attrs[HTTPCLOOP_ATTR_FEATURES]);
	/* In range (the policy says so), or 0 for the module parameter's. */
	if (info->attrs[HTTPCLOOP_ATTR_IO_TIMEOUT])
		timeouts.io = nla_get_u32(info->attrs[HTTPCLOOP_ATTR_IO_TIMEOUT]);
	if (info->attrs[HTTPCLOOP_ATTR_DEAD_TIMEOUT])
		timeouts.dead = nla_get_u32(info->attrs[HTTPCLOOP_ATTR_DEAD_TIMEOUT]);

	file = hcl_get_cache_file(nla_get_u32(info->attrs[HTTPCLOOP_ATTR_CACHE_FD]),
				  image_size, info->extack);
	if (IS_ERR(file))
		return PTR_ERR(file);

	dev = hcl_dev_create(image_size, block_size, file, info->snd_portid,
			     info->attrs[HTTPCLOOP_ATTR_DAEMON_PID] ?
			     nla_get_u32(info->attrs[HTTPCLOOP_ATTR_DAEMON_PID]) : 0,
			     &timeouts, info->extack);
	if (IS_ERR(dev)) {
		fput(file);
		return PTR_ERR(dev);
	}
	/* From here on, the device owns the file reference. */
	if (info->attrs[HTTPCLOOP_ATTR_IMAGE_ID]) {
		/* No claim can look before this: commands run one at a time. */
		memcpy(dev->image_id, nla_data(info->attrs[HTTPCLOOP_ATTR_IMAGE_ID]),
		       HTTPCLOOP_IMAGE_ID_LEN);
		dev->has_image_id = true;
	}

	if (bitmap) {
		err = hcl_dev_seed(dev, 0, nla_data(bitmap), nla_len(bitmap),
				   info->extack);
		if (err)
			goto out_remove;
	}

	err = -ENOMEM;
	reply = genlmsg_new(nla_total_size(sizeof(u32)) +
			    nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!reply)
		goto out_remove;
	hdr = genlmsg_put_reply(reply, info, &hcl_genl_family, 0,
				HTTPCLOOP_CMD_DEV_ADD);
	if (!hdr ||
	    nla_put_u32(reply, HTTPCLOOP_ATTR_INDEX, dev->index) ||
	    nla_put_u64_64bit(reply, HTTPCLOOP_ATTR_FEATURES,
			      features & HTTPCLOOP_F_ALL, HTTPCLOOP_ATTR_PAD)) {
		nlmsg_free(reply);
		goto out_remove;
	}
	genlmsg_end(reply, hdr);
	err = genlmsg_reply(reply, info);
	if (err)
		goto out_remove;

	hcl_dev_start(dev);
	return 0;

out_remove:
	hcl_dev_remove(dev->index, NULL, false);
	return err;
}

static int hcl_nl_dev_remove(struct sk_buff *skb, struct genl_info *info)
{
	int err = hcl_nl_check_sys_admin(skb, info);

	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_INDEX))
		return -EINVAL;
	return hcl_dev_remove(nla_get_u32(info->attrs[HTTPCLOOP_ATTR_INDEX]),
			      info->extack, false);
}

/*
 * DEV_CLAIM: the sender takes the device over, if it proves it serves the same
 * image (IMAGE_ID) from the same cache file (CACHE_FD, same inode).
 */
static int hcl_nl_dev_claim(struct sk_buff *skb, struct genl_info *info)
{
	struct hcl_device *dev;
	struct sk_buff *reply;
	struct file *file;
	bool same_file;
	void *hdr;
	int err;

	err = hcl_nl_check_sys_admin(skb, info);
	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_INDEX) ||
	    GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_IMAGE_ID) ||
	    GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_CACHE_FD))
		return -EINVAL;
	dev = hcl_dev_lookup(nla_get_u32(info->attrs[HTTPCLOOP_ATTR_INDEX]));
	if (!dev) {
		NL_SET_ERR_MSG(info->extack, "no such httpcloop device");
		return -ENODEV;
	}
	if (!dev->has_image_id) {
		NL_SET_ERR_MSG(info->extack,
			       "the device was added without an image id and cannot be taken over");
		return -EOPNOTSUPP;
	}
	if (memcmp(dev->image_id, nla_data(info->attrs[HTTPCLOOP_ATTR_IMAGE_ID]),
		   HTTPCLOOP_IMAGE_ID_LEN)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HTTPCLOOP_ATTR_IMAGE_ID],
				    "the device serves another image");
		return -EINVAL;
	}
	file = fget(nla_get_u32(info->attrs[HTTPCLOOP_ATTR_CACHE_FD]));
	if (!file) {
		NL_SET_ERR_MSG(info->extack, "CACHE_FD is not an open file");
		return -EBADF;
	}
	same_file = file_inode(file) == file_inode(dev->cache_file);
	fput(file);
	if (!same_file) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HTTPCLOOP_ATTR_CACHE_FD],
				    "the device reads another cache file");
		return -EINVAL;
	}

	reply = genlmsg_new(nla_total_size(sizeof(u32)) +
			    nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	hdr = genlmsg_put_reply(reply, info, &hcl_genl_family, 0,
				HTTPCLOOP_CMD_DEV_CLAIM);
	if (!hdr ||
	    nla_put_u32(reply, HTTPCLOOP_ATTR_INDEX, dev->index) ||
	    nla_put_u64_64bit(reply, HTTPCLOOP_ATTR_FEATURES, HTTPCLOOP_F_ALL,
			      HTTPCLOOP_ATTR_PAD)) {
		nlmsg_free(reply);
		return -EMSGSIZE;
	}
	genlmsg_end(reply, hdr);

	err = hcl_dev_claim(dev, info->snd_portid,
			    info->attrs[HTTPCLOOP_ATTR_DAEMON_PID] ?
			    nla_get_u32(info->attrs[HTTPCLOOP_ATTR_DAEMON_PID]) : 0,
			    info->extack);
	if (err) {
		nlmsg_free(reply);
		return err;
	}
	/* The claim stands even if the claimant cannot read the reply. */
	genlmsg_reply(reply, info);
	return 0;
}

/* The device named by INDEX, if the sender is the daemon that owns it. */
static struct hcl_device *hcl_nl_owned_dev(struct genl_info *info)
{
	struct hcl_device *dev;

	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_INDEX))
		return ERR_PTR(-EINVAL);
	dev = hcl_dev_lookup(nla_get_u32(info->attrs[HTTPCLOOP_ATTR_INDEX]));
	if (!dev) {
		NL_SET_ERR_MSG(info->extack, "no such httpcloop device");
		return ERR_PTR(-ENODEV);
	}
	if (READ_ONCE(dev->owner_portid) != info->snd_portid) {
		NL_SET_ERR_MSG(info->extack,
			       "only the daemon that added the device may answer for it");
		return ERR_PTR(-EPERM);
	}
	return dev;
}

static int hcl_nl_dev_seed(struct sk_buff *skb, struct genl_info *info)
{
	struct hcl_device *dev = hcl_nl_owned_dev(info);
	struct nlattr *bitmap = info->attrs[HTTPCLOOP_ATTR_BITMAP];

	if (IS_ERR(dev))
		return PTR_ERR(dev);
	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_BITMAP_OFFSET) ||
	    GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_BITMAP))
		return -EINVAL;
	return hcl_dev_seed(dev,
			    nla_get_u64(info->attrs[HTTPCLOOP_ATTR_BITMAP_OFFSET]),
			    nla_data(bitmap), nla_len(bitmap), info->extack);
}

static int hcl_nl_block_done(struct genl_info *info, bool ok)
{
	struct hcl_device *dev = hcl_nl_owned_dev(info);
	u64 block;
	int error = EIO;

	if (IS_ERR(dev))
		return PTR_ERR(dev);
	if (GENL_REQ_ATTR_CHECK(info, HTTPCLOOP_ATTR_BLOCK))
		return -EINVAL;
	block = nla_get_u64(info->attrs[HTTPCLOOP_ATTR_BLOCK]);
	if (block >= dev->nr_blocks) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[HTTPCLOOP_ATTR_BLOCK],
				    "block out of range");
		return -ERANGE;
	}
	if (!ok && info->attrs[HTTPCLOOP_ATTR_ERRNO])
		error = nla_get_u32(info->attrs[HTTPCLOOP_ATTR_ERRNO]) ?: EIO;
	hcl_dev_block_done(dev, block, ok ? 0 : error);
	return 0;
}

static int hcl_nl_block_ready(struct sk_buff *skb, struct genl_info *info)
{
	return hcl_nl_block_done(info, true);
}

static int hcl_nl_block_failed(struct sk_buff *skb, struct genl_info *info)
{
	return hcl_nl_block_done(info, false);
}

static const struct genl_ops hcl_genl_ops[] = {
	{
		.cmd		= HTTPCLOOP_CMD_DEV_ADD,
		.doit		= hcl_nl_dev_add,
		.policy		= hcl_dev_add_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= HTTPCLOOP_CMD_DEV_REMOVE,
		.doit		= hcl_nl_dev_remove,
		.policy		= hcl_dev_remove_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= HTTPCLOOP_CMD_DEV_SEED,
		.doit		= hcl_nl_dev_seed,
		.policy		= hcl_dev_seed_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= HTTPCLOOP_CMD_BLOCK_READY,
		.doit		= hcl_nl_block_ready,
		.policy		= hcl_block_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= HTTPCLOOP_CMD_BLOCK_FAILED,
		.doit		= hcl_nl_block_failed,
		.policy		= hcl_block_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= HTTPCLOOP_CMD_DEV_CLAIM,
		.doit		= hcl_nl_dev_claim,
		.policy		= hcl_dev_claim_policy,
		.maxattr	= HTTPCLOOP_ATTR_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
};

static struct genl_family hcl_genl_family __ro_after_init = {
	.name		= HTTPCLOOP_GENL_NAME,
	.version	= HTTPCLOOP_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= hcl_genl_ops,
	.n_ops		= ARRAY_SIZE(hcl_genl_ops),
#ifdef HAVE_GENL_RESV_START_OP
	/* Every command is validated strictly. */
	.resv_start_op	= HTTPCLOOP_CMD_DEV_ADD,
#endif
};

static struct sk_buff *hcl_event_new(struct hcl_device *dev, u8 cmd,
				     size_t payload, void **hdr)
{
	struct sk_buff *skb;

	skb = genlmsg_new(nla_total_size(sizeof(u32)) + payload, GFP_NOIO);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &hcl_genl_family, 0, cmd);
	if (!*hdr || nla_put_u32(skb, HTTPCLOOP_ATTR_INDEX, dev->index)) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

int hcl_netlink_send_fetch(struct hcl_device *dev, u32 portid, u64 block)
{
	struct sk_buff *skb;
	void *hdr;

	skb = hcl_event_new(dev, HTTPCLOOP_CMD_FETCH,
			    nla_total_size_64bit(sizeof(u64)), &hdr);
	if (!skb)
		return -ENOMEM;
	if (nla_put_u64_64bit(skb, HTTPCLOOP_ATTR_BLOCK, block,
			      HTTPCLOOP_ATTR_PAD)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_unicast(&init_net, skb, portid);
}

void hcl_netlink_send_online(struct hcl_device *dev, u32 portid, int error)
{
	struct sk_buff *skb;
	void *hdr;

	skb = hcl_event_new(dev, HTTPCLOOP_CMD_DEV_ONLINE,
			    nla_total_size(sizeof(u32)), &hdr);
	if (!skb)
		return;
	if (error && nla_put_u32(skb, HTTPCLOOP_ATTR_ERRNO, -error)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	/* A daemon that is gone learns nothing; the device waits for removal. */
	genlmsg_unicast(&init_net, skb, portid);
}

void hcl_netlink_send_released(struct hcl_device *dev, u32 portid, u32 reason)
{
	struct sk_buff *skb;
	void *hdr;

	skb = hcl_event_new(dev, HTTPCLOOP_CMD_DEV_RELEASED,
			    nla_total_size(sizeof(u32)), &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, HTTPCLOOP_ATTR_REASON, reason)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	/* Never blocks (a full socket drops it); a daemon that is gone learns nothing. */
	genlmsg_unicast(&init_net, skb, portid);
}

static int hcl_netlink_notify(struct notifier_block *nb, unsigned long event,
			      void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    net_eq(n->net, &init_net))
		hcl_dev_owner_released(n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block hcl_netlink_notifier = {
	.notifier_call = hcl_netlink_notify,
};

int hcl_netlink_init(void)
{
	int err;

	err = netlink_register_notifier(&hcl_netlink_notifier);
	if (err)
		return err;
	err = genl_register_family(&hcl_genl_family);
	if (err)
		goto out_unregister_notifier;
	return 0;

out_unregister_notifier:
	netlink_unregister_notifier(&hcl_netlink_notifier);
	return err;
}

void hcl_netlink_exit(void)
{
	/* First, so that no command races with the teardown of devices. */
	genl_unregister_family(&hcl_genl_family);
	netlink_unregister_notifier(&hcl_netlink_notifier);
}
