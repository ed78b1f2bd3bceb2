"""The compare screen (`c`): `cifar-tui compare`'s summary table for the runs on screen.

The numbers come from core.compare and the columns from tui.report, so the screen and
the CLI agree: one row per group of seeds (n, mean ± sd, Δ to its reference with the
adjusted interval and p, the verdict). The table rereads the run folders every second, so
runs still training (metrics.jsonl growing) stay current. Pick the runs drawn in the charts
here (a row toggles all its seeds), the reference (`b`), a difference that matters (`d`) and
queue the seeds a group needs (`n`); the test-loss chart below marks each run's overfitting onset.
"""
from __future__ import annotations

import re
import textwrap

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from core.compare import SORT_KEYS, Comparison, compare, sort_runs
from core.findruns import preset_margin
from core.summaries import VERDICT_METRIC
from core.config import ConfigError
from core.groups import group_runs
from core.records import read_run
from core.seeds import more_seeds
from core.verdicts import MAX_SEEDS, MIN_SEEDS, seeds_to_add
from tui.report import COLUMNS, DELTA_UNDER
from tui.runview import RunView
from tui.widgets.charts import MetricChart
from tui.groupview import counted
from tui.labels import fit, group_labels
from tui.widgets.runs_table import swatch

RELOAD_S = 1.0
NAME_WIDTH = 12     # the run column at least; it takes what the columns up to the verdict leave
SHORT = 30          # fewer rows than this: the table gives the chart room (app.tcss)
VERDICT_WIDTH = 18  # the verdict wraps within this where one line would squeeze the names (80 columns)
NAME_ROOM = 30      # ...that is, leave them fewer than this
DELTAS = (None, 0.5, 1.0, 2.0, 5.0)  # `d` steps through these differences (points of test accuracy)


def wrap_verdict(text: str, width: int) -> list[str]:
    """The verdict in lines of `width`, a parenthesis that fits a line kept whole:
    `better` / `(paired, n = 3)` rather than `better (paired, n` / `= 3)`."""
    kept = re.sub(r"\([^()]*\)", lambda m: m.group().replace(" ", "\0") if len(m.group()) <= width else m.group(), text)
    return [line.replace("\0", " ") for line in textwrap.wrap(kept, width)]


def order(comparison: Comparison, key: str, best_first: bool = True) -> list:
    """The groups sorted by `key` (core.compare.sort_runs: best first), or worst first;
    groups without a value stay last either way."""
    ranked = sort_runs(comparison.groups, key)
    n = sum(1 for r in ranked if _has(r.value(key)))
    return ranked if best_first else ranked[:n][::-1] + ranked[n:]


def _has(value) -> bool:
    return value is not None and value == value  # not None, not NaN


SORT_COLUMNS = COLUMNS[:10]  # the ones with a key (1..9, 0); the rest sort by a click on the header


class CompareScreen(Screen):
    """A row is keyed by the RunView key of its group's first seed; `views` is the app's live
    list of runs on screen."""

    BINDINGS = [
        Binding("escape,c", "close", "Back"),
        Binding("space", "toggle_overlay", "Overlay"),
        Binding("v", "overlay_all", "All/none"),
        Binding("b", "set_reference", "Reference"),
        Binding("d", "cycle_delta", "Δ"),
        Binding("n", "more_seeds", "More seeds"),
        # 1..9, 0 sort by that column; the footer shows one entry for them all
        *[Binding(str((k + 1) % 10), f"sort({k})", "Sort", show=k == 0, key_display="1-0")
          for k in range(len(SORT_COLUMNS))],
    ]

    SORT_HELP = "compare screen: sort by that column (click a header for any); again: the other way"
    HELP = {"close": "compare screen: back", "toggle_overlay": "compare screen: draw the selected run (all its "
            "seeds) in the charts or not", "overlay_all": "compare screen: draw every run, or none",
            "set_reference": "compare screen: make the selected run the reference every run is compared with; "
                             "again: each experiment's own baseline",
            "cycle_delta": "compare screen: the difference that matters (off, 0.5, 1, 2, 5 points): the seeds "
                           "for Δ column says how many seeds would detect it",
            "more_seeds": "compare screen: queue the seeds the selected run (and its reference, so they pair) "
                          "needs: 3 for a verdict, or what the seeds for Δ column says",
            **dict.fromkeys((f"sort({k})" for k in range(len(SORT_COLUMNS))), SORT_HELP)}

    def __init__(self, views, on_overlay, on_queue=None) -> None:
        super().__init__()
        self.views = views            # callable -> list[RunView] with a run folder
        self.on_overlay = on_overlay  # called after an overlay toggle
        self.on_queue = on_queue      # on_queue(experiment, jobs): train these (the app's queue)
        self.reference: str | None = None  # the group label picked with `b`; None: each experiment's baseline
        self.delta: float | None = None    # points of test accuracy (`d`)
        self._margins: dict = {}           # experiments on screen -> their preset's equivalence margin
        self.sort_key, self.best_first = "test_acc", True
        self.comparison: Comparison | None = None
        self.keys: dict = {}          # run folder -> RunView
        self._shown: list = []        # the table's rows as last drawn, to skip identical redraws
        self.verdict_width: int | None = VERDICT_WIDTH  # the verdict's wrap width (None: one line)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True, header_height=2)
        yield MetricChart("test_loss", "test loss", keyed=True, id="compare-chart")
        yield Footer(compact=True)

    def on_resize(self, event) -> None:
        self.set_class(event.size.height < SHORT, "-short")
        self._shown = []  # the run column's width follows the screen's

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(RELOAD_S, self.reload)
        self.query_one(DataTable).focus()

    # ---- data -------------------------------------------------------------
    def reload(self) -> None:
        """Reread every run folder (a run in progress has more epochs now) and redraw."""
        infos, self.keys = [], {}
        for view in self.views():
            info = read_run(view.run_dir)
            infos.append(info)
            self.keys[str(info.path)] = view
        labels = {g.label for g in group_runs(infos)} if self.reference else set()
        if self.reference not in labels:
            self.reference = None  # its runs left the screen
        names = tuple(sorted({i.experiment for i in infos}))
        if names not in self._margins:  # the presets are read once per set of experiments
            self._margins[names] = preset_margin(list(names)) if names else None
        margin = self._margins[names]
        self.comparison = compare(infos, baseline=self.reference,
                                  difference=self.delta / 100 if self.delta else None, margin=margin)
        self._draw()

    def views_of(self, group) -> list:
        """The RunViews of a group's seeds."""
        return [self.keys[str(r.path)] for r in group.runs if str(r.path) in self.keys]

    def view_of(self, group) -> RunView:
        """The view that stands for a group: its first seed's (its row key and swatch)."""
        return self.views_of(group)[0]

    def rows(self) -> list:
        """The group summaries in table order."""
        return order(self.comparison, self.sort_key, self.best_first) if self.comparison else []

    # ---- drawing ------------------------------------------------------------
    def _draw(self) -> None:
        table = self.query_one(DataTable)
        runs = self.rows()
        headers = [self._header(header, key) for header, key, _ in COLUMNS]
        names, width = self._names(runs)
        body = [(self.view_of(r).key, self._cells(r, name, width)) for r, name in zip(runs, names)]
        if (headers, body) == self._shown:
            self._draw_chart()
            return
        self._shown = (headers, body)
        selected = self._cursor_key()
        table.clear(columns=True)
        for (_, key, _), header in zip(COLUMNS, headers):
            table.add_column(header, key=key)
        for row_key, cells in body:
            table.add_row(*cells, key=row_key, height=max(len(c.plain.splitlines()) for c in cells))
        keys = [k for k, _ in body]
        if selected in keys:
            table.move_cursor(row=keys.index(selected))
        self._draw_title()
        self._draw_chart()

    def labels(self, runs: list) -> list[str]:
        """Each group's label as the chart key has it (tui.labels.group_labels)."""
        return group_labels([counted(self.views_of(g)) for g in runs])

    def _names(self, runs: list) -> tuple[list[str], int]:
        """(the run cells' names, the run column's width). The column gets what the columns up
        to the verdict leave (those after it scroll): every name whole where that is enough,
        else the names shortened together (tui.labels.fit), never two alike. The verdict keeps
        one line while the names keep NAME_ROOM beside it, else wraps within VERDICT_WIDTH."""
        labels = self.labels(runs)  # the reference's row is bold, its verdict says so
        longest = max(map(len, labels), default=0)
        room = self._room(runs, None)
        verdicts = max((len(g.verdict) for g in runs), default=0)
        self.verdict_width = None if room - verdicts >= min(longest, NAME_ROOM) else VERDICT_WIDTH
        room = self._room(runs, self.verdict_width)
        width = max(NAME_WIDTH, min(room, longest))
        return fit(labels, width), width

    def _room(self, runs: list, verdict_width: int | None) -> int:
        """What the run column may take beside the columns up to the verdict (wrapped within
        `verdict_width`, or on one line)."""
        keys = [key for _, key, _ in COLUMNS]
        others = 0
        for header, key, cell in COLUMNS[:keys.index("verdict") + 1]:
            if key != "run":
                lines = [line for g in runs for line in self._cell(g, key, cell, verdict_width).plain.splitlines()]
                others += max(map(len, lines + header.split(" ", 1))) + 2  # 2: the cell's padding
        return self.size.width - others - 2 - len("● ") - 2  # 2: its padding; 2: a scrollbar

    def _header(self, header: str, key: str) -> Text:
        text = header.replace(" ", "\n", 1)
        if key == self.sort_key:  # ▼: larger values first
            return Text(text + (" ▼" if SORT_KEYS[key] != self.best_first else " ▲"), style="bold reverse")
        return Text(text)

    def _cells(self, group, name: str, width: int) -> list:
        """The row's cells: the run cell holds its swatch and `name`, and under them the group's
        status and the seeds its statistics leave out (`width`: the run column's)."""
        view = self.view_of(group)
        overlay = any(v.overlay for v in self.views_of(group))
        cells = []
        for _, key, cell in COLUMNS:
            if key != "run":
                cells.append(self._cell(group, key, cell, self.verdict_width))
                continue
            text = Text.assemble(swatch(view) if overlay else ("○ ", "dim"),
                                 (name, "bold" if group.is_baseline else ""))
            notes = [group.status] if group.status not in ("finished", "unknown") else []
            for run in group.runs:  # a seed run twice, a failed one: said, not silently gone
                if run.left_out:
                    seen = self.keys.get(str(run.path))
                    notes.append(f"{seen.label if seen else run.label}: {run.left_out}")
            for note in notes:
                for line in textwrap.wrap(note, width, subsequent_indent="  "):
                    text.append(f"\n  {line}", style="dim")
            cells.append(text)
        return cells

    def _cell(self, group, key: str, cell, verdict_width: int | None = None) -> Text:
        if key == "verdict":
            return Text("\n".join(wrap_verdict(cell(group), verdict_width)) if verdict_width else cell(group))
        text = Text(cell(group), justify="right")
        if key in DELTA_UNDER and key in group.contrasts:
            text.append(f"\n{group.contrasts[key].delta:+.3f}", style="dim")
        return text

    def _draw_title(self) -> None:
        header = next(h for h, k, _ in COLUMNS if k == self.sort_key)
        n = len(self.comparison.groups) if self.comparison else 0
        if not n:
            text = "No run on screen has a record yet: start one, or open past runs (o)."
        else:
            way = "best first" if self.best_first else "worst first"
            picked = " (picked; b: back)" if self.reference else " (b: another)"
            delta = f"; seeds for Δ {self.delta:g} points (d)" if self.delta else "; d: a Δ that matters"
            text = (f"Sorted by [b]{escape(header)}[/], {way} (1-0; again: reverse). "
                    f"Δ: minus [b]{escape(self._baseline_label())}[/]{picked} ±95% CI, paired by seed "
                    f"or Welch, p and CI Bonferroni-adjusted{delta}.")
            if not self.has_class("-short"):  # short (80x24): the footer has the keys, the chart its ◆
                text += " space: ● in the charts or ○; n: more seeds; ◆ lowest test loss, risen since."
        self.query_one("#compare-title", Static).update(text)

    def _baseline_label(self) -> str:
        """The reference group's name (each experiment's, when there are several); a one-seed
        reference goes by its run's label."""
        bases = [g for g in self.comparison.groups if g.is_baseline]
        if len(bases) != 1:
            return "each experiment's baseline"
        views = self.views_of(bases[0])
        return views[0].label if len(views) == 1 else bases[0].label

    def _draw_chart(self) -> None:
        shown = [v for g in self.rows() for v in self.views_of(g)]
        # a run that has drawn nothing yet has no colour and no curve
        self.query_one(MetricChart).show([v for v in shown if v.overlay and v.colour is not None], False, False)

    def _cursor_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    # ---- actions ------------------------------------------------------------
    def action_sort(self, column: int) -> None:
        key = COLUMNS[column][1]
        self.best_first = not self.best_first if key == self.sort_key else True
        self.sort_key = key
        self._draw()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.action_sort(event.column_index)

    def action_toggle_overlay(self) -> None:
        key = self._cursor_key()
        group = next((g for g in self.rows() if self.view_of(g).key == key), None)
        if group is None:
            return
        views = self.views_of(group)
        show = not any(v.overlay for v in views)
        for view in views:
            view.overlay = show
        self.on_overlay()
        self._draw()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_toggle_overlay()

    def action_overlay_all(self) -> None:
        views = self.views()
        show = not all(v.overlay for v in views)
        for view in views:
            view.overlay = show
        self.on_overlay()
        self._draw()

    def _selected(self):
        key = self._cursor_key()
        return next((g for g in self.rows() if self.view_of(g).key == key), None)

    def action_set_reference(self) -> None:
        group = self._selected()
        if group is None:
            return
        self.reference = None if self.reference == group.label else group.label
        self.notify(f"Every run is compared with {group.label}." if self.reference
                    else "Each experiment is compared with its own baseline.", title="Reference")
        self.reload()

    def action_cycle_delta(self) -> None:
        self.delta = DELTAS[(DELTAS.index(self.delta) + 1) % len(DELTAS)]
        self.notify(f"Seeds for Δ: how many seeds would detect {self.delta:g} points of test accuracy."
                    if self.delta else "No difference named.", title="Δ that matters")
        self.reload()

    def action_more_seeds(self) -> None:
        """Queue the seeds the selected group and its reference need, so that both hold the
        same seeds: MIN_SEEDS for a verdict, or what the named Δ needs."""
        group = self._selected()
        if group is None or self.on_queue is None:
            return
        ref = self.comparison.reference_of(group) or group
        c = group.contrasts.get(VERDICT_METRIC)
        needed = c.needed if c and c.needed else 0
        if needed > MAX_SEEDS:
            self.notify(f"{self.delta:g} points would take more than {MAX_SEEDS} seeds; name a larger Δ (d).",
                        title="Not queued", severity="warning")
            return
        target = max(MIN_SEEDS, needed)
        have = [r.seed for r in group.runs]
        add, add_ref = seeds_to_add(have, [r.seed for r in ref.runs], target)
        if ref is group:
            add_ref = []
        try:
            if not group.config or not ref.config:
                raise ConfigError("its record names no settings")
            jobs = [(group, more_seeds(group.name, group.config, add)),
                    (ref, more_seeds(ref.name, ref.config, add_ref))]
        except ConfigError as e:
            self.notify(f"{group.label}'s seeds cannot be repeated: {e}", title="Not queued", severity="error")
            return
        jobs = [(g, j) for g, j in jobs if j]
        if not jobs:
            self.notify(f"{group.label} and its reference already hold {target} paired seeds.", title="Nothing to queue")
            return
        for g, batch in jobs:
            self.on_queue(g.experiment, batch)
        words = "; ".join(f"{g.label}: seed{'s' * (len(b) > 1)} {', '.join(str(j.config.seed) for j in b)}"
                          for g, b in jobs)
        self.notify(f"Queued {words}.", title="More seeds")

    def action_close(self) -> None:
        self.dismiss()
