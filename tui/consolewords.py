"""How the console words core's advice (core.advice): its key where it has one, a shell
command where it has none. `cifar-tui run` words the same advice for a shell."""
from __future__ import annotations

from core.events import RunEnded

# core.advice's kinds of advice as the console words them: its key where it has one
CONSOLE_WORDS = {
    "resume": "{body}; {fix}resume with r on its row.",
    "again": "{body}; {fix}resume it again with r on its row.",
    "done": "{body}.",
    "longer": "{body}; to train it longer, run cifar-tui run --resume {run_dir} --set epochs=N in a shell.",  # no key
}


def for_console(ended: RunEnded) -> str:
    """A run's end as the console says it (core's message names the shell commands)."""
    return ended.advice.say(CONSOLE_WORDS) if ended.advice is not None else ended.message
