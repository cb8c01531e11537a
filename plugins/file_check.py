"""on_file file_check: read the file again and compare its checksum with the notice's (md5 d
or sha512 s); a file that differs is logged and not posted onward (False)."""

import hashlib

ALGORITHMS = {"d": hashlib.md5, "s": hashlib.sha512}


class FileCheck:
    def __init__(self, parent):
        pass

    def on_file(self, parent):
        msg = parent.msg
        flag, _, expected = (msg.sumstr or "").partition(",")
        algorithm = ALGORITHMS.get(flag)
        if algorithm is None:
            parent.logger.debug("file_check: sum %s of %s cannot be checked", flag, msg.local_file)
            return True
        digest = algorithm()
        with open(msg.local_file, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            parent.logger.error("file_check: %s has checksum %s, the notice says %s",
                                msg.local_file, digest.hexdigest(), expected)  # fmt: skip
            return False
        parent.logger.info("file_check: %s checksum verified", msg.local_file)
        return True


self.on_file = FileCheck(self).on_file
