"""Run by v2's interpreter (tests/compat/test_v2_examples.py): whether v2 accepts each of its
shipped example configs (its component is made from it, in a forked child since v2 may end
the process, without exiting or raising); writes {"<component>/<file>": accepted} as JSON to
the file named by the second argument."""

import importlib
import json
import os
import sys
from pathlib import Path

examples, out = Path(sys.argv[1]), Path(sys.argv[2])
COMPONENTS = ("post", "watch", "poll", "subscribe", "sarra", "shovel", "winnow", "sender", "report")
accepted = {}
for component in COMPONENTS:
    for path in sorted((examples / component).glob("*.conf")):
        module = importlib.import_module(f"sarra.sr_{component}")
        child = os.fork()
        if child == 0:
            try:
                getattr(module, f"sr_{component}")(str(path), None)
            except BaseException:
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        accepted[f"{component}/{path.name}"] = os.waitstatus_to_exitcode(status) == 0
out.write_text(json.dumps(accepted))
