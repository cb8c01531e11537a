"""on_file file_rxpipe: write the path of each file received, one a line, to the named pipe
file_rxpipe_name (another program reads it, e.g. to process each file as it arrives). While
no program reads the pipe, names are dropped with a warning. A name that is no pipe is made
a plain file, appended to (tail -f reads it)."""

import errno
import os
import threading


class FileRxpipe:
    def __init__(self, parent):
        parent.declare_option("file_rxpipe_name")
        if not hasattr(parent, "file_rxpipe_name"):
            raise ValueError("file_rxpipe needs the option file_rxpipe_name <path of a fifo>")
        self.name = parent.file_rxpipe_name[0]
        self.fd = None
        self.lock = threading.Lock()

    def _open(self):
        try:
            flags = os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND | os.O_CREAT
            fd = os.open(self.name, flags, 0o644)
        except OSError as err:
            if err.errno != errno.ENXIO:
                raise
            return None  # no reader yet
        os.set_blocking(fd, True)
        return fd

    def on_file(self, parent):
        line = (parent.msg.local_file + "\n").encode()
        with self.lock:
            for _ in range(2):  # a reader that went away: open again once
                if self.fd is None:
                    self.fd = self._open()
                if self.fd is None:
                    parent.logger.warning("file_rxpipe: nobody reads %s: %s not written",
                                          self.name, parent.msg.local_file)  # fmt: skip
                    return True
                try:
                    os.write(self.fd, line)
                    return True
                except BrokenPipeError:
                    os.close(self.fd)
                    self.fd = None
        return True


self.on_file = FileRxpipe(self).on_file
