"""What a run's sentence tells the user to do next, kept apart from the words for it.

A sentence that ends in advice about a run folder ("...; resume with cifar-tui run
--resume X.") is built from an `Advice` value — what happened, the folder, the kind of
advice — so each front end words the advice its own way: `cifar-tui run` and the run's
record name the shell command (COMMAND), the console names its key (tui.app), and
nobody edits a finished sentence as text.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# kind -> the sentence, from {body} (what happened), {fix} (what to do first, with ", then "
# after it) and {run_dir}
COMMAND = {
    "resume": "{body}; {fix}resume with cifar-tui run --resume {run_dir}.",
    "again": "{body}; {fix}resume it again with cifar-tui run --resume {run_dir}.",
    "done": "{body} (add epochs with --set epochs=N).",              # resumed a run that has all its epochs
    "longer": "{body}; resume it with --set epochs=N to train it longer.",  # refused: it has all its epochs
}


@dataclass(frozen=True)
class Advice:
    kind: str      # a key of COMMAND: resume, again, done, longer
    body: str      # what happened, one clause, no full stop
    run_dir: str   # the run folder the advice is about (a resume's target)
    fix: str = ""  # what to do before resuming, e.g. "free some space"

    def say(self, words: dict = COMMAND) -> str:
        """The whole sentence, worded by `words` (kind -> template; COMMAND by default)."""
        return words[self.kind].format(body=self.body, run_dir=self.run_dir,
                                       fix=f"{self.fix}, then " if self.fix else "")

    def to_dict(self) -> dict:
        return asdict(self)


def from_dict(value) -> Advice | None:
    """An Advice read back from a record (None when absent or not one)."""
    try:
        advice = Advice(**value)
    except TypeError:
        return None
    return advice if all(isinstance(v, str) for v in asdict(advice).values()) and advice.kind in COMMAND else None


def resume_advice(body: str, run_dir, fix: str = "", again: bool = False) -> Advice:
    return Advice("again" if again else "resume", body, str(run_dir), fix)
