"""TensorBoard's HParams dashboard: a run's settings and its end, in the run's own event file.

The hparams plugin builds its table from each run's session-start summary (the settings) and
takes each metric as the last value of a scalar tag the runs log (our four TAGS); so the final
metrics are the last epoch's scalars, and a resume, which purges and rewrites steps, updates
them in place. No experiment summary is written: the plugin would take one run's and ignore
the others', while without one it builds the columns from every run's settings. The plugin
keeps a tag's first metadata, so each summary is written once per run: the start by a fresh
run, the end (status success) only when the run finishes.
"""
from __future__ import annotations

import time

LEFT_OUT = {"data_dir"}  # where the data lives, not how the run trains


def settings(meta: dict) -> dict:
    """The hparams of a run from its config.json: numbers, words and switches (None left out)."""
    out = {"experiment": meta.get("experiment", ""), "group": meta.get("group") or meta.get("run", "")}
    for key, value in (meta.get("config") or {}).items():
        if key in LEFT_OUT or value is None:
            continue
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def start_summary(meta: dict, trial: str):
    """The session-start Summary (settings) for config.json's `meta`; `trial` names the run's
    row (unique per run folder: the plugin merges sessions that share a name)."""
    from tensorboard.plugins.hparams import summary_v2

    return summary_v2.hparams_pb(settings(meta), trial_id=trial,
                                 start_time_secs=float(meta.get("started") or time.time()))


def end_summary():
    """The session-end Summary of a finished run."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData(session_end_info=plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time()))
    out = summary_pb2.Summary()
    out.value.add(tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(data),
                  tensor=metadata.NULL_TENSOR)
    return out
