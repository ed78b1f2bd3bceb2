"""The console's handles on many runs: the `/` filter of the table and the charts, grouping the
table by a setting, folding finished runs, the queue screen and a chart on the whole screen.

The app keeps one ManyRuns and calls it from small hooks (a binding, an action, its trainer
events); the logic is in plain modules (tui.runfilter, tui.tableshape, tui.queuerows).
"""
from __future__ import annotations

import time
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.worker import get_current_worker

from core import study
from core.events import BatchProgress, RunEnded, RunStarted
from core.records import lock_owner, safe_name
from tui.queuerows import HERE, from_study, lanes, place_of, rows, study_left, summary
from tui.runfilter import RunFilter, parse
from tui.screens.chart import ChartScreen
from tui.screens.filter import FilterScreen
from tui.screens.queue import QueueScreen
from tui.tableshape import arrange, next_grouping

STUDY_S = 2.0  # how often the queue screen rereads the studies on screen


class ManyRuns:
    def __init__(self, app) -> None:
        self.app = app
        self.filter = RunFilter()
        self.group_by: str | None = None
        self.fold = False
        self._hinted = False  # the log has said once that u shows every running run
        self._studies: tuple[list, list] = ([], [])  # (runs of the studies on screen, why a study.json is unread)

    # ---- what the table and the charts show ------------------------------------
    def shown(self, view) -> bool:
        return self.filter.matches(view)

    def ask_filter(self) -> None:
        def count(run_filter: RunFilter) -> tuple[int, int]:
            views = list(self.app.views)
            return sum(run_filter.matches(v) for v in views), len(views)

        self.app.push_screen(FilterScreen(self.filter.text, count), self._set_filter)

    def _set_filter(self, text: str | None) -> None:
        if text is None or text == self.filter.text:
            return
        self.filter = parse(text)  # the dialog has read it already
        self._reshape()
        views = list(self.app.views)
        shown = sum(self.filter.matches(v) for v in views)
        self.app.log_line(f"Filter [b]{escape(text)}[/]: {shown} of {len(views)} runs in the table and the charts "
                          "(/ changes it; an empty filter shows all)." if text else "No filter: every run is shown.")

    def next_group(self) -> None:
        views = [v for v in self.app.views if self.shown(v)]
        self.group_by = next_grouping(self.group_by, views)
        self._reshape()
        if self.group_by:
            self.app.log_line(f"Table grouped by [b]{escape(self.group_by)}[/]; G: the next setting that differs.")
        else:
            self.app.log_line("Table not grouped." if views else "No runs to group.")

    def toggle_fold(self) -> None:
        self.fold = not self.fold
        self._reshape()
        finished = sum(v.status == "finished" and self.shown(v) for v in self.app.views)
        self.app.log_line(f"Finished runs folded ({finished}); z shows them again." if self.fold
                          else "Finished runs shown.")

    def _reshape(self) -> None:
        table = self.app.table
        run_filter, group_by, fold = self.filter, self.group_by, self.fold
        shaped = bool(run_filter) or group_by is not None or fold
        table.shaper = (lambda views: arrange(views, run_filter, group_by, fold)) if shaped else None
        table.reshape()
        self.caption()
        for chart in self.app.charts.charts:
            chart.empty_note = f"no run matches the filter {run_filter.text} (/ changes it)" if run_filter else ""
        self.app.model.mark_charts()

    def caption(self) -> None:
        """The table's first column header says a filter hides runs: `run (/ 3 of 12)`."""
        table = self.app.table
        views = list(self.app.views)
        text = "run" if not self.filter else f"run (/ {sum(map(self.shown, views))} of {len(views)})"
        column = table.columns.get(next(iter(table.columns), None))
        if column is not None and str(column.label) != text:
            column.label = Text(text)
            table.refresh()

    # ---- events --------------------------------------------------------------------
    def on_event(self, view, event) -> None:
        """Where each run trains and its latest batch, for the queue screen."""
        if isinstance(event, RunStarted):
            view.place = place_of(event, view.followed)
            running = sum(v.status == "running" for v in self.app.views) + (view.status != "running")
            if running > 1 and not self._hinted:  # the progress line shows one of them
                self._hinted = True
                self.app.log_line(f"{running} runs train at once; the progress line shows the one that moved last, "
                                  "[b]u[/] shows each with its bar, where it trains and the study's time left.")
        elif isinstance(event, BatchProgress):
            view.progress = event
        elif isinstance(event, RunEnded):
            view.progress = None
        if isinstance(event, (RunStarted, RunEnded)) and self.filter:
            self.caption()

    # ---- screens -------------------------------------------------------------------
    def open_queue(self) -> None:
        screen = QueueScreen(self.queue_state, self.select)
        self.app.push_screen(screen)
        self.app.run_worker(lambda: self._read_studies(screen), thread=True, exclusive=True, exit_on_error=False,
                            group="studies", description="reading study.json")

    def _read_studies(self, screen) -> None:
        """Worker thread, while the queue screen is open: the studies of the experiments on screen
        (core.study: study.json and the run folders), every STUDY_S; file I/O stays off the UI."""
        worker = get_current_worker()
        while not worker.is_cancelled and screen in self.app.screen_stack:
            views = list(self.app.views)
            folders = {Path(v.run_dir).parent if v.run_dir else Path(self.app.logdir, safe_name(v.experiment))
                       for v in views}
            shown = {v.run_dir for v in views if v.run_dir}
            prefix = len({v.experiment for v in views}) > 1
            planned, damaged = [], []
            for folder in sorted(folders):
                try:
                    found, _ = study.rows(folder)
                except study.StudyError as e:
                    damaged.append(str(e))
                    continue
                planned += from_study(found, shown, lock_owner, f"{folder.name}/" if prefix else "")
            self._studies = planned, damaged
            time.sleep(STUDY_S)

    def select(self, key: str) -> None:
        """The queue screen's highlighted run becomes the table's selected one (x, r act on it)."""
        table = self.app.table
        if key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    def queue_state(self) -> tuple[list, str]:
        app = self.app
        now = app.model.clock()
        views = list(app.views)
        elapsed = {key: now - timing[2] for key, timing in app.model.timing.items()}
        planned, damaged = self._studies
        queue = rows(views, [job.key for job in app.queue.pending()], elapsed, planned)
        finished = sum(v.status == "finished" for v in views)
        never = sum(r.state == "planned" for r in queue)
        return queue, "\n".join([summary(self._lanes(queue), finished, never)] + damaged)

    def _lanes(self, queue) -> list:
        app = self.app
        here = sum(1 for r in queue if r.state == "running" and r.lane == HERE)
        width = getattr(app.executor, "parallel", None)  # --parallel's workers; Ray: the tasks running now
        return lanes(queue, {HERE: width or (1 if app.executor.here else max(here, 1))})

    def study_left(self) -> float | None:
        """With several runs training at once: the study's time left, as the queue screen says it
        (None with one run: the progress line's own `all` then holds)."""
        queue, _ = self.queue_state()
        if sum(r.state == "running" for r in queue) < 2:
            return None
        return study_left(self._lanes(queue))

    def open_chart(self, chart) -> None:
        self.app.push_screen(ChartScreen(chart.metric, chart.title, self.chart_data, chart.cursor))

    def chart_data(self) -> tuple:
        model = self.app.model
        return model.drawn(), model.smoothing, model.log_y, model.seeds_shown
