"""on_part part_clamav_scan: scan each part (or whole file) downloaded with ClamAV's clamd;
an infected one is logged and goes no further (False: not posted onward).

Options: part_clamav_socket (default /var/run/clamav/clamd.ctl; host:port for TCP) and
part_clamav_maxblock (scan only files of at most this size, default 0 = all). Uses pyclamd
when installed, else speaks clamd's INSTREAM protocol itself. When no clamd answers, scanning
is skipped with one warning (and again whenever clamd comes back and goes away).
"""

import os
import socket
import struct

CHUNK = 1 << 16


class ClamdUnavailable(Exception):
    pass


class ClamavScan:
    def __init__(self, parent):
        parent.declare_option("part_clamav_socket")
        parent.declare_option("part_clamav_maxblock")
        self.address = getattr(parent, "part_clamav_socket", ["/var/run/clamav/clamd.ctl"])[0]
        self.maxblock = parent.chunksize_from_str(getattr(parent, "part_clamav_maxblock", ["0"])[0])
        self.available = True

    def _connect(self):
        try:
            if ":" in self.address and not self.address.startswith("/"):
                host, _, port = self.address.rpartition(":")
                return socket.create_connection((host, int(port)), timeout=60)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(60)
            sock.connect(self.address)
            return sock
        except OSError as err:
            raise ClamdUnavailable(f"{self.address}: {err.strerror or err}") from None

    def scan(self, path):
        """The name of the virus found, or None."""
        with self._connect() as sock, open(path, "rb") as file:
            sock.sendall(b"zINSTREAM\0")
            while chunk := file.read(CHUNK):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        answer = reply.rstrip(b"\0").decode(errors="replace")
        if answer.endswith("FOUND"):
            return answer.split(":", 1)[-1].strip()[: -len("FOUND")].strip()
        if not answer.endswith("OK"):
            raise RuntimeError(f"clamd: {answer}")
        return None

    def on_part(self, parent):
        path = parent.msg.local_file
        if self.maxblock and os.path.getsize(path) > self.maxblock:
            return True
        try:
            virus = self.scan(path)
        except ClamdUnavailable as err:
            if self.available:
                parent.logger.warning("part_clamav_scan: no clamd (%s): files not scanned", err)
                self.available = False
            return True
        if not self.available:
            parent.logger.info("part_clamav_scan: clamd answers again: scanning")
            self.available = True
        if virus:
            parent.logger.error("part_clamav_scan: %s is infected (%s): not passed on", path,
                                virus)  # fmt: skip
            return False
        parent.logger.info("part_clamav_scan: %s is clean", path)
        return True


self.on_part = ClamavScan(self).on_part
