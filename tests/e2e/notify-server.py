#!/usr/bin/python3
"""A freedesktop notification server for tests/e2e/notify.sh, on the session bus.

Records every Notify call as one JSON line (id, summary, body, actions) in the file given as
the first argument, never closes a notification by itself, and has one more method,
test.Control.Invoke(id, key), which emits ActionInvoked(id, key) then NotificationClosed(id, 2),
as a server does when the user clicks that button. Prints "ready" once it owns the name.
"""
import json
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

IFACE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Server(dbus.service.Object):
    def __init__(self, bus, log):
        self.log = log
        self.last = 0
        # Kept: dropping the BusName releases the name.
        self.name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
        super().__init__(bus, PATH)

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        self.last += 1
        record = {"id": self.last, "app": str(app), "summary": str(summary), "body": str(body),
                  "actions": [str(a) for a in actions], "timeout": int(timeout)}
        with open(self.log, "a") as f:
            f.write(json.dumps(record) + "\n")
        return self.last

    @dbus.service.method(IFACE, out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(IFACE, out_signature="ssss")
    def GetServerInformation(self):
        return ("serve-doctor-test", "serve-doctor", "1", "1.2")

    @dbus.service.method(IFACE, in_signature="u")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, 3)

    @dbus.service.signal(IFACE, signature="us")
    def ActionInvoked(self, nid, key):
        pass

    @dbus.service.signal(IFACE, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass

    @dbus.service.method("test.Control", in_signature="us")
    def Invoke(self, nid, key):
        self.ActionInvoked(nid, key)
        self.NotificationClosed(nid, 2)


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    server = Server(dbus.SessionBus(), sys.argv[1])
    print("ready", flush=True)
    GLib.MainLoop().run()
    del server


if __name__ == "__main__":
    main()
