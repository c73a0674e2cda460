/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient over D-Bus: the same calls as the socket transport, made as method calls on
 * org.svmd.Broker1. Errors come back as org.svmd.Broker1.Error.* names, mapped to the same
 * negative errnos the socket returns, with svmd's reason kept for svm_reason().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "svmclient-internal.h"
#include "svmd-bus.h"

/* Records a failed call's reason and returns its errno. */
static int failed(struct svm_client *c, sd_bus_error *error, int r)
{
	if (sd_bus_error_is_set(error)) {
		snprintf(c->reason, sizeof(c->reason), "%s", error->message ? error->message : "");
		r = -sd_bus_error_get_errno(error);
		if (r == 0)
			r = -EIO;
	}
	sd_bus_error_free(error);
	return r < 0 ? r : -EIO;
}

static int call(struct svm_client *c, const char *method, sd_bus_message **reply, const char *types,
		...)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	c->reason[0] = 0;
	r = sd_bus_message_new_method_call(c->bus, &m, SVMD_BUS_NAME, SVMD_BUS_PATH,
					   SVMD_BUS_INTERFACE, method);
	if (r < 0)
		return r;
	if (types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
		if (r < 0)
			return r;
	}
	r = sd_bus_call(c->bus, m, 0, &error, reply);
	if (r < 0)
		return failed(c, &error, r);
	return 0;
}

static int get_string_property(struct svm_client *c, const char *name, char *buf, size_t size)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_free_ char *s = NULL;
	int r = sd_bus_get_property_string(c->bus, SVMD_BUS_NAME, SVMD_BUS_PATH, SVMD_BUS_INTERFACE,
					   name, &error, &s);

	if (r < 0)
		return failed(c, &error, r);
	snprintf(buf, size, "%s", s);
	return 0;
}

static const struct {
	const char *name;
	uint32_t code;
} end_names[] = {
	{"unbind", SVM_END_UNBIND},
	{"revoked", SVM_END_REVOKED},
	{"process-exited", SVM_END_PROCESS},
	{"lease-closed", SVM_END_LEASE},
	{"shutdown", SVM_END_SHUTDOWN},
	{"session-ended", SVM_END_SESSION},
	{"unmap", SVM_END_UNMAP},
	{"undelivered", SVM_END_UNDELIVERED},
};

/* Released(s reason, s message, u by_uid, t generation) on one of our binding objects: an
 * SVM_EVENT_BINDING_ENDED for the next svm_dispatch(). */
static int on_released(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct svm_client *c = userdata;
	const char *path = sd_bus_message_get_path(m), *reason, *text;
	struct svm_event ev = {.type = SVM_EVENT_BINDING_ENDED};
	uint64_t generation;
	uint32_t by_uid;
	char *end;

	(void)error;
	if (!path ||
	    strncmp(path, SVMD_BUS_BINDING_PREFIX "/", strlen(SVMD_BUS_BINDING_PREFIX) + 1))
		return 0;
	path += strlen(SVMD_BUS_BINDING_PREFIX) + 1;
	errno = 0;
	ev.binding = strtoull(path, &end, 10);
	if (errno || *end || end == path ||
	    sd_bus_message_read(m, "ssut", &reason, &text, &by_uid, &generation) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(end_names) / sizeof(end_names[0]); i++)
		if (strcmp(reason, end_names[i].name) == 0)
			ev.reason = end_names[i].code;
	if (!ev.reason)
		return 0;
	ev.by_uid = by_uid;
	ev.generation = generation;
	ev.text = text;
	(void)client_queue_event(c, &ev);
	return 0;
}

int bus_connect(const char *address, struct svm_client *c)
{
	int r;

	r = sd_bus_error_add_map(svmd_bus_errors);
	if (r < 0)
		return r;
	r = svmd_bus_open(address, &c->bus);
	if (r < 0)
		return r;
	/* Asking for the backend is the hello: it fails at once when svmd is not there. */
	r = get_string_property(c, "Backend", c->backend, sizeof(c->backend));
	if (r >= 0)
		r = get_string_property(c, "Version", c->server_version, sizeof(c->server_version));
	/* svmd sends Released to the binding's owner alone; the match only routes it here. */
	if (r >= 0)
		r = sd_bus_match_signal(c->bus, NULL, SVMD_BUS_NAME, NULL, SVMD_BUS_BINDING_IFACE,
					"Released", on_released, c);
	return r;
}

static int bus_devices(struct svm_client *c, struct svm_device **ret, size_t *ret_n)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ struct svm_device *v = NULL;
	size_t n = 0;
	int r;

	r = call(c, "ListDevices", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(suuuqqyy)");
	if (r < 0)
		return r;
	for (;;) {
		struct svm_device d = {0};
		const char *name;
		r = sd_bus_message_read(reply, "(suuuqqyy)", &name, &d.iommu_group,
					&d.group_devices, &d.kinds, &d.vendor, &d.device,
					&d.pasid_bits, &d.model);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		snprintf(d.name, sizeof(d.name), "%s", name);
		struct svm_device *grown = reallocarray(v, n + 1, sizeof(*v));
		if (!grown)
			return -ENOMEM;
		v = grown;
		v[n++] = d;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int bus_list(struct svm_client *c, struct svm_binding_info **ret, size_t *ret_n)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ struct svm_binding_info *v = NULL;
	size_t n = 0;
	int r;

	r = call(c, "ListBindings", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(tssuuiibto)");
	if (r < 0)
		return r;
	for (;;) {
		struct svm_binding_info b = {0};
		const char *kind, *device, *path;
		int leased;
		r = sd_bus_message_read(reply, "(tssuuiibto)", &b.id, &kind, &device, &b.pasid,
					&b.owner_uid, &b.owner_pid, &b.target_pid, &leased,
					&b.created_usec, &path);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		int k = svmd_kind_from_name(kind);
		b.kind = k > 0 ? (uint32_t)k : 0;
		b.leased = leased;
		snprintf(b.device, sizeof(b.device), "%s", device);
		struct svm_binding_info *grown = reallocarray(v, n + 1, sizeof(*v));
		if (!grown)
			return -ENOMEM;
		v = grown;
		v[n++] = b;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int bus_bind_task(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
			 uint64_t *ret_id, uint32_t *ret_pasid)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint64_t id;
	uint32_t bound;
	int r;

	if (pidfd >= 0)
		r = call(c, "BindTaskPidfd", &reply, "shu", device, pidfd, pasid);
	else
		r = call(c, "BindTask", &reply, "su", device, pasid);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "tuo", &id, &bound, NULL);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_pasid)
		*ret_pasid = bound;
	return 0;
}

static int bus_bind_pgtable(struct svm_client *c, const char *device, const struct svm_pgtable *pg,
			    uint64_t *ret_id, int *ret_fault_fd)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	uint64_t id;
	int r, fd = -1;

	c->reason[0] = 0;
	r = sd_bus_message_new_method_call(c->bus, &m, SVMD_BUS_NAME, SVMD_BUS_PATH,
					   SVMD_BUS_INTERFACE,
					   ret_fault_fd ? "BindPgtableWithFaults" : "BindPgtable");
	if (r >= 0)
		r = sd_bus_message_append(m, "sutu", device, pg->pasid, pg->gpgd, pg->addr_width);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0 && pg->gpasid_valid)
		r = sd_bus_message_append(m, "{sv}", "gpasid", "u", pg->gpasid);
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}{sv}{sv}", "vtd-flags", "t", pg->vtd_flags, "pat",
					  "u", pg->vtd_pat, "emt", "u", pg->vtd_emt);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	r = sd_bus_call(c->bus, m, 0, &error, &reply);
	if (r < 0)
		return failed(c, &error, r);
	r = ret_fault_fd ? sd_bus_message_read(reply, "toh", &id, NULL, &fd)
			 : sd_bus_message_read(reply, "to", &id, NULL);
	if (r < 0)
		return r;
	if (ret_fault_fd) {
		/* The message owns its fd: the caller gets a copy. */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		*ret_fault_fd = fd;
	}
	if (ret_id)
		*ret_id = id;
	return 0;
}

static int bus_bind_smmu_cd_table(struct svm_client *c, const char *device,
				  const struct svm_smmu_cd_table *t, uint64_t *ret_id,
				  int *ret_event_fd)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint64_t id;
	int r, fd = -1;

	r = call(c, "BindSmmuCdTable", &reply, "sttuyy", device, t->ptr, t->size, t->vsid, t->s1fmt,
		 t->s1cdmax);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "to", &id, NULL);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "h");
	if (r >= 0 && (r = sd_bus_message_read(reply, "h", &fd)) > 0) {
		/* The message owns its fd: the caller gets a copy. */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
	} else
		fd = -1;
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_event_fd)
		*ret_event_fd = fd;
	else
		safe_close(fd);
	return 0;
}

static int bus_bind_pasid_table(struct svm_client *c, const char *device,
				const struct svm_pasid_table *t, uint64_t *ret_id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *model = svmd_model_name(t->model);
	uint64_t id;
	int r;

	r = call(c, "BindPasidTable", &reply, "stts", device, t->ptr, t->size,
		 model ? model : "none");
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "to", &id, NULL);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	return 0;
}

/* The message owns the fds it carries: keep a copy of our own. */
static int take_fd(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return copy < 0 ? -errno : copy;
}

static int bus_open_device(struct svm_client *c, const char *device, int *ret_fd, uint64_t *ret_id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint64_t id;
	int fd, r;

	r = call(c, "OpenDevice", &reply, "s", device);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "hto", &fd, &id, NULL);
	if (r < 0)
		return r;
	fd = take_fd(fd);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	if (ret_id)
		*ret_id = id;
	return 0;
}

static int bus_unbind(struct svm_client *c, uint64_t id)
{
	return call(c, "Unbind", NULL, "t", id);
}

static int bus_lease(struct svm_client *c, uint64_t id, int *ret_fd)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int fd, r;

	r = call(c, "Lease", &reply, "t", id);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "h", &fd);
	if (r < 0)
		return r;
	fd = take_fd(fd);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

static int bus_explain(struct svm_client *c, const struct svm_explain_request *x, char **ret_text,
		       bool *ret_allowed)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	const char *text;
	int allowed, r;

	c->reason[0] = 0;
	r = sd_bus_message_new_method_call(c->bus, &m, SVMD_BUS_NAME, SVMD_BUS_PATH,
					   SVMD_BUS_INTERFACE, "Explain");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", x->op, x->device ? x->device : "");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0 && x->pasid >= 0)
		r = sd_bus_message_append(m, "{sv}", "pasid", "u", (uint32_t)x->pasid);
	if (r >= 0 && x->uid >= 0)
		r = sd_bus_message_append(m, "{sv}", "uid", "u", (uint32_t)x->uid);
	if (r >= 0 && x->addr_width)
		r = sd_bus_message_append(m, "{sv}", "addr-width", "u", x->addr_width);
	if (r >= 0 && x->vtd_flags)
		r = sd_bus_message_append(m, "{sv}", "vtd-flags", "t", x->vtd_flags);
	if (r >= 0 && x->op && strcmp(x->op, "map") == 0)
		r = sd_bus_message_append(m, "{sv}{sv}", "iova", "t", x->iova, "length", "t",
					  x->length);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	r = sd_bus_call(c->bus, m, 0, &error, &reply);
	if (r < 0)
		return failed(c, &error, r);
	r = sd_bus_message_read(reply, "bs", &allowed, &text);
	if (r < 0)
		return r;
	if (ret_text) {
		*ret_text = strdup(text);
		if (!*ret_text)
			return -ENOMEM;
	}
	if (ret_allowed)
		*ret_allowed = allowed;
	return 0;
}

static int bus_reload(struct svm_client *c, struct svm_reload_result *ret, char **ret_text)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct svm_reload_result rr;
	const char *text;
	int r;

	r = call(c, "Reload", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "tuuuuus", &rr.generation, &rr.n_rules, &rr.n_files,
				&rr.n_warnings, &rr.n_denied, &rr.n_revoked, &text);
	if (r < 0)
		return r;
	if (ret)
		*ret = rr;
	if (ret_text) {
		*ret_text = strdup(text);
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

static int bus_map(struct svm_client *c, const char *device, int memfd, uint64_t offset,
		   uint64_t length, uint64_t iova, uint32_t flags, uint64_t *ret_id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint64_t id;
	int r;

	r = call(c, "Map", &reply, "shtttu", device, memfd, offset, length, iova, flags);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "to", &id, NULL);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	return 0;
}

static int bus_unmap(struct svm_client *c, const char *device, uint64_t iova, uint64_t length,
		     uint32_t *ret_n, uint64_t *ret_bytes)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint64_t bytes;
	uint32_t n;
	int r;

	r = call(c, "Unmap", &reply, "stt", device, iova, length);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "ut", &n, &bytes);
	if (r < 0)
		return r;
	if (ret_n)
		*ret_n = n;
	if (ret_bytes)
		*ret_bytes = bytes;
	return 0;
}

static int bus_invalidate(struct svm_client *c, uint64_t id, uint32_t type,
			  const struct svm_invalidate_entry *e, uint32_t n, uint32_t *ret_done)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	c->reason[0] = 0;
	r = sd_bus_message_new_method_call(c->bus, &m, SVMD_BUS_NAME, SVMD_BUS_PATH,
					   SVMD_BUS_INTERFACE, "Invalidate");
	if (r >= 0)
		r = sd_bus_message_append(m, "tu", id, type);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(ttt)");
	for (uint32_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(m, "(ttt)", e[i].w[0], e[i].w[1], e[i].w[2]);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	r = sd_bus_call(c->bus, m, 0, &error, &reply);
	if (r < 0)
		return failed(c, &error, r);
	r = sd_bus_message_read(reply, "u", ret_done);
	return r < 0 ? r : 0;
}

static int bus_status(struct svm_client *c, struct svm_status *ret, char **ret_text)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *backend, *version, *text;
	int r;

	r = call(c, "Status", &reply, NULL);
	if (r < 0)
		return r;
	*ret = (struct svm_status){0};
	r = sd_bus_message_read(reply, "ttuuuuusss", &ret->generation, &ret->uptime_usec,
				&ret->n_devices, &ret->n_clients, &ret->n_bindings, &ret->n_rules,
				&ret->n_files, &backend, &version, &text);
	if (r < 0)
		return r;
	snprintf(ret->backend, sizeof(ret->backend), "%s", backend);
	snprintf(ret->version, sizeof(ret->version), "%s", version);
	if (ret_text) {
		*ret_text = strdup(text);
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

static int bus_metrics(struct svm_client *c, char **ret_text)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *text;
	int r;

	r = call(c, "Metrics", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "s", &text);
	if (r < 0)
		return r;
	*ret_text = strdup(text);
	return *ret_text ? 0 : -ENOMEM;
}

static int bus_policy_rules(struct svm_client *c, uint64_t *ret_generation, char **ret_text)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	uint64_t generation;
	const char *line;
	int r;

	r = call(c, "ListPolicy", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "t", &generation);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read(reply, "s", &line)) > 0) {
		size_t n = strlen(line);
		char *t = realloc(text, len + n + 2);
		if (!t)
			return -ENOMEM;
		text = t;
		memcpy(text + len, line, n);
		len += n;
		text[len++] = '\n';
		text[len] = 0;
	}
	if (r < 0)
		return r;
	if (!text && !(text = strdup("")))
		return -ENOMEM;
	if (ret_generation)
		*ret_generation = generation;
	if (ret_text)
		*ret_text = TAKE_PTR(text);
	return 0;
}

static int bus_device_info(struct svm_client *c, const char *device, uint32_t *ret_kinds,
			   char **ret_text)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *text;
	uint32_t kinds;
	int r;

	r = call(c, "DeviceInfo", &reply, "s", device);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "us", &kinds, &text);
	if (r < 0)
		return r;
	if (ret_kinds)
		*ret_kinds = kinds;
	if (ret_text) {
		*ret_text = strdup(text);
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

static int bus_fd(const struct svm_client *c)
{
	return sd_bus_get_fd(c->bus);
}

static int bus_dispatch(struct svm_client *c, int timeout_ms)
{
	int n = client_deliver_events(c), r;

	for (;;) {
		while ((r = sd_bus_process(c->bus, NULL)) > 0)
			;
		if (r < 0 || !sd_bus_is_open(c->bus)) {
			if (n > 0)
				return n;
			if (r < 0 && r != -ENOTCONN)
				return r;
			snprintf(c->reason, sizeof(c->reason), "the bus connection closed");
			return -ECONNRESET;
		}
		n += client_deliver_events(c);
		/* After the events that came before it (handed out already): nothing will make
		 * the fd readable again, so the end is said now, not at a next call that a
		 * caller polling the fd would never make. */
		if (c->svmd_gone) {
			snprintf(c->reason, sizeof(c->reason),
				 "svmd left the bus: its subscription ended with it");
			return -ECONNRESET;
		}
		if (c->subscription_ended) {
			snprintf(c->reason, sizeof(c->reason), "%s", c->ended_reason);
			return -ECONNRESET;
		}
		if (n > 0 || timeout_ms == 0)
			return n;
		r = sd_bus_wait(c->bus, timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000u);
		if (r < 0)
			return r == -EINTR ? 0 : r;
		if (r == 0)
			return 0;
		timeout_ms = 0;
	}
}

static const char *const record_names[] = {"grant", "deny", "fail", "release", "reload"};

/* Record(s event, s op, s device, u pasid, t binding, u uid, i pid, u error, t generation,
 * t usec, s ended, s reason, s rule) on the broker, addressed to us after Subscribe(): an
 * SVM_EVENT_RECORD for the next svm_dispatch(), as the socket's EV_RECORD gives it. */
static int on_record(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct svm_client *c = userdata;
	struct svm_event ev = {.type = SVM_EVENT_RECORD};
	const char *event, *op, *device, *ended, *text, *rule;
	uint32_t err;

	(void)error;
	if (sd_bus_message_read(m, "sssutuiuttsss", &event, &op, &device, &ev.pasid, &ev.binding,
				&ev.uid, &ev.pid, &err, &ev.generation, &ev.usec, &ended, &text,
				&rule) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(record_names) / sizeof(record_names[0]); i++)
		if (strcmp(event, record_names[i]) == 0)
			ev.record = record_names[i];
	if (!ev.record || err > 4095)
		return 0;
	for (size_t i = 0; ended[0] && i < sizeof(end_names) / sizeof(end_names[0]); i++)
		if (strcmp(ended, end_names[i].name) == 0)
			ev.reason = end_names[i].code;
	ev.op = op;
	ev.device = device[0] ? device : NULL;
	ev.error = (int)err;
	ev.text = text;
	(void)client_queue_event(c, &ev);
	return 0;
}

/* The broker's name lost its owner: svmd stopped, and the subscription went with it (a new svmd
 * knows nothing of it). svm_dispatch() says -ECONNRESET from now on, as on the socket. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct svm_client *c = userdata;
	const char *name, *old, *new;

	(void)error;
	if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 &&
	    strcmp(name, SVMD_BUS_NAME) == 0 && old[0])
		c->svmd_gone = true;
	return 0;
}

/* SubscriptionEnded(s reason), addressed to us: svmd ended the subscription (it held too many
 * records for the bus). svm_dispatch() says -ECONNRESET with the reason once the records sent
 * before it are delivered, as when the socket drops a subscriber that fell behind. */
static int on_subscription_ended(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct svm_client *c = userdata;
	const char *reason;

	(void)error;
	if (sd_bus_message_read(m, "s", &reason) < 0)
		return 0;
	c->subscription_ended = true;
	snprintf(c->ended_reason, sizeof(c->ended_reason), "%s", reason);
	return 0;
}

static int bus_subscribe(struct svm_client *c)
{
	int r = 0;

	/* The matches first: a record may come before Subscribe()'s reply. */
	if (!c->record_slot)
		r = sd_bus_match_signal(c->bus, &c->record_slot, SVMD_BUS_NAME, SVMD_BUS_PATH,
					SVMD_BUS_INTERFACE, "Record", on_record, c);
	if (r >= 0 && !c->ended_slot)
		r = sd_bus_match_signal(c->bus, &c->ended_slot, SVMD_BUS_NAME, SVMD_BUS_PATH,
					SVMD_BUS_INTERFACE, "SubscriptionEnded",
					on_subscription_ended, c);
	if (r >= 0 && !c->owner_slot)
		r = sd_bus_add_match(
			c->bus, &c->owner_slot,
			"type='signal',sender='org.freedesktop.DBus',"
			"path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
			"member='NameOwnerChanged',arg0='" SVMD_BUS_NAME "'",
			on_owner_changed, c);
	if (r >= 0)
		r = call(c, "Subscribe", NULL, NULL);
	if (r >= 0)
		c->subscription_ended = false;
	if (r < 0) {
		c->record_slot = sd_bus_slot_unref(c->record_slot);
		c->ended_slot = sd_bus_slot_unref(c->ended_slot);
		c->owner_slot = sd_bus_slot_unref(c->owner_slot);
	}
	return r;
}

static void bus_close(struct svm_client *c)
{
	c->record_slot = sd_bus_slot_unref(c->record_slot);
	c->ended_slot = sd_bus_slot_unref(c->ended_slot);
	c->owner_slot = sd_bus_slot_unref(c->owner_slot);
	sd_bus_flush_close_unref(c->bus);
}

const struct svm_transport bus_transport = {
	.devices = bus_devices,
	.list = bus_list,
	.bind_task = bus_bind_task,
	.bind_pgtable = bus_bind_pgtable,
	.bind_pasid_table = bus_bind_pasid_table,
	.bind_smmu_cd_table = bus_bind_smmu_cd_table,
	.open_device = bus_open_device,
	.unbind = bus_unbind,
	.lease = bus_lease,
	.explain = bus_explain,
	.reload = bus_reload,
	.map = bus_map,
	.unmap = bus_unmap,
	.invalidate = bus_invalidate,
	.device_info = bus_device_info,
	.status = bus_status,
	.policy_rules = bus_policy_rules,
	.metrics = bus_metrics,
	.fd = bus_fd,
	.dispatch = bus_dispatch,
	.subscribe = bus_subscribe,
	.close = bus_close,
};
