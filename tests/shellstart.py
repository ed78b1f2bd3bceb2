"""Start a command as a shell starts it: Ctrl-C's default action and no signal blocked.

A child inherits ignored and blocked signals from the process that starts it; the test run is a
long-lived process whose in-process tests (`run` ignoring a late signal on its way out, ray.init,
a worker's spawn) may leave one changed, and a test about the program's answer to Ctrl-C must not
depend on what ran before it. The prefix resets them, then execs the command (same pid)."""
import sys

PREFIX = [sys.executable, "-c",
          "import os, signal, sys\n"
          "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
          "    signal.signal(s, signal.SIG_DFL)\n"
          "signal.pthread_sigmask(signal.SIG_SETMASK, [])\n"
          "os.execv(sys.argv[1], sys.argv[1:])"]


def as_a_shell_starts(argv: list) -> list:
    return PREFIX + [str(a) for a in argv]
