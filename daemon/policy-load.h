/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading policy from drop-in directories: every *.policy file of every directory, ordered by
 * file name across all of them; a name in an earlier directory masks the same name in later
 * ones (as systemd drop-ins do). Names resolve through NSS.
 */
#pragma once

#include "policy.h"

/* The package's own policy directory, the last of the defaults (the Makefile's POLICYDIR). */
#ifndef SVMD_VENDOR_POLICYDIR
#define SVMD_VENDOR_POLICYDIR "/usr/lib/svmd/policy.d"
#endif

/* The directories read when none is given, highest priority first. */
extern const char *const policy_default_dirs[];

/*
 * Compiles the policy of dirs[0..n) (NULL-terminated when n is 0: policy_default_dirs).
 * A directory that does not exist is skipped; one that cannot be read is an error. Returns
 * 0 and the policy (whose diags list any errors: p->n_errors > 0 means do not use it), or
 * -ENOMEM.
 */
int policy_load(const char *const *dirs, size_t n, struct policy **ret);
