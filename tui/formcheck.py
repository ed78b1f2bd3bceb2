"""The run form's values -> a RunConfig, with one sentence per invalid field.

No Textual here: the form widget and the tests both use it.
"""
from __future__ import annotations

import re

from core.config import FIELDS, ConfigError, RunConfig, make_config

_FIELD = re.compile(r"^(\w+):")


def field_of(error: ConfigError) -> str:
    """The RunConfig field a ConfigError is about ('' if it names none)."""
    m = _FIELD.match(str(error))
    return m.group(1) if m and m.group(1) in FIELDS else ""


def check(values: dict, base: RunConfig) -> tuple[RunConfig | None, dict[str, str]]:
    """Validate the form's `values` over `base`.

    Returns (config, {}) when valid, else (None, {field: ConfigError sentence}).
    Every bad field is reported, not only the first: a field found bad is put
    back to its `base` value and the rest is checked again.
    """
    values, errors = dict(values), {}
    for _ in range(len(values) + 1):
        try:
            config = make_config(values, base)
        except ConfigError as e:
            name = field_of(e)
            if name not in values or name in errors:
                errors[name or "form"] = str(e)
                return None, errors
            errors[name] = str(e)
            values[name] = getattr(base, name)
            continue
        return (None, errors) if errors else (config, {})
    return None, errors
