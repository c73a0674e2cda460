/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * svmd's version: the one place it is written. The Makefile reads it from here too.
 */
#pragma once

#define SVMD_VERSION_STRING "0.1.0"
