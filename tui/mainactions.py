"""The main screen's actions: start runs from the form, compare, report, open past runs, resume
a run, hide a run, the chart toggles, focus and help (stop and quit are the app's own).

A mixin of CifarApp (Textual finds actions by name on the app); the state they change lives
in the app's ConsoleModel (`self.model`).
"""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import SystemCommand

from core.config import ConfigError
from core.records import list_runs, read_run
from core.resume import resumable_runs
from tui import studyresume
from tui.headless import ended_text
from tui.keys import ACTIONS, MAIN_ONLY, help_rows
from tui.recipes import Recipe, plan
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import PastRunsScreen
from tui.screens.help import HelpScreen
from tui.widgets.charts import MetricChart
from tui.widgets.runs_table import RunsTable


class MainActions:
    # ---- starting runs ------------------------------------------------------
    def action_start(self) -> None:
        config = self.side.form.validate()
        if self.model.refuse(config is None and self._form_reason()):
            return
        self.launch(self._experiment(), plan([self.side.recipe(config)], self.side.form.seeds()))

    def action_start_all(self) -> None:
        preset = self.side.preset
        if preset is None or self.model.refuse(self.side.form.validate() is None and self._form_reason()):
            return
        overrides = self.side.form.overrides()
        try:  # each run named after the edits, as `s` names it
            recipes = [Recipe(name, config, config.replace(**overrides)) for name, config in preset.runs]
        except ConfigError as e:
            self.model.refuse(f"the form's changes do not fit every run of {preset.name}: {e}")
            return
        self.launch(preset.name, plan(recipes, self.side.form.seeds()))

    def _form_reason(self) -> str:
        errors = self.side.form.errors  # in form order
        if not errors:
            return "the form has an invalid value."
        more = len(errors) - 1
        return next(iter(errors.values())) + (f" (and {more} more field{'s' * (more > 1)} marked in the form)" if more else "")

    def _experiment(self) -> str:
        return self.side.preset.name if self.side.preset else "custom"

    # ---- compare and report -------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action in MAIN_ONLY and isinstance(self.screen, CompareScreen):
            return False
        return True

    def action_compare(self) -> None:
        if isinstance(self.screen, CompareScreen):
            return
        self.push_screen(CompareScreen(lambda: [v for v in self.views if v.run_dir], self.model.mark_charts,
                                       self.queue_seeds))

    def queue_seeds(self, experiment: str, jobs: list) -> None:
        """The compare screen's `n`: more seeds of a group, through the queue `s` and `a` use."""
        if not self.model.refuse(False):
            self.launch(experiment, [(job, Recipe(job.group or job.name, job.config, job.config)) for job in jobs])

    def action_report(self) -> None:
        views = [v for v in self.views if v.run_dir]
        if not views:
            self.log_line("No recorded run on screen to report; open past runs (o) or train some first.")
            return
        self._write_report({str(Path(v.run_dir).resolve()): v.colour for v in views if v.colour is not None},
                           [Path(v.run_dir) for v in views])

    @work(thread=True, exit_on_error=False, group="report", exclusive=True, description="report")
    def _write_report(self, colours: dict, paths: list) -> None:
        """Off the UI thread: matplotlib and the figures take seconds."""
        from core.compare import CompareError
        from tui.studywrite import default_out, title_of, write_report

        title = title_of(paths)
        try:
            out = write_report(paths, default_out(title), title, run_colours=colours).out
            text = f"Report of {escape(title)} written: {escape(str(out / 'report.html'))}"
        except CompareError as e:
            text = f"[red]No report:[/] {escape(str(e))}"
        except OSError as e:
            text = f"[red]No report:[/] cannot write it ({escape(e.strerror or str(e))}); free some space or make reports/ writable."
        self.call_from_thread(self.log_line, text)

    # ---- past runs ----------------------------------------------------------
    def action_open_runs(self) -> None:
        infos = [read_run(path) for path in list_runs(self.logdir)]
        shown = {v.run_dir for v in self.views}
        infos = [i for i in infos if str(i.path) not in shown]

        def opened(paths: list | None) -> None:
            live = {str(info.path) for info, _ in self.following.live()}
            for path in paths or []:  # a run another process trains now is followed live
                if str(path) in live:
                    self.following.add(path)
            paths = [p for p in paths or [] if str(p) not in live]
            added = [v for v in (self.views.add_past(read_run(path)) for path in paths) if v]
            if added:
                self.model.relabel()
                self.log_line(f"Opened {', '.join(escape(v.label) for v in added)}.")

        self.push_screen(PastRunsScreen(infos, self.logdir), opened)

    def action_resume(self) -> None:
        """Resume the table's selected run; with none selected, offer the resumable runs."""
        if self.model.refuse(None):
            return
        key = self.table.selected_key
        view = self.views.get(key) if key else None
        if view is None:
            self._pick_resumable()
        elif studyresume.finish_row(self, view):  # not a run to resume: its study, when there is more to do
            return
        elif not self.model.refuse(self.model.unresumable(view)):
            self._resume(view)

    def _pick_resumable(self) -> None:
        runs = resumable_runs(self.logdir)
        if not runs:
            if not studyresume.finish(self, Path(self.logdir, self._experiment())):  # the preset's study
                self.log_line("No run under the log dir can be resumed (none was stopped, killed or failed).")
            return

        def chosen(paths: list | None) -> None:
            if paths:
                view = self.views.add_past(read_run(paths[0])) or next(
                    v for v in self.views if v.run_dir == str(paths[0]))
                self.model.relabel()
                self._resume(view)

        self.push_screen(PastRunsScreen(runs, self.logdir, title="Resume which run?", single=True), chosen)

    def _resume(self, view) -> None:
        if self.model.resume(view):
            self.start_training()

    # ---- what the charts draw ------------------------------------------------
    def action_toggle_smoothing(self) -> None:
        self.model.toggle("smoothing")

    def action_toggle_log_y(self) -> None:
        self.model.toggle("log_y")

    def action_toggle_seeds(self) -> None:
        self.model.toggle("seeds_shown")

    def action_hide_run(self) -> None:
        self.model.hide(self.table.selected_key)

    def action_preset(self, delta: int) -> None:
        self.side.step(delta)

    # ---- layout, focus and help ------------------------------------------------
    def action_queue(self) -> None:
        self.many.open_queue()

    def action_filter(self) -> None:
        self.many.ask_filter()

    def action_group(self) -> None:
        self.many.next_group()

    def action_fold(self) -> None:
        self.many.toggle_fold()

    def action_toggle_panel(self) -> None:
        side = self.side
        side.toggle_class("-hidden")
        if side.has_class("-hidden") and self.focused is not None and side in self.focused.ancestors:
            self.table.focus()

    def action_focus(self, target: str) -> None:
        if target == "form":  # the field edited last
            self.side.remove_class("-hidden")
            self.side.form.focus_field()
            return
        self.get_screen_main().query({"charts": MetricChart, "runs": RunsTable}[target]).first().focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_rows()))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for action, title, text in ACTIONS:
            yield SystemCommand(title, text, lambda a=action: self.run_action(a))

    def on_data_table_row_selected(self, event: RunsTable.RowSelected) -> None:
        """Enter on a row: its last message and where its record is."""
        view = self.views.get(event.row_key.value)
        if view is not None:
            where = f" ({escape(view.run_dir)})" if view.run_dir else ""
            differs = f"; differs from the first run: {escape(view.settings)}" if view.settings else ""
            self.log_line(f"[b]{escape(view.label)}[/]{where}: {escape(ended_text(view.status, view.message))}"
                          + differs)

    def on_side_panel_preset_chosen(self, message) -> None:
        n = len(message.preset.runs)
        self.side.form.preset_seeds(message.preset.seeds)
        self.sub_title = f"{message.preset.name} ({n} run{'s' if n != 1 else ''})"
