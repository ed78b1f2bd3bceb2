"""The queue view's rows and time left (tui.queuerows), without Textual."""
from core.config import RunConfig
from core.events import BatchProgress, RunStarted
from tui.queuerows import HERE, Planned, lanes, place_of, rows, study_left, where_text
from tui.runview import Views


def epochs(n, seconds):
    return [{"epoch": e, "test_acc": 0.1 * e, "seconds": seconds} for e in range(1, n + 1)]


def config(fraction=0.5, epochs=10):
    return RunConfig(train_fraction=fraction, epochs=epochs, dataset="synthetic", data_dir="/d").to_dict()


def started(**where):
    return RunStarted("r", "ex", "/runs/ex/r", 10, 10, where.pop("device", "cpu"), **where)


def test_where_names_the_console_a_worker_a_ray_node_and_another_process():
    assert where_text(place_of(started(), followed=False)) == "this console · cpu"
    assert where_text(place_of(started(worker=2, pid=99, device="cuda:1"), followed=False)) == "worker 2 · cuda:1"
    assert where_text(place_of(started(node="10.0.0.5", device="cuda:0"), followed=False)) == "Ray 10.0.0.5 · cuda:0"
    other = place_of(started(host="gpu-box", pid=812), followed=True)
    assert where_text(other, this_host="laptop") == "pid 812 · gpu-box · cpu"
    assert where_text(other, this_host="gpu-box") == "pid 812 · this host · cpu"
    assert other.lane == "pid 812 on gpu-box" and place_of(started(worker=1), False).lane == HERE


def two_lanes():
    """Two runs in this console's workers, one queued here, one followed in another process."""
    views = Views()
    a = views.add("a", "ex", config=config(), status="running", epochs=10, metrics=epochs(2, 10.0))
    a.place, a.progress = place_of(started(worker=1), False), BatchProgress("a", 3, 5, 10)
    b = views.add("b", "ex", config=config(), status="running", epochs=10, metrics=epochs(8, 10.0))
    b.place = place_of(started(worker=2), False)
    q = views.add("q", "ex", config=config(fraction=0.25, epochs=4), epochs=4)
    f = views.add("f", "ex", config=config(), status="running", epochs=4, metrics=epochs(1, 10.0), followed=True)
    f.place = place_of(started(host="h", pid=7), True)
    views.add("done", "ex", config=config(), status="finished", epochs=2, metrics=epochs(2, 10.0))
    return list(views), q.key


def test_rows_list_running_then_queued_then_planned_with_progress_and_time_left():
    views, queued = two_lanes()
    # a: 10 s an epoch, half of epoch 3 done (5 s in), 7 epochs after it: 5 + 70 s
    elapsed = {views[0].key: 5.0, views[1].key: 0.0, views[3].key: 0.0}
    plan = Planned("p", "sgd", config(epochs=10), epochs_done=0)
    out = rows(views, [queued], elapsed, [plan])
    assert [(r.label, r.state, r.where) for r in out] == [
        ("a", "running", "worker 1 · cpu"), ("b", "running", "worker 2 · cpu"),
        ("f (live)", "running", "pid 7 · h · cpu"), ("q", "queued", "queued here"), ("sgd", "planned", "never started")]
    a, b, f, q, p = out
    assert a.left == 75.0 and a.epoch == 3 and a.done == 0.25
    assert b.left == 20.0 and f.left == 30.0
    assert q.left == 20.0  # half the images of the measured runs (10 s an epoch): 5 s, four epochs
    assert p.left == 100.0 and p.lane == ""


def test_the_study_needs_its_slowest_lane_and_a_lane_its_longest_run_or_its_share():
    views, queued = two_lanes()
    out = rows(views, [queued], {views[0].key: 5.0})
    here, other = lanes(out, {HERE: 2})
    assert (here.name, here.runs, here.left) == (HERE, 3, 75.0)  # 115 s over 2 workers; a's own 75 s is longer
    assert (other.name, other.runs, other.left) == ("pid 7 on h", 1, 30.0)
    assert lanes(out, {HERE: 1})[0].left == 115.0
    assert study_left(lanes(out, {HERE: 1})) == 115.0


def test_a_run_nothing_has_timed_yet_is_counted_apart():
    views = Views()
    views.add("q", "ex", config=config(), epochs=3)
    out = rows(list(views), [], {})
    assert out[0].left is None and out[0].where == "starting"  # taken from the queue, not begun
    lane, = lanes(out, {})
    assert (lane.left, lane.untimed) == (None, 1) and study_left([lane]) is None
