"""Opening a run's record files without being led astray by links.

On a log dir several people share, anyone may put a symlink or a hard link where a record
file belongs (`.lock -> someone's file`). So: every record file is opened with O_NOFOLLOW and
must be a plain file; readers open only files that exist (they never create one in a run
folder); a writer refuses a folder whose record files are links; and a report refuses an
output path that is, by inode, one of a run's record files.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

CONFIG, METRICS_FILE, STATUS, CHECKPOINT, LOCK = (
    "config.json", "metrics.jsonl", "status.json", "checkpoint.pt", ".lock")
PROGRESS = "progress.json"  # where the running epoch is, for followers (core.progress writes it)
RECORD_FILES = (CONFIG, METRICS_FILE, STATUS, PROGRESS, CHECKPOINT, LOCK)
_SAFE = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO planted as .lock must not hang a reader


def open_record(path, flags: int = os.O_RDONLY) -> int:
    """A descriptor of the plain file at `path`, never through a symlink; with O_CREAT in `flags`
    it may create it. A writer (any write flag) also refuses a file with other hard links.
    OSError whose strerror says what is wrong."""
    path = str(path)
    try:
        fd = os.open(path, flags | _SAFE, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link, not a file of the run", path) from None
        raise
    st = os.fstat(fd)
    why = ("it is not a plain file" if not stat.S_ISREG(st.st_mode) else
           "it has other hard links, so writing it would change another file"
           if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1 else "")
    if why:
        os.close(fd)
        raise OSError(errno.EINVAL, why, path)
    return fd


def read_text(path) -> str:
    """The text of a record file (FileNotFoundError if there is none; never creates it)."""
    with os.fdopen(open_record(path), "rb") as f:
        return f.read().decode("utf-8")


def append_file(path):
    """A record file opened for appending (created if missing), refused if it is a link."""
    return os.fdopen(open_record(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a")


def link_problem(run_dir, writer: bool = False) -> str | None:
    """The first record file of `run_dir` that is a link or not a plain file, in words (for a
    writer, a file with other hard links too), or None."""
    for name in RECORD_FILES:
        path = Path(run_dir) / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"{path} cannot be read ({e.strerror or e})"
        if stat.S_ISLNK(st.st_mode):
            return f"{path} is a symbolic link, not a file of the run; remove that file"
        if stat.S_ISDIR(st.st_mode):
            return f"{path} is a folder, not the run's {name} file; remove it (rmdir)"
        if not stat.S_ISREG(st.st_mode):
            return f"{path} is not a plain file; remove that file"
        if writer and st.st_nlink > 1:
            return f"{path} has other hard links, so writing it would change another file; remove that file"
    return None


def _record_inodes(run_dirs) -> dict[tuple, Path]:
    """(st_dev, st_ino) -> path of every record file of `run_dirs` (TensorBoard files and
    error.log included)."""
    found = {}
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        names = [*RECORD_FILES, "error.log", *(p.name for p in run_dir.glob("events.out.tfevents*"))]
        for name in names:
            try:
                st = os.lstat(run_dir / name)
            except OSError:
                continue
            found[st.st_dev, st.st_ino] = run_dir / name
    return found


def output_problem(target, run_dirs=()) -> str | None:
    """Why writing a report to `target` would overwrite a run's record (None if it would not):
    it is one of the record files of `run_dirs` by inode (a hard link or a symlink to one), or
    it is named like a record file inside a run folder."""
    path = Path(target)
    parent = path.parent.resolve() if path.parent.exists() else path.parent
    dirs = [*run_dirs, *([parent] if (parent / CONFIG).is_file() else [])]
    if path.name in (*RECORD_FILES, "error.log") or path.name.startswith("events.out.tfevents"):
        if (parent / CONFIG).is_file():
            return f"{target} is part of the record of the run in {path.parent}; write the report to another file."
    try:
        st = os.stat(path)  # through a symlink: what a plain write would reach
    except OSError:
        return None
    record = _record_inodes(dirs).get((st.st_dev, st.st_ino))
    if record is not None:
        return f"{target} is {record} (the same file), part of a run's record; write the report to another file."
    return None
