"""on_file file_log: log each file downloaded, with its local path."""


class FileLog:
    def __init__(self, parent):
        pass

    def on_file(self, parent):
        msg = parent.msg
        parent.logger.info("file_log downloaded to: %s (from %s)", msg.local_file, msg.urlstr)
        return True


self.on_file = FileLog(self).on_file
