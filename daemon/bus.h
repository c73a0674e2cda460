/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The D-Bus face: org.svmd.Broker1 on a bus, a thin translation of method calls into the
 * request core (ops.c) and of its results into replies and typed errors. Nothing is decided
 * here.
 */
#pragma once

#include "cleanup.h"

struct bus;
struct core;
struct loop;

/* Connects to address ("system", "session" or a D-Bus address such as unix:path=...),
 * exports the objects and takes the name org.svmd.Broker1. Returns 0 or a negative errno
 * (logged, saying what to do). */
int bus_new(struct loop *loop, struct core *core, const char *address, struct bus **ret);
/* Ends every bus session (their bindings that are not leased end) and disconnects. */
struct bus *bus_free(struct bus *b);
DEFINE_FREE_FUNC(struct bus, bus_free);
