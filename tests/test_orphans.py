"""No orphans: the workers of `bench --concurrent` and `run --parallel` end with their parent,
whether it is stopped by a signal it handles or killed outright (SIGKILL).

Workers are seen through /proc (their parent's pid in /proc/PID/stat), real processes all the way."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shellstart import as_a_shell_starts
from core.records import lock_owner, read_metrics, read_run
from core.resume import resume_problem
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE_S = 120  # ten times what a loaded 2-core machine needs


def cli(*args, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    return subprocess.Popen(as_a_shell_starts([sys.executable, "-m", "tui.cli", *args]), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def wait_until(condition, what, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is dead: nobody may be there to reap an orphan)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def workers(pid: int) -> list[int]:
    """The multiprocessing workers a cifar-tui process started (not its resource tracker)."""
    def cmdline(child):
        try:
            return Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            return b""
    return [c for c in children(pid) if b"spawn_main" in cmdline(c) and b"resource_tracker" not in cmdline(c)]


def kill_all(pids) -> None:
    """Whatever a failed test left running (an orphan has init as its parent: found by pid)."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="watches processes through /proc")


def test_bench_concurrent_above_the_cores_is_one_sentence_and_starts_nothing(capsys):
    cores = len(os.sched_getaffinity(0))
    before = children(os.getpid())
    assert main(["bench", "--concurrent", f"1,{cores + 1}", "--set", "device=cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cifar-tui: --concurrent: {cores + 1} runs at once is more than this machine's {cores} "
                          f"CPU core(s) (one run per core); use at most {cores}, e.g. --concurrent 1")
    assert err.endswith(f",{cores}.\n" if cores > 1 else " 1.\n") and err.count("\n") == 1
    assert children(os.getpid()) == before  # nothing spawned


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL", "SIGINT to its process group"])
def test_bench_concurrent_workers_end_with_the_bench(how):
    """The bench times for hours (huge --repeats); the signal lands once both workers exist."""
    proc = cli("bench", "--concurrent", "2", "--set", "device=cpu", "--train-images", "64", "--test-images", "16",
               "--repeats", "1000000", start_new_session=True)
    pids = []
    try:
        pids = wait_until(lambda: len(workers(proc.pid)) == 2 and workers(proc.pid), "the two workers")
        if how.startswith("SIGINT"):
            os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the workers get it too
        else:
            os.kill(proc.pid, getattr(signal, how))
        out, _ = proc.communicate(timeout=DEADLINE_S)
        wait_until(lambda: not any(alive(p) for p in pids), "the workers to end")
        if how.startswith("SIGINT"):
            assert proc.returncode == 130 and out.strip() == "cifar-tui: interrupted.", out
    finally:
        kill_all([proc.pid, *pids, *workers(proc.pid)])
        proc.wait()


def test_parallel_workers_stop_cleanly_when_their_parent_is_killed(tmp_path):
    """SIGKILL gives the parent no chance to stop its workers: each stops itself within a batch,
    its record stopped and resumable, rather than training on as an orphan."""
    proc = cli("run", "quick-demo", "--logdir", str(tmp_path), "--parallel", "2", "--set", "epochs=500",
               "--set", "train_fraction=0.05", "--set", "batch_size=100", "--set", "device=cpu")
    dirs = [tmp_path / "quick-demo" / name for name in ("baseline", "augmentation+normalization")]
    pids = []
    try:
        wait_until(lambda: all(read_metrics(d) for d in dirs) or proc.poll() is not None, "an epoch of each run")
        pids = [lock_owner(d)["pid"] for d in dirs]
        assert sorted(pids) == sorted(workers(proc.pid))
        proc.kill()
        proc.communicate(timeout=DEADLINE_S)
        wait_until(lambda: not any(alive(p) for p in pids), "the workers to end")
    finally:
        kill_all([proc.pid, *pids, *workers(proc.pid)])
        proc.wait()
    for d in dirs:
        info = read_run(d)
        assert info.status == "stopped" and resume_problem(info) is None, info.message
        assert f"--resume {d}" in info.message
        assert torch.load(d / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics) < 500


def test_a_worker_killed_after_writing_config_json_names_its_folder(tmp_path):
    """Killed before it could tell its parent about the run: the folder exists and resumes."""
    marker = tmp_path / "worker.pid"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, "WORKERKILL_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "workerkill.py"), "run", "--name", "v",
                             "--logdir", str(tmp_path / "logs"), "--parallel", "1", "--set", "dataset=synthetic",
                             "--set", "epochs=1", "--set", "train_fraction=0.02", "--set", "device=cpu"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        pid = int(wait_until(lambda: marker.is_file() and marker.read_text(), "the worker to park"))
        os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=DEADLINE_S)
    finally:
        kill_all([proc.pid])
        proc.wait()
    folder = tmp_path / "logs" / "custom" / "v"
    assert proc.returncode == 1 and "nothing was recorded" not in out, out
    assert f"the worker process was killed by SIGKILL (out of memory?) after 0 finished epoch(s); resume with " \
           f"cifar-tui run --resume {folder}." in " ".join(out.split()), out
    info = read_run(folder)
    assert info.status == "failed" and resume_problem(info) is None
    env.pop("WORKERKILL_MARKER")
    resumed = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--resume", str(folder)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=DEADLINE_S)
    assert resumed.returncode == 0 and read_run(folder).status == "finished", resumed.stdout + resumed.stderr
