"""A resume's TensorBoard file must sort after the files it carries on: TensorBoard reads a run's
event files in name order (start second, host, pid), and drops epochs read out of order."""
import time

from core.records import _event_writer


def test_a_resume_in_the_same_second_still_writes_the_last_file_by_name(tmp_path):
    earlier = tmp_path / f"events.out.tfevents.{int(time.time())}.~~~host-sorting-last.99999.0"
    earlier.write_bytes(b"")
    tb = _event_writer(tmp_path, resume_from=3)
    tb.close()
    names = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    assert len(names) == 2 and names[0] == earlier.name, names
