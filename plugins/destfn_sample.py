"""destfn_script destfn_sample: an example of a file-name script: the file is written as
renamed_<name>. A destfn_script sets parent.new_file (or returns the new name)."""


class DestfnSample:
    def __init__(self, parent):
        pass

    def destfn_script(self, parent):
        parent.new_file = "renamed_" + parent.new_file
        return True


self.destfn_script = DestfnSample(self).destfn_script
