"""do_get accel_cp (file: URLs): copy files of accel_cp_threshold (default 1M) or more with
the `cp` command (accel_cp_command, default `cp --preserve=timestamps`); smaller ones are
left to the built-in copy. Only files below base_dir are copied, as the built-in copy does.
accel_cp_protocol: the schemes it serves (default file)."""

import os
import shlex
import subprocess


class AccelCp:
    def __init__(self, parent):
        parent.declare_option("accel_cp_threshold")
        parent.declare_option("accel_cp_command")
        parent.declare_option("accel_cp_protocol")
        protocols = getattr(parent, "accel_cp_protocol", ["file"])
        self.schemes = [w for v in protocols for w in v.replace(",", " ").split()]
        self.threshold = parent.chunksize_from_str(getattr(parent, "accel_cp_threshold", ["1M"])[0])
        command = getattr(parent, "accel_cp_command", ["cp --preserve=timestamps"])[0]
        self.command = shlex.split(command)

    def registered_as(self):
        return self.schemes

    def do_get(self, parent):
        msg = parent.msg
        if msg.length < self.threshold:
            return None
        source = os.path.realpath(msg.url.path)
        base_dir = os.path.realpath(parent.base_dir) if parent.base_dir else None
        if base_dir is None or os.path.commonpath([source, base_dir]) != base_dir:
            parent.logger.error("accel_cp: %s is not below base_dir %s", source, base_dir)
            return False
        final = os.path.join(msg.new_dir, msg.new_file)
        temporary = os.path.join(msg.new_dir, "." + msg.new_file + ".accel")
        os.makedirs(msg.new_dir, exist_ok=True)
        result = subprocess.run([*self.command, source, temporary], capture_output=True,
                                text=True, check=False)  # fmt: skip
        if result.returncode != 0:
            parent.logger.error("accel_cp: %s failed (%d): %s", self.command[0],
                                result.returncode, result.stderr.strip())  # fmt: skip
            if os.path.exists(temporary):
                os.unlink(temporary)
            return False
        os.replace(temporary, final)
        parent.logger.info("accel_cp: copied %s to %s", source, final)
        return True


self.plugin = "AccelCp"
