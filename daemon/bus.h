/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The D-Bus face: org.svmd.Broker1 on a bus, a thin translation of method calls into the
 * request core (ops.c) and of its results into replies and typed errors. Nothing is decided
 * here.
 */
#pragma once

#include <stdbool.h>

#include "cleanup.h"

struct bus;
struct core;
struct loop;

/* Connects to address ("system", "session" or a D-Bus address such as unix:path=...),
 * exports the objects and takes the name org.svmd.Broker1. Returns 0 or a negative errno
 * (logged, saying what to do). */
int bus_new(struct loop *loop, struct core *core, const char *address, struct bus **ret);
struct session;
/* After a restart: serves again session s, which a previous svmd served as the unique name its
 * resume note says (registry.h), if that name is still on the bus and the bus says its owner
 * is s's (uid and pid). Returns 0, -ENXIO (the name left), -EPERM, -EINVAL, -ENOMEM: then s is
 * the caller's to end. */
int bus_resume(void *bus, struct session *s, const char *resume);
/* Whether systemd is restarting svmd (its unit's pending job is a restart), asked of PID 1 over
 * this bus; false when it says otherwise or cannot say. */
bool bus_restart_pending(struct bus *b);
/* Before svmd exits for a restart: gives up the name (calls from now on wait for the next
 * svmd, which systemd starts) and answers every call already addressed to this one. */
void bus_hand_over(struct bus *b);
/* Ends every bus session (their bindings that are not leased end) and disconnects. */
struct bus *bus_free(struct bus *b);
DEFINE_FREE_FUNC(struct bus, bus_free);
