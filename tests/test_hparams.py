"""TensorBoard's HParams dashboard reads each run's settings and final metrics from the run's
own event file: once per run, also after a stop and a resume (read back with TensorBoard's
event multiplexer, the hparams plugin's metadata parser and its session-groups handler)."""
import json
import threading
from pathlib import Path

import pytest

from core.config import make_config
from core.data import synthetic
from core.events import EpochDone
from core.lifecycle import train
from core.records import METRICS, TAGS, read_metrics

SMALL = synthetic(300, 100)


def cfg(**kw):
    return make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 50, "device": "cpu",
                        "train_fraction": 1.0, **kw})


def multiplexer(logdir):
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    return mux


def session_groups(logdir, mux):
    """What the dashboard's table lists: the hparams plugin's own ListSessionGroups answer."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=mux,
                                                            data_provider=provider))
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=[
        api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING])
    handler = list_session_groups.Handler(context.RequestContext(), backend, "", request)
    return {g.name: g for g in handler.run().session_groups}


def _value(v):
    kind = v.WhichOneof("kind")
    return {"number_value": v.number_value, "string_value": v.string_value, "bool_value": v.bool_value}[kind]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two runs: `plain` trained straight through, `resumed` stopped after epoch 1 (its HParams
    read then) and resumed to the end."""
    logdir = tmp_path_factory.mktemp("hp")
    plain = train(cfg(), logdir=str(logdir), experiment="hp", run="plain", dataset=SMALL)
    stop = threading.Event()

    def stop_after_first(event):
        if isinstance(event, EpochDone) and event.epoch == 1:
            stop.set()

    part = train(cfg(lr=0.01, augment=True, regularizer="l2"), stop_after_first, stop, logdir=str(logdir),
                 experiment="hp", run="resumed", dataset=SMALL)
    assert part.status == "stopped"
    stopped = session_groups(logdir, multiplexer(logdir))
    assert train(cfg(lr=0.01, augment=True, regularizer="l2"), dataset=SMALL,
                 resume_dir=part.run_dir).status == "finished"
    return logdir, {"plain": Path(plain.run_dir), "resumed": Path(part.run_dir)}, stopped


def test_each_run_is_one_row_with_its_settings_and_last_metrics(study):
    from tensorboard.plugins.hparams import api_pb2

    logdir, runs, _ = study
    groups = session_groups(logdir, multiplexer(logdir))
    assert sorted(groups) == ["hp/plain", "hp/resumed"]  # no sub-run folders: one row per run
    for name, run_dir in runs.items():
        group = groups[f"hp/{name}"]
        meta = json.loads((run_dir / "config.json").read_text())
        hparams = {k: _value(v) for k, v in group.hparams.items()}
        assert hparams["lr"] == meta["config"]["lr"] and hparams["augment"] is meta["config"]["augment"]
        assert hparams["regularizer"] == meta["config"]["regularizer"]
        assert hparams["group"] == name and "data_dir" not in hparams
        last = read_metrics(run_dir)[-1]
        assert last["epoch"] == 3
        values = {m.name.tag: m.value for m in group.metric_values}
        for key in METRICS:
            assert values[TAGS[key]] == pytest.approx(last[key], rel=1e-6)
        (session,) = group.sessions
        assert session.status == api_pb2.STATUS_SUCCESS


def test_a_resume_updates_the_final_metrics_and_adds_no_second_entry(study):
    from tensorboard.plugins.hparams import api_pb2, metadata

    logdir, runs, stopped = study
    first = read_metrics(runs["resumed"])[0]
    before = {m.name.tag: m.value for m in stopped["hp/resumed"].metric_values}
    assert before[TAGS["test_acc"]] == pytest.approx(first["test_acc"], rel=1e-6)  # epoch 1's, then
    (session,) = stopped["hp/resumed"].sessions
    assert session.status == api_pb2.STATUS_UNKNOWN  # stopped: no end written yet
    assert len(list(runs["resumed"].glob("events.out.tfevents.*"))) == 2  # the resume's own file
    mux = multiplexer(logdir)
    content = mux.PluginRunToTagToContent(metadata.PLUGIN_NAME)
    for name in runs:
        tags = content[f"hp/{name}"]
        start = metadata.parse_session_start_info_plugin_data(tags[metadata.SESSION_START_INFO_TAG])
        end = metadata.parse_session_end_info_plugin_data(tags[metadata.SESSION_END_INFO_TAG])
        assert start.group_name == f"hp/{name}" and end.status == api_pb2.STATUS_SUCCESS
        for tag in (metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG):
            assert len(mux.Tensors(f"hp/{name}", tag)) == 1, (name, tag)  # once each
    after = {m.name.tag: m.value for m in session_groups(logdir, mux)["hp/resumed"].metric_values}
    assert after[TAGS["test_acc"]] == pytest.approx(read_metrics(runs["resumed"])[-1]["test_acc"], rel=1e-6)
