"""on_message msg_sundew_pxroute: route WMO bulletins with a Sundew routing table.

Options: msg_pxrouting <file> (the table) and msg_pxclient <name[,name...]> (the clients this
config feeds), also written pxrouting and pxclient. The table has one entry a line (# starts
a comment):

    clientAlias <alias> <client>[,<client>...]
    key <TTAAii_CCCC> <client or alias>[,...] [priority]

A notice is accepted when the key of its file name (its first two `_`-separated words, e.g.
SACN31_CWAO of SACN31_CWAO_211200__...) routes to one of pxclient; the others are skipped.
"""

import os


class SundewPxRoute:
    def __init__(self, parent):
        for name in ("msg_pxrouting", "msg_pxclient", "pxrouting", "pxclient"):
            parent.declare_option(name)
        routing = getattr(parent, "msg_pxrouting", None) or getattr(parent, "pxrouting", None)
        clients = getattr(parent, "msg_pxclient", None) or getattr(parent, "pxclient", None)
        if not routing or not clients:
            raise ValueError("msg_sundew_pxroute needs the options msg_pxrouting and msg_pxclient")
        self.clients = {c.strip() for c in ",".join(clients).split(",") if c.strip()}
        self.routes = self._read(routing[0])

    @staticmethod
    def _read(path):
        aliases = {}
        routes = {}
        with open(path, encoding="utf-8") as table:
            for number, line in enumerate(table, start=1):
                words = line.split("#", 1)[0].split()
                if not words:
                    continue
                if words[0] == "clientAlias" and len(words) >= 3:
                    aliases[words[1]] = words[2].split(",")
                elif words[0] == "key" and len(words) >= 3:
                    routes[words[1]] = words[2].split(",")
                else:
                    raise ValueError(f"{path}:{number}: not clientAlias or key: {line.strip()}")
        for key, names in routes.items():
            clients = set()
            for name in names:
                clients.update(aliases.get(name, [name]))
            routes[key] = clients
        return routes

    def on_message(self, parent):
        msg = parent.msg
        name = os.path.basename(msg.relpath)
        key = "_".join(name.split(":", 1)[0].split("_")[:2])
        routed = self.routes.get(key, set())
        if routed & self.clients:
            return True
        parent.logger.debug("msg_sundew_pxroute: %s (key %s) not routed to %s", name, key,
                            ",".join(sorted(self.clients)))  # fmt: skip
        return False


self.on_message = SundewPxRoute(self).on_message
