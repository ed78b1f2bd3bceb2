"""The run form's values -> a RunConfig, with one sentence per invalid field.

No Textual here: the form widget and the tests both use it.
"""
from __future__ import annotations

from core.config import ConfigError, RunConfig, make_config


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
            name = e.field  # the RunConfig field at fault ('' when none)
            if name not in values or name in errors:
                errors[name or "form"] = str(e)
                return None, errors
            errors[name] = str(e)
            values[name] = getattr(base, name)
            continue
        return (None, errors) if errors else (config, {})
    return None, errors
