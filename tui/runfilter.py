"""`/` in the console: which runs the table and the charts show.

A filter is words separated by spaces; a run is shown when every word matches it:

- `lr=0.01`, `optimizer!=sgd`, `epochs>=20`: a setting compared with a value (numbers as numbers,
  so `lr=1e-2` is `lr=0.01`; true/false, yes/no, on/off for switches);
- `finished`, `running`, ...: the run's status;
- any other word: part of the run's name, or one of its settings' values (`adam`, `l2`,
  `synthetic`), or a switch that is on (`augment`, `norm`);
- `!word`: the runs the word does not match.

Plain Python over RunView (no Textual), so the tests drive it directly.
"""
from __future__ import annotations

import dataclasses
import operator
import re
from dataclasses import dataclass

from core.config import RunConfig
from tui.confdiff import NUMBERS, SWITCHES

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "interrupted", "skipped")
SETTINGS = [f.name for f in dataclasses.fields(RunConfig)]
# the words the table's settings column uses, as names of the settings they show
ALIASES = {**{word: key for key, (word, _) in NUMBERS.items()}, **{short: key for key, (_, short) in NUMBERS.items()},
           **{short: key for key, (_, short) in SWITCHES.items()}, "opt": "optimizer", "reg": "regularizer",
           "batch": "batch_size", "λ": "reg_strength", "strength": "reg_strength"}
ON = {word: key for key, words in SWITCHES.items() for word in (key, *words)}  # a bare switch word: it is on
RUN_FIELDS = ("status", "name", "experiment", "group")  # compared like settings, from the run itself
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
OPERATORS = {"!=": operator.ne, ">=": operator.ge, "<=": operator.le, "=": operator.eq, ">": operator.gt,
             "<": operator.lt}
COMPARISON = re.compile(r"^([^=!<>]+)(!=|>=|<=|=|>|<)(.*)$")


class FilterError(ValueError):
    """A word of the filter cannot be read: one sentence saying which and what to write instead."""


@dataclass(frozen=True)
class Term:
    negated: bool
    key: str | None  # a setting or run field; None: a bare word
    op: str
    value: str

    def matches(self, view) -> bool:
        return self.negated != (self._compare(view) if self.key else _word(self.value, view))

    def _compare(self, view) -> bool:
        actual = getattr(view, self.key) if self.key in RUN_FIELDS else view.config.get(self.key)
        compare = OPERATORS[self.op]
        if isinstance(actual, bool) or self.value in TRUE + FALSE:
            return compare(_truth(actual), self.value in TRUE) if self.op in ("=", "!=") else False
        number = _number(self.value)
        if number is not None and isinstance(actual, (int, float)):
            return compare(float(actual), number)
        if self.op not in ("=", "!="):
            return False
        text = "default" if actual is None else str(actual).lower()
        return compare(text, self.value)


@dataclass(frozen=True)
class RunFilter:
    text: str = ""
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, view) -> bool:
        return all(term.matches(view) for term in self.terms)


def parse(text: str) -> RunFilter:
    """The filter `text` as typed; FilterError names the first word that cannot be read."""
    return RunFilter(" ".join(text.split()), tuple(_term(word) for word in text.split()))


def _term(word: str) -> Term:
    negated = word.startswith("!") and not word.startswith("!=")
    body = word[1:] if negated else word
    if not body:
        raise FilterError("a lone ! negates nothing: write it before a word, e.g. !finished.")
    found = COMPARISON.match(body)
    if found is None:
        return Term(negated, None, "", body.lower())
    name, op, value = found.group(1).lower(), found.group(2), found.group(3).lower()
    key = name if name in SETTINGS or name in RUN_FIELDS else ALIASES.get(name)
    if key is None:
        raise FilterError(f"{word}: no setting is called {name}; use one of {', '.join(SETTINGS + list(RUN_FIELDS))}.")
    if not value:
        raise FilterError(f"{word}: give a value after {op}, e.g. lr=0.01.")
    if op not in ("=", "!=") and _number(value) is None:
        raise FilterError(f"{word}: {op} compares numbers; {value} is not one (e.g. lr<0.01).")
    return Term(negated, key, op, value)


def _word(word: str, view) -> bool:
    if word in STATUSES:
        return view.status == word
    if word in ON:
        return bool(view.config.get(ON[word]))
    values = {str(v).lower() for v in view.config.values() if v is not None and not isinstance(v, bool)}
    return word in view.label.lower() or word in values or (_number(word) is not None and any(
        _number(v) == _number(word) for v in values))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _truth(value) -> bool:
    return value.lower() in TRUE if isinstance(value, str) else bool(value)
