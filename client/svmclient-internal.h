/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient's inside: the client handle, shared by the socket transport (libsvmclient.c)
 * and the D-Bus transport (libsvmclient-bus.c). Each public call picks its transport here.
 */
#pragma once

#include <stdint.h>

#include <systemd/sd-bus.h>

#include "svmclient.h"
#include "svmd-proto.h"

#define _public_ __attribute__((visibility("default")))

struct svm_client {
	int fd;      /* the socket, or -1 on the bus */
	sd_bus *bus; /* the bus, or NULL on the socket */
	uint32_t seq;
	/* The socket's exchange went wrong (no reply in time, a reply out of order, an error):
	 * a late reply could be taken for the next one, so every later call fails at once. */
	bool broken;
	char reason[1024];
	char backend[16];
	char server_version[16];
	_Alignas(8) unsigned char buf[SVMD_RECORD_MAX];
};

/* The D-Bus transport: same contracts as the public functions they serve. */
int bus_connect(const char *address, struct svm_client *c);
int bus_devices(struct svm_client *c, struct svm_device **ret, size_t *ret_n);
int bus_list(struct svm_client *c, struct svm_binding_info **ret, size_t *ret_n);
int bus_bind_task(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
		  uint64_t *ret_id, uint32_t *ret_pasid);
int bus_bind_pgtable(struct svm_client *c, const char *device, const struct svm_pgtable *pg,
		     uint64_t *ret_id);
int bus_bind_pasid_table(struct svm_client *c, const char *device, const struct svm_pasid_table *t,
			 uint64_t *ret_id);
int bus_open_device(struct svm_client *c, const char *device, int *ret_fd, uint64_t *ret_id);
int bus_unbind(struct svm_client *c, uint64_t id);
int bus_lease(struct svm_client *c, uint64_t id, int *ret_fd);
int bus_explain(struct svm_client *c, const struct svm_explain_request *x, char **ret_text,
		bool *ret_allowed);
int bus_reload(struct svm_client *c, struct svm_reload_result *ret, char **ret_text);
