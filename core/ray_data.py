"""CIFAR-10 through Ray's object store: the driver loads each data set once (downloading it
if it must) and puts its arrays there; every task reads them from there. No node downloads or
reads the data dir, so nodes without the internet, or without the driver's disk, train too.

The arrays travel as numpy arrays: a task on a node maps them from that node's object store
without a copy (Ray moves them to each node once, not once per task).
"""
from __future__ import annotations

import warnings

from . import data as data_mod
from .events import RunEnded
from .job import Job

FIELDS = ("train_x", "train_y", "test_x", "test_y")


def put_data(ray, jobs: list[Job], on_event, ended: dict, url=None, md5=None) -> tuple[list[Job], dict]:
    """(the jobs that can start, {job.key: object ref of their data set's arrays}). A CIFAR-10
    data set is loaded once per data dir; where that fails, its runs fail as they would here
    (cause data, no run folder) and the others go on. Synthetic data is made by each task."""
    refs, failed, keep, by_job = {}, {}, [], {}
    for job in jobs:
        if job.config.dataset != "cifar10":
            keep.append(job)
            continue
        key = data_mod.data_key(job.config)
        if key not in refs and key not in failed:
            try:
                dataset = data_mod.load_cifar10(job.config.data_dir, url, md5)
                refs[key] = ray.put({f: getattr(dataset, f).numpy() for f in FIELDS})
            except data_mod.DataError as e:
                failed[key] = str(e)
        if key in failed:
            ended[job.key] = RunEnded(job.name, "failed", failed[key], cause="data")
            on_event(job.key, ended[job.key])
        else:
            keep.append(job)
            by_job[job.key] = refs[key]
    return keep, by_job


def dataset_of(arrays: dict | None) -> data_mod.Dataset | None:
    """On a node: the data set the driver sent (None: none was sent, the task makes its own)."""
    if arrays is None:
        return None
    import torch

    with warnings.catch_warnings():  # read-only arrays: the runs only read them (core.data.SharedData)
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return data_mod.Dataset(*(torch.from_numpy(arrays[f]) for f in FIELDS))
