"""The console's key table: its bindings, the palette's and help screen's text for each action,
and the actions that belong to the main screen only."""
from __future__ import annotations

from textual.binding import Binding

from tui.screens.compare import CompareScreen
from tui.screens.help import key_rows
from tui.screens.main import MainScreen
from tui.screens.queue import QueueScreen
from tui.widgets.charts import MetricChart
from tui.widgets.fullchart import RangedChart

BINDINGS = [
    Binding("s", "start", "Start"),
    Binding("a", "start_all", "Start all"),
    Binding("x", "stop", "Stop"),
    Binding("X", "stop_all", "Stop all", show=False),
    Binding("c", "compare", "Compare"),
    Binding("w", "report", "Report", show=False),
    Binding("r", "resume", "Resume", show=False),
    Binding("n", "preset(1)", "Next preset", show=False),
    Binding("p", "preset(-1)", "Prev preset", show=False),
    Binding("m", "toggle_smoothing", "Smooth"),
    Binding("l", "toggle_log_y", "Log y"),
    Binding("e", "toggle_seeds", "Each seed", show=False),
    Binding("o", "open_runs", "Open runs", show=False),
    Binding("d", "hide_run", "Hide run", show=False),
    Binding("b", "toggle_panel", "Panel", show=False),
    Binding("u", "queue", "Queue", show=False),
    Binding("slash", "filter", "Filter", show=False),
    Binding("G", "group", "Group by", show=False),
    Binding("z", "fold", "Fold finished", show=False),
    Binding("f", "focus('form')", "Focus form", show=False),
    Binding("g", "focus('charts')", "Focus charts", show=False),
    Binding("t", "focus('runs')", "Focus table", show=False),
    Binding("escape", "focus('runs')", "Leave form", show=False),
    Binding("question_mark", "help", "Help"),
    Binding("q", "quit", "Quit"),
]

# (action, palette title, help text) for the palette and the help screen, in the help's order
ACTIONS = (
    ("start", "Start run", "start the run in the form (edited: named after the edits, e.g. "
     "baseline+lr0.01); while a run trains it is queued"),
    ("start_all", "Start all runs of the preset", "start every run of the preset, with the form's edits "
     "(each named after them, as s names a run; queued behind a run in progress)"),
    ("stop", "Stop", "stop the selected run within one batch, wherever it trains (finished epochs are kept; "
     "its writer goes on with its queue); on a queued run: take it off the queue; again: clear the queue too"),
    ("stop_all", "Stop all", "after a y/n question: stop the selected followed run's whole process, "
     "else everything this console trains (the queue too)"),
    ("compare", "Compare runs", "the runs on screen side by side: sort, pick the charts' runs, "
     "see where test loss starts rising"),
    ("report", "Write report", "the report of the runs on screen: report.html with the figures, verdicts, "
     "settings and environment, report.md, figures/ and CSVs, in reports/EXPERIMENT"),
    ("resume", "Resume run", "carry on the table's stopped/interrupted/failed run, queued if one trains; "
     "on another row, finish its experiment's study (resume the rest, start the runs that never began); "
     "no run there: choose one under the log dir"),
    ("preset(1)", "Next preset", "choose the next preset"),
    ("preset(-1)", "Previous preset", "choose the previous preset"),
    ("toggle_smoothing", "Toggle smoothing", "smooth the curves (TensorBoard's EMA, weight 0.6)"),
    ("toggle_log_y", "Toggle log y", "logarithmic y axis"),
    ("toggle_seeds", "Toggle each seed", "a group of seeds is drawn as its mean and min–max spread; "
     "e: each seed on its own instead, e again: the groups"),
    ("open_runs", "Open past runs", "overlay runs recorded under the log dir"),
    ("hide_run", "Hide run", "hide the table's selected run from the charts (○ in the table); "
     "again: show it"),
    ("toggle_panel", "Toggle side panel", "hide the presets and form: more room for the charts"),
    ("queue", "Queue", "every running, queued and followed run: where it trains (this console, worker k, "
     "another process, a Ray node), a progress bar each, and the study's time left"),
    ("filter", "Filter runs", "show only the runs that match, in the table and the charts: lr=0.01, adam, "
     "finished, !finished, epochs>=20, part of a name (several words: all must match)"),
    ("group", "Group table", "group the table by a setting; again: the next setting that differs, then none"),
    ("fold", "Fold finished runs", "fold the finished runs of the table into one line (per group); again: show them"),
    ("focus('form')", "Focus form", "move to the run form (to the field edited last)"),
    ("focus('charts')", "Focus charts", "move to the charts"),
    ("focus('runs')", "Focus table", "move to the runs table"),
    ("help", "Help", "this screen"),
    ("quit", "Quit", "quit (a running run is stopped cleanly first)"),
)

# the main screen's actions that make no sense over the compare screen (off its footer too)
MAIN_ONLY = {"start", "start_all", "preset", "toggle_smoothing", "toggle_log_y", "open_runs",
             "hide_run", "toggle_panel", "focus", "resume", "queue", "filter", "group", "fold"}


def help_rows() -> list[tuple[str, str]]:
    """Every key: the app's (in ACTIONS order), the main screen's, a focused chart's and the
    compare screen's, each from its own BINDINGS."""
    order = {action: k for k, (action, _, _) in enumerate(ACTIONS)}
    texts = {action: text for action, _, text in ACTIONS}
    rows = key_rows([(sorted(BINDINGS, key=lambda b: order.get(b.action, len(order))), texts),
                     (MainScreen.BINDINGS, MainScreen.HELP), (MetricChart.BINDINGS, MetricChart.HELP),
                     (CompareScreen.BINDINGS, CompareScreen.HELP), (RangedChart.BINDINGS, RangedChart.HELP),
                     (QueueScreen.BINDINGS, QueueScreen.HELP)])
    return rows + [("ctrl+p", "command palette")]
