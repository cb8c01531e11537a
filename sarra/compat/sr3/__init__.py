"""sr3's flow callback interface (`sarracenia.flowcb.FlowCB`), onto sarra's flow.

loader     finding the callbacks a config names and making them
adapters   their entry points as hooks of the one plugin table (sarra.compat.plugins)
message    sr3's dict-like message over a Notice, and the worklist
options    `self.o`: the config's options under sr3's names
flowcb     the FlowCB base class
api        the `sarracenia` helpers (times, durations, sizes, file metadata)
shim       the `sarracenia` package for callbacks, when sr3 is not installed
identity, moth, config, transfer
           sr3's checksums, broker I/O, credentials and paths, and server files, as its
           callbacks import them (`sarracenia.identity`...), over sarra's own
builtins   sarra's built-in callbacks under sr3's names (log, nodupe, scheduled, ...) and the
           bases sr3's callbacks subclass (poll.Poll, pclean, authenticate, work.check)
"""
