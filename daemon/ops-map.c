/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recipes for client memory and for what a device can do: map, unmap, device-info, and the
 * invalidation of a guest table nested over that memory; see
 * ops.h. A map puts length bytes of the client's memfd at an IOVA of one device's space in the
 * client's own (core.h: struct space), where only the device fd that client holds reaches
 * (backend.h); it is a binding of kind SVMD_KIND_MAP, listed, leased, unbound and ended with
 * its owner like any other, and its bytes are charged to the owner's uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "request.h"
#include "util.h"

/* How the device may use it, for the record and the reasons: "read", "write", "read-write". */
static const char *access_name(uint32_t flags)
{
	if ((flags & SVMD_MAP_FLAGS) == SVMD_MAP_FLAGS)
		return "read-write";
	return flags & SVMD_MAP_WRITE ? "write" : "read";
}

/* The memfd holds the range, and is open for what the device will do with it. */
static int check_memfd(struct request *rq, int memfd, const struct bind_args *a)
{
	char why[256];
	int fl, seals, r = memfd_check(memfd, a->map.offset, a->map.length, why, sizeof(why));

	if (r < 0)
		return request_refuse(rq, r, "%s", why);
	fl = fcntl(memfd, F_GETFL) & O_ACCMODE;
	if ((a->map.flags & SVMD_MAP_WRITE) && fl == O_RDONLY)
		return request_refuse(rq, -EPERM,
				      "the memfd is open read-only: the device may not write it");
	if ((a->map.flags & SVMD_MAP_READ) && fl == O_WRONLY)
		return request_refuse(rq, -EPERM,
				      "the memfd is open write-only: the device may not read it");
	seals = fcntl(memfd, F_GET_SEALS);
	if ((a->map.flags & SVMD_MAP_WRITE) && seals > 0 &&
	    (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return request_refuse(rq, -EPERM,
				      "the memfd is sealed against writing: the device may not "
				      "write it");
	return 0;
}

/* The kernel's own argument checks (alignment, aperture), asked of the backend before policy. */
static int check_map_args(struct request *rq, const struct bind_args *a)
{
	struct backend *be = rq->core->backend;
	char why[256] = "";
	int r = be->ops->check(be, rq->dev, a, why, sizeof(why));

	if (r == -EOPNOTSUPP)
		return request_refuse(rq, r, "%s", why);
	if (r < 0)
		return request_refuse(rq, r, "invalid map for %s: %s", rq->dev->name, why);
	return 0;
}

/* Maps a into the caller's space (made on first use) and records it; a failure to record
 * undoes the map. */
static int map_in_space(struct request *rq, struct session *s, int memfd, struct bind_args *a,
			struct binding **ret)
{
	struct core *c = rq->core;
	struct backend *be = c->backend;
	struct space *sp = NULL;
	char why[256] = "";
	int r = core_session_space(c, s, &sp, why, sizeof(why));

	if (r < 0)
		return request_refuse(rq, r, "cannot make a DMA space: %s", why);
	r = be->ops->map(be, sp->bs, rq->dev, memfd, a, why, sizeof(why));
	if (r < 0)
		return request_refuse(rq, r, "kernel refused: %s", why[0] ? why : strerror(-r));
	a->map.space = core_space_ref(sp);
	r = request_record(rq, s, a, NULL, ret);
	if (r < 0) {
		be->ops->unmap(be, sp->bs, rq->dev, a, NULL, 0);
		core_space_unref(c, TAKE_PTR(a->map.space));
	}
	return r;
}

int ops_map(struct core *c, struct session *s, struct map_request *req, struct op_result *res,
	    struct binding **ret)
{
	_cleanup_close_ int memfd = TAKE_FD(req->memfd);
	struct request rq = request_start(c, s, "map", res);
	struct bind_args *a = &req->args;
	struct binding *b = NULL;
	char note[128], size[32];
	int r;

	a->kind = SVMD_KIND_MAP;
	a->pasid = 0;
	a->map.space = NULL;
	rq.map = a;
	r = request_find_device(&rq, req->device);
	/* The socket's codec refuses these already; D-Bus callers meet them here. */
	if (r == 0 && ((a->map.flags & ~SVMD_MAP_FLAGS) || !(a->map.flags & SVMD_MAP_FLAGS)))
		r = request_refuse(&rq, -EINVAL, "flags must be read, write or both (1, 2 or 3)");
	if (r == 0 && (a->map.length == 0 || a->map.iova + a->map.length <= a->map.iova ||
		       a->map.offset + a->map.length <= a->map.offset))
		r = request_refuse(&rq, -EINVAL, "empty or wrapping range");
	if (r == 0)
		r = request_can(&rq, SVMD_KIND_MAP);
	if (r == 0)
		r = check_memfd(&rq, memfd, a);
	if (r == 0)
		r = check_map_args(&rq, a);
	if (r == 0)
		r = request_authorise(&rq, POLICY_OP_MAP, a, false);
	if (r == 0)
		r = map_in_space(&rq, s, memfd, a, &b);
	if (r == 0) {
		snprintf(note, sizeof(note), "IOVA 0x%" PRIx64 "-0x%" PRIx64 ", %s, %s",
			 a->map.iova, a->map.iova + a->map.length - 1,
			 format_size(a->map.length, size), access_name(a->map.flags));
		rq.note = note;
		rq.event = AUDIT_GRANT;
		rq.binding = binding_id(b);
		*ret = b;
	}
	return request_finish(&rq, r);
}

/* Whether b is a mapping of space sp on dev, and how it lies to [iova, end): 1 within, -1
 * partly, 0 apart. */
static int map_within(const struct binding *b, const struct space *sp, const struct device *dev,
		      uint64_t iova, uint64_t end)
{
	uint64_t lo = b->args.map.iova, hi = lo + b->args.map.length;

	if (b->args.kind != SVMD_KIND_MAP || b->args.map.space != sp || b->device != dev)
		return 0;
	if (hi <= iova || lo >= end)
		return 0;
	return lo >= iova && hi <= end ? 1 : -1;
}

/* The caller's mappings within the range: counted into ret, or -EINVAL for one only partly
 * within. */
static int unmap_scan(struct request *rq, const struct space *sp, uint64_t iova, uint64_t end,
		      struct unmap_result *ret)
{
	struct core *c = rq->core;
	uid_t uid = rq->who->uid;

	*ret = (struct unmap_result){0};
	for (struct binding *b = registry_user_first_after(c->registry, uid, 0); b;
	     b = registry_user_next(b)) {
		int w = map_within(b, sp, rq->dev, iova, end);
		if (w < 0)
			return request_refuse(rq, -EINVAL,
					      "mapping %" PRIu64 " (IOVA 0x%" PRIx64 "-0x%" PRIx64
					      ") lies only partly within 0x%" PRIx64 "-0x%" PRIx64
					      ": nothing unmapped",
					      binding_id(b), b->args.map.iova,
					      b->args.map.iova + b->args.map.length - 1, iova,
					      end - 1);
		if (w > 0) {
			ret->n++;
			ret->bytes += b->args.map.length;
		}
	}
	return 0;
}

int ops_unmap(struct core *c, struct session *s, const char *device, uint64_t iova, uint64_t length,
	      struct unmap_result *ret, struct op_result *res)
{
	struct request rq = request_start(c, s, "unmap", res);
	uint64_t end = iova + length;
	struct binding *b, *next;
	int r;

	*ret = (struct unmap_result){0};
	r = request_find_device(&rq, device);
	if (r == 0 && (length == 0 || end <= iova))
		r = request_refuse(&rq, -EINVAL, "empty or wrapping IOVA range");
	if (r == 0)
		r = unmap_scan(&rq, s->space, iova, end, ret);
	if (r == 0 && ret->n == 0)
		r = request_refuse(&rq, -ENOENT,
				   "no mapping of yours on %s lies within 0x%" PRIx64 "-0x%" PRIx64,
				   rq.dev->name, iova, end - 1);
	if (r < 0)
		return request_finish(&rq, r);
	/* Each mapping's end is its own release record: that is this request's record. */
	rq.recorded = false;
	for (b = registry_user_first_after(c->registry, rq.who->uid, 0); b; b = next) {
		next = registry_user_next(b);
		if (map_within(b, s->space, rq.dev, iova, end) > 0)
			core_end_binding(c, b, END_UNMAP);
	}
	return request_finish(&rq, 0);
}

int ops_device_info(struct core *c, struct session *s, const char *device, uint32_t *ret_kinds,
		    char *text, size_t size, struct op_result *res)
{
	struct request rq = request_start(c, s, "device-info", res);
	size_t n = 0;
	int r = request_find_device(&rq, device);

	if (size)
		text[0] = 0;
	*ret_kinds = 0;
	for (uint32_t k = 1; r == 0 && k < _SVMD_KIND_MAX; k++) {
		char buf[200];
		const char *why = core_why_not(c, rq.dev, k, buf, sizeof(buf));
		if (!why)
			*ret_kinds |= SVMD_KIND_BIT(k);
		else if (n < size)
			n += (size_t)snprintf(text + n, size - n, "%s: %s\n", svmd_kind_name(k),
					      why);
	}
	return request_finish(&rq, r);
}

int ops_invalidate(struct core *c, struct session *s, uint64_t id, uint32_t type,
		   const struct svmd_invalidate_entry *e, uint32_t n, uint32_t *ret_done,
		   struct op_result *res)
{
	struct request rq = request_start(c, s, "invalidate", res);
	struct binding *b = registry_find(c->registry, id);
	struct backend *be = c->backend;
	char why[256] = "";
	int r;

	*ret_done = 0;
	rq.binding = id;
	/* Only the owner's: root's too, so that what is recorded is whose table it was. */
	if (!b || b->owner->uid != rq.who->uid)
		return request_finish(
			&rq, request_refuse(&rq, -ENOENT, "no binding %" PRIu64 " of yours", id));
	rq.dev = b->device;
	rq.pasid = b->args.pasid;
	/* A page table nested in the caller's space, or a PASID table bound in it. */
	struct space *sp = core_nests(c, b->args.kind)             ? *core_nest_space(&b->args)
			   : b->args.kind == SVMD_KIND_PASID_TABLE ? b->args.table.space
								   : NULL;
	if (!sp || !be->ops->invalidate)
		return request_finish(&rq,
				      request_refuse(&rq, -EINVAL,
						     "binding %" PRIu64 " is a %s, not a guest "
						     "table nested in your space",
						     id, core_kind_op_name(b->args.kind)));
	r = request_authorise(&rq, POLICY_OP_INVALIDATE, &b->args, false);
	if (r == 0) {
		r = be->ops->invalidate(be, sp->bs, b->device, &b->args, type, e, n, ret_done, why,
					sizeof(why));
		if (r < 0)
			request_refuse(&rq, r, "%s", why[0] ? why : strerror(-r));
	}
	/* A flush is no event worth a record; what is refused is. */
	rq.recorded = r < 0;
	return request_finish(&rq, r);
}
