"""`python tests/workerkill.py ARG...` runs `cifar-tui ARG...`. With WORKERKILL_MARKER set, every
`--parallel` worker (a spawned process imports this file as its main module) writes its pid to that
file once its run folder has config.json, before it tells its parent about the run, and waits
there to be killed: the moment a parent used to report "nothing was recorded"."""
import os
import sys
import time
from pathlib import Path

if __name__ == "__mp_main__" and os.environ.get("WORKERKILL_MARKER"):
    import core.records as records

    made = records.RunRecord.__init__

    def park_after_config(self, *args, **kw):
        made(self, *args, **kw)
        Path(os.environ["WORKERKILL_MARKER"]).write_text(str(os.getpid()))
        while True:
            time.sleep(60)

    records.RunRecord.__init__ = park_after_config

if __name__ == "__main__":
    from tui.cli import main

    sys.exit(main(sys.argv[1:]))
