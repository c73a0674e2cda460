/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bind-pasid-table on an Arm SMMUv3 through iommufd (iommufd-smmuv3.c): a guest's Context
 * Descriptor table, nested on the client's IOAS. backend-iommufd.c calls these; they know
 * nothing of svmd's spaces, only the kernel's fds and object ids.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bind.h"

/* The kernel objects of one bound PASID table. */
struct smmuv3_nest;

/* Whether dev_id (bound to iommufd, attached nowhere) can nest: a scratch IOAS, a NEST_PARENT
 * HWPT and an IOMMU_VIOMMU_ALLOC(ARM_SMMUV3) on it, all destroyed again. 0, or a negative
 * errno with the precise reason (for devices(): "the kernel refuses a vIOMMU ...") in why. */
int smmuv3_probe(int iommufd, uint32_t dev_id, const char *name, char *why, size_t whylen);

/* The request's own checks, before policy and without the kernel: the vSTE svmd would build
 * from a->table (S1Fmt, S1CDMax, S1ContextPtr) and what the kernel would refuse. */
int smmuv3_table_check(const struct bind_args *a, const char *name, uint32_t pasid_bits, char *why,
		       size_t whylen);

/* The vSTE's word 0 for a->table (after smmuv3_table_check): V, Config = stage-1 translate,
 * S1Fmt, S1ContextPtr, S1CDMax, nothing else. */
uint64_t smmuv3_vste0(const struct bind_args *a);

/* Binds a->table on the device dev_fd (bound to iommufd as dev_id, attached to ioas): a
 * NEST_PARENT HWPT on ioas, a vIOMMU on it, a vDEVICE with the guest's vSID, a vEVENTQ, the
 * nested HWPT with the vSTE, then the attach. *ret_event_fd: a new O_CLOEXEC fd on the vEVENTQ
 * for the binding's owner. On failure nothing is left. */
int smmuv3_bind(int iommufd, int dev_fd, uint32_t dev_id, uint32_t ioas, const struct bind_args *a,
		const char *name, struct smmuv3_nest **ret, int *ret_event_fd, char *why,
		size_t whylen);

/* Puts dev_fd back on ioas (stage 2 only; skipped when dev_fd < 0 or done before) and destroys
 * n's objects: NULL, or n itself when some remain because the owner still holds the vEVENTQ
 * fd (the vIOMMU and the parent live as long as it): call again later (a new bind on the
 * device must wait for it), or smmuv3_forget() it when the iommufd is closed. Takes NULL. */
struct smmuv3_nest *smmuv3_unbind(int iommufd, int dev_fd, uint32_t ioas, struct smmuv3_nest *n,
				  const char *name);
/* Whether n is an unbound one whose objects could not all be destroyed yet. */
bool smmuv3_unbound(const struct smmuv3_nest *n);
/* Frees n without asking the kernel (its iommufd is being closed). Takes NULL. */
void smmuv3_forget(struct smmuv3_nest *n);

/* One SMMUv3 command of an invalidation (type SVMD_INVALIDATE_SMMUV3: w[0], w[1], w[2] 0) on
 * the PASID table a, entry i, as svmd lets it reach the kernel: an opcode the vIOMMU takes,
 * no bit set outside that command's fields, a StreamID only the table's vSID, a SubstreamID
 * within its CDs. 0 or -EINVAL with the reason. */
int smmuv3_cmd_check(const struct bind_args *a, const struct svmd_invalidate_entry *e, uint32_t i,
		     char *why, size_t whylen);

/* Flushes what the SMMU cached of n's PASID table (bound as a): count commands of type
 * (SVMD_INVALIDATE_SMMUV3, else -EOPNOTSUPP), each checked by smmuv3_cmd_check(), in one
 * IOMMU_HWPT_INVALIDATE on n's vIOMMU. *ret_done: the commands the kernel says it handled,
 * on failure too. -ENOENT when n is NULL or unbound. */
int smmuv3_invalidate(int iommufd, const struct smmuv3_nest *n, const struct bind_args *a,
		      uint32_t type, const struct svmd_invalidate_entry *e, uint32_t count,
		      uint32_t *ret_done, const char *name, char *why, size_t whylen);
