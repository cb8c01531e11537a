"""do_get accel_wget (http, https): download files of accel_wget_threshold (default 1M) or
more with wget (accel_wget_command, default `wget --quiet`); smaller ones are left to the
built-in download. For servers that need no password (wget is given the URL only).
accel_wget_protocol: the schemes it serves (default http,https)."""

import os
import shlex
import subprocess


class AccelWget:
    def __init__(self, parent):
        parent.declare_option("accel_wget_threshold")
        parent.declare_option("accel_wget_command")
        parent.declare_option("accel_wget_protocol")
        protocols = getattr(parent, "accel_wget_protocol", ["http", "https"])
        self.schemes = [w for v in protocols for w in v.replace(",", " ").split()]
        self.threshold = parent.chunksize_from_str(
            getattr(parent, "accel_wget_threshold", ["1M"])[0]
        )
        self.command = shlex.split(getattr(parent, "accel_wget_command", ["wget --quiet"])[0])

    def registered_as(self):
        return self.schemes

    def do_get(self, parent):
        msg = parent.msg
        if msg.length < self.threshold:
            return None
        final = os.path.join(msg.new_dir, msg.new_file)
        temporary = os.path.join(msg.new_dir, "." + msg.new_file + ".accel")
        os.makedirs(msg.new_dir, exist_ok=True)
        result = subprocess.run([*self.command, "-O", temporary, msg.urlstr],
                                capture_output=True, text=True, check=False)  # fmt: skip
        if result.returncode != 0:
            parent.logger.error("accel_wget: %s failed (%d): %s", msg.urlstr, result.returncode,
                                result.stderr.strip())  # fmt: skip
            if os.path.exists(temporary):
                os.unlink(temporary)
            return False
        os.replace(temporary, final)
        parent.logger.info("accel_wget: downloaded %s to %s", msg.urlstr, final)
        return True


self.plugin = "AccelWget"
