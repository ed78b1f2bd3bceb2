"""The Ray options and the driver's own wording, without a cluster: option checks, where Ray's own
lines go, and the sentences that refuse nodes (tests/test_ray_nodes.py shows them on real nodes)."""
import json
import logging

import pytest

from core.ray_logs import RayLog
from core.ray_nodes import MISMATCH, refusal, task_failure
from core.ray_retries import retry_line
from tui.cli import main

MINE = ("0.1.0", "abcd1234")


@pytest.mark.parametrize("args, expected", [
    (["--cpus-per-run", "0"], "--cpus-per-run: 0 is too few; use 1 or more, e.g. --cpus-per-run 2."),
    (["--cpus-per-run", "-2"], "--cpus-per-run: -2 is too few; use 1 or more, e.g. --cpus-per-run 2."),
    (["--cpus-per-run", "two"], "--cpus-per-run: 'two' is not a whole number; use 1 or more, e.g. --cpus-per-run 2."),
    (["--max-retries", "-1"], "--max-retries: -1 is too few; use 0 or more, e.g. --max-retries 3."),
    (["--max-retries", "1.5"], "--max-retries: '1.5' is not a whole number; use 0 or more, e.g. --max-retries 3."),
])
@pytest.mark.parametrize("command", [["run", "quick-demo", "--ray"], ["--ray"]], ids=["run", "console"])
def test_bad_ray_task_options_are_one_sentence_and_exit_2(capsys, tmp_path, command, args, expected):
    assert main([*command, *args, "--logdir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"cifar-tui: {expected}\n"
    assert not (tmp_path / "runs").exists()  # refused before Ray starts


OPTIONS = [["--cpus-per-run", "2"], ["--max-retries", "0"], ["--ray-ship-code"]]


@pytest.mark.parametrize("command, option", [(["run", "quick-demo"], o) for o in OPTIONS + [["--verbose"]]]
                         + [([], o) for o in OPTIONS])  # the console has no --verbose
def test_ray_options_without_ray_say_to_add_it(capsys, tmp_path, command, option):
    assert main([*command, *option, "--logdir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"cifar-tui: {option[0]} is about Ray tasks; add --ray (or leave {option[0]} out).\n"


def ray_says(text: str, printed: str) -> None:
    """A line as Ray's loggers write it, and one as Ray's error listener prints it."""
    import ray._private.worker as worker

    logging.getLogger("ray._private.worker").warning(text)
    worker.print_to_stdstream({"lines": [printed], "pid": "raylet", "is_err": False}, ignore_prefix=False)


@pytest.mark.parametrize("verbose", [False, True])
def test_rays_own_lines_wait_for_the_checks_then_go_to_the_log_file(tmp_path, capsys, verbose):
    import ray._private.worker as worker

    printing = worker.print_to_stdstream
    log = RayLog(tmp_path, verbose).open()
    ray_says("connecting", "Task failed; it will be retried")
    assert not (tmp_path / ".ray").exists()  # a command refused now leaves nothing
    log.keep()
    ray_says("node marked dead", "Node 3f2a1b4c is dead")
    log.close()
    assert worker.print_to_stdstream is printing  # Ray's own printing is back
    lines = (tmp_path / ".ray" / "driver.log").read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["connecting", "(raylet) Task failed; it will be retried",
                                                          "node marked dead", "(raylet) Node 3f2a1b4c is dead"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert [line.split(": ", 1)[1] for line in captured.err.splitlines()] == ([line.split(": ", 1)[1] for line in lines]
                                                                              if verbose else [])


def test_a_refused_command_leaves_no_log_file(tmp_path):
    log = RayLog(tmp_path).open()
    ray_says("joining", "a raylet line")
    log.close()
    assert not (tmp_path / ".ray").exists()


@pytest.mark.parametrize("found, expected", [
    ([("aaaa (10.0.0.7)", (None, None, True))],
     "the Ray node cannot run this machine's cifar-tui 0.1.0 (code abcd1234): aaaa (10.0.0.7) has none; add "
     "--ray-ship-code to send this machine's code to the nodes, or install cifar-tui 0.1.0 on every node."),
    ([("aaaa (10.0.0.7)", ("0.1.0", "abcd1234", True)), ("bbbb (10.0.0.7)", ("0.1.0", "99999999", True))],
     "the Ray node cannot run this machine's cifar-tui 0.1.0 (code abcd1234): bbbb (10.0.0.7) has another build "
     "of 0.1.0 (code 99999999); add --ray-ship-code to send this machine's code to the nodes, or install "
     "cifar-tui 0.1.0 on every node."),
    ([("aaaa (10.0.0.7)", ("0.1.0", "abcd1234", False))],
     "the Ray node aaaa (10.0.0.7) has no PyTorch; install torch there (pip install torch) and try again."),
    ([("aaaa (10.0.0.7)", ("0.1.0", "abcd1234", True))], None),
])
def test_nodes_are_refused_by_name_with_both_versions(found, expected):
    assert refusal(found, MINE, ship_code=False) == expected


def test_with_shipped_code_a_node_that_still_differs_needs_an_install():
    sentence = refusal([("aaaa (10.0.0.7)", ("0.0.9", "77777777", True))], MINE, ship_code=True)
    assert sentence.endswith("aaaa (10.0.0.7) has 0.0.9 (code 77777777); install cifar-tui 0.1.0 on every node "
                             "(the same code as here).")


class TaskError(Exception):
    """What Ray raises for a task whose own code failed: its cause, and the text with the worker's IP."""
    def __init__(self, text, cause):
        super().__init__(text)
        self.cause = cause


def test_a_task_that_landed_on_a_node_without_this_cifar_tui_is_refused_by_name():
    """What core.ray_nodes.checked raises on such a node, as the driver words it."""
    node = "3f2a1b4c" + "0" * 48
    for found, says in ((None, "3f2a1b4c (10.0.0.9) has none"), ("0.0.9", "3f2a1b4c (10.0.0.9) has 0.0.9 (code 77777777)")):
        cause = RuntimeError(f"{MISMATCH} {json.dumps([node, '10.0.0.9', found, found and '77777777'])}")
        sentence = task_failure(TaskError(f"ray::run() (pid=3006, ip=10.0.0.9)\n{cause}", cause), ship_code=False)
        assert sentence.startswith("the Ray node cannot run this machine's cifar-tui 0.1.0 (code ")
        assert f"): {says}; add --ray-ship-code to send this machine's code to the nodes" in sentence
    assert task_failure(TaskError("x", ValueError("bad  value\n here")), False) == "the Ray task failed: bad value here"


def test_a_retry_says_whether_the_node_or_only_its_worker_was_lost():
    earlier = {"node_id": "3f2a1b4c" + "0" * 48, "ip": "10.0.0.7", "first_epoch": 1}
    now = {"node_id": "9e8d7c6b" + "0" * 48, "ip": "10.0.0.8", "first_epoch": 3}
    assert retry_line(earlier, now, 2, 2, alive={now["node_id"]}) == (
        "its node 3f2a1b4c (10.0.0.7) was lost; retry 1 of 2 resumes at epoch 3 on node 9e8d7c6b (10.0.0.8)")
    assert retry_line(earlier, now, 3, 4, alive={earlier["node_id"], now["node_id"]}).startswith(
        "its worker on node 3f2a1b4c (10.0.0.7) was lost; retry 2 of 4 resumes at epoch 3")


def test_the_raylets_word_that_a_node_died_is_kept(tmp_path):
    """Ray's node table calls a killed node alive until its heartbeats are overdue; the raylet's
    message about the failed task says it at once."""
    dead, other = "2f2f53ec" + "a" * 48, "9e8d7c6b" + "b" * 48
    log = RayLog(tmp_path).open()
    ray_says("joining", f"Task _train_task failed. There are 2 retries remaining, so the task will be retried. "
                        f"Error: Task failed because the node it was running on is dead or unavailable. Node IP: "
                        f"10.0.0.7, node ID: {dead}. This can happen if the node was preempted")
    ray_says("joining", f"A worker died or was killed while executing a task. Node ID: {other} Worker PID: 7")
    log.close()
    assert log.dead == {dead}
