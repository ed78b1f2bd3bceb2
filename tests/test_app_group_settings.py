"""A run started from the form (precision = auto) groups with seeds queued later from its
record (precision as resolved): the console's groups are the ones compare finds."""
import pytest

from apphelp import FAST, fill, make_app, ready, sync, wait_for
from core.records import read_run
from tui.runview import Views


pytestmark = pytest.mark.usefixtures("small_synthetic")


@sync
async def test_a_run_started_with_precision_auto_is_grouped_by_its_recorded_precision(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs=1, **FAST)
        assert app.side.form.widget("precision").value == "auto"
        await pilot.press("s")
        await wait_for(pilot, lambda: any(v.status == "finished" for v in app.views))
        view = next(v for v in app.views if v.status == "finished")
        recorded = read_run(view.run_dir)
        assert recorded.config["precision"] in ("fp32", "bf16")
        from_disk = Views(str(tmp_path / "other")).add_past(recorded)
        assert view.config["precision"] == recorded.config["precision"]
        assert view.group_key[2] == from_disk.group_key[2]
