"""do_get accel_scp (sftp, scp): download files of accel_scp_threshold (default 1M) or more
with scp (accel_scp_command, default `scp -q -B`: batch mode, keys or agent only, as
~/.ssh/config says); smaller ones are left to the built-in sftp. accel_scp_protocol: the
schemes it serves (default sftp,scp)."""

import os
import shlex
import subprocess


class AccelScp:
    def __init__(self, parent):
        parent.declare_option("accel_scp_threshold")
        parent.declare_option("accel_scp_command")
        parent.declare_option("accel_scp_protocol")
        protocols = getattr(parent, "accel_scp_protocol", ["sftp", "scp"])
        self.schemes = [w for v in protocols for w in v.replace(",", " ").split()]
        self.threshold = parent.chunksize_from_str(
            getattr(parent, "accel_scp_threshold", ["1M"])[0]
        )
        self.command = shlex.split(getattr(parent, "accel_scp_command", ["scp -q -B"])[0])

    def registered_as(self):
        return self.schemes

    def do_get(self, parent):
        msg = parent.msg
        if msg.length < self.threshold:
            return None
        url = msg.url
        host = f"{url.username}@{url.hostname}" if url.username else url.hostname
        port = ["-P", str(url.port)] if url.port else []
        final = os.path.join(msg.new_dir, msg.new_file)
        temporary = os.path.join(msg.new_dir, "." + msg.new_file + ".accel")
        os.makedirs(msg.new_dir, exist_ok=True)
        path = "/" + url.path.lstrip("/")
        argv = [*self.command, *port, f"{host}:{path}", temporary]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            parent.logger.error("accel_scp: %s failed (%d): %s", msg.urlstr, result.returncode,
                                result.stderr.strip())  # fmt: skip
            if os.path.exists(temporary):
                os.unlink(temporary)
            return False
        os.replace(temporary, final)
        parent.logger.info("accel_scp: copied %s to %s", msg.urlstr, final)
        return True


self.plugin = "AccelScp"
