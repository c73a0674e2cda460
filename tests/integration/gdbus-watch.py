#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A real D-Bus client library's view of svmd's binding objects, for test-bus.c: a GDBus
# GDBusObjectManagerClient on org.svmd.Broker1, printing one line per object it has at start
# ("have PATH PROPS"), then "ready", then one per object added ("added PATH PROPS") or removed
# ("removed PATH"), and per Released signal it receives ("released PATH REASON MESSAGE").
# PROPS is KEY=VALUE for each cached property of org.svmd.Binding1, sorted; "none" when there is
# none. Exits when stdin closes.   Usage: gdbus-watch.py BUS_ADDRESS
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

IFACE = "org.svmd.Binding1"


def props(obj):
    proxy = obj.get_interface(IFACE)
    names = sorted(proxy.get_cached_property_names() or []) if proxy else []
    if not names:
        return "none"
    return " ".join(f"{n}={proxy.get_cached_property(n).unpack()}" for n in names)


def say(line):
    print(line, flush=True)


def main():
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
             | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)
    manager = Gio.DBusObjectManagerClient.new_sync(
        bus, Gio.DBusObjectManagerClientFlags.NONE, "org.svmd.Broker1", "/org/svmd/Broker1",
        None, None, None)
    for obj in manager.get_objects():
        say(f"have {obj.get_object_path()} {props(obj)}")
    manager.connect("object-added", lambda m, o: say(f"added {o.get_object_path()} {props(o)}"))
    manager.connect("object-removed", lambda m, o: say(f"removed {o.get_object_path()}"))

    def released(conn, sender, path, iface, member, args):
        say(f"released {path} {args[0]} {args[1]}")

    bus.signal_subscribe(None, IFACE, "Released", None, None, Gio.DBusSignalFlags.NONE,
                         released)
    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP,
                      lambda *a: (loop.quit(), False)[1])
    say("ready")
    loop.run()


main()
