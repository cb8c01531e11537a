"""on_message msg_sundew_pxroute: route WMO bulletins with a Sundew routing table.

Options: pxrouting <file> (the table) and pxclient <name[,name...]> (the clients this config
feeds). The table has one entry a line (# starts a comment):

    clientAlias <alias> <client>[,<client>...]
    key <TTAAii_CCCC> <client or alias>[,...] [priority]

A notice is accepted when the key of its file name (its first two `_`-separated words, e.g.
SACN31_CWAO of SACN31_CWAO_211200__...) routes to one of pxclient; the others are skipped.
"""

import os


class SundewPxRoute:
    def __init__(self, parent):
        parent.declare_option("pxrouting")
        parent.declare_option("pxclient")
        if not hasattr(parent, "pxrouting") or not hasattr(parent, "pxclient"):
            raise ValueError("msg_sundew_pxroute needs the options pxrouting and pxclient")
        self.clients = {c.strip() for c in ",".join(parent.pxclient).split(",") if c.strip()}
        self.routes = self._read(parent.pxrouting[0])

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
