"""The report's pages: report.html (self-contained) and report.md, laid out from what
tui.studyreport gathered. Cells and sentences are compare's own (tui.report)."""
from __future__ import annotations

import html
import time

from core.records import METRICS
from tui import notebook
from tui.report import ESSENTIAL, columns, markdown, sentences
from tui.sentences import LABELS
from tui.studyreport import (SORT, SYNTHETIC_NOTE, differences, environment, experiments, explanation,
                             notebook_rows, synthetic)

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 2em auto; max-width: 1180px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta, .caption { color: #666; } .note { background: #fff4d6; border-left: 4px solid #e0a800; padding: .5em .8em; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: .8em; }
.figures svg { width: 100%; height: auto; }
table { border-collapse: collapse; margin: .6em 0; } th, td { padding: .25em .5em; border-bottom: 1px solid #e5e5e5; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ref { font-weight: bold; } td.run { white-space: nowrap; } td.verdict { min-width: 14em; }
.better { color: #1a7f37; } .worse { color: #c62828; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: .35em; }
div.wide { overflow-x: auto; }
code { font-size: 12px; background: #f5f5f5; padding: .1em .3em; word-break: break-all; }
"""


def escape(text) -> str:
    return html.escape(str(text), quote=True)


def table_cells(comparison, keys=None):
    """(headers, rows) of the comparison table: compare's columns (those of `keys`, else all),
    then the test used and the seeds its statistics leave out."""
    cols = [c for c in columns(SORT) if keys is None or c[1] in keys]
    headers = [h for h, _, _ in cols] + ["test", "dropped seeds"]
    rows = []
    for g in comparison.sorted(SORT):
        c = g.contrasts.get("test_acc")
        test = {"paired": "paired t, by seed", "Welch": "Welch's t"}.get(c.kind, c.kind) if c and c.kind else ""
        dropped = "; ".join(f"{label} ({why})" for label, _, why in g.dropped)
        rows.append((g, [cell(g) for _, _, cell in cols] + [test, dropped]))
    return headers, rows


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{colour}"></span>'


def _html_table(headers, rows) -> str:
    """A table of already escaped <td> cells; wide ones scroll on their own, not the page."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'



def _td(text, cls: str = "") -> str:
    return f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"


def _verdict_class(verdict: str) -> str:
    return "better" if verdict.startswith("better") else "worse" if verdict.startswith("worse") else ""


def _figures_html(title, comparison, figures, out) -> str:
    from tui.studyfigures import inline_svg

    parts = []
    for experiment in experiments(comparison):
        parts.append(f"<h3>{escape(experiment)}</h3><div class=\"figures\">")
        for metric in METRICS:
            stem = figures[experiment, metric]["stem"]
            svg = (out / "figures" / f"{stem}.svg").read_text(encoding="utf-8")
            parts.append(f"<figure>{inline_svg(svg)}</figure>")
        parts.append("</div>")
    parts.append('<p class="caption">Each line: a run\'s mean over its seeds (n); the band: the lowest '
                 "to highest seed at each epoch. Colours and names as in the console.</p>")
    return "".join(parts)


def _rows_html(comparison, colours, keys) -> tuple[list, list]:
    headers, rows = table_cells(comparison, keys)
    filled = [k for k, h in enumerate(headers) if h == "run" or any(values[k] for _, values in rows)]
    headers = [headers[k] for k in filled]  # a column empty in every row says nothing
    rows = [(g, [values[k] for k in filled]) for g, values in rows]
    numeric = {h for h, key, _ in columns(SORT) if key not in ("run", "verdict")}
    cells = []
    for g, values in rows:
        row = []
        for h, v in zip(headers, values):
            if h == "run":
                cls = "run ref" if g.is_baseline else "run"
                row.append(f'<td class="{cls}">{_swatch(colours[g.label])}{escape(v)}</td>')
            elif h == "verdict":
                row.append(_td(v, f"verdict {_verdict_class(v)}".strip()))
            else:
                row.append(_td(v, "num" if h in numeric else ""))
        cells.append(row)
    return headers, cells


def _comparison_html(comparison, colours) -> str:
    """The essential columns (as compare keeps at any width) with the test and the dropped
    seeds; the others in a second table, so neither needs a scroll bar."""
    main_keys = {*ESSENTIAL, "epochs"}
    rest = {key for _, key, _ in columns(SORT)} - main_keys | {"run"}
    first, second = _rows_html(comparison, colours, main_keys), _rows_html(comparison, colours, rest)
    keep = [k for k, h in enumerate(second[0]) if h not in first[0] or h == "run"]
    second = ([second[0][k] for k in keep], [[row[k] for k in keep] for row in second[1]])
    said = "".join(f"<li><b>{escape(label)}</b>: {escape(text)}</li>" for label, text in sentences(comparison, SORT))
    return (f"<p>{escape(explanation(comparison))}</p>" + _html_table(*first) + f"<ul>{said}</ul>"
            "<p>More of each run (mean ± sd over its seeds; @ = the epoch of the best value):</p>"
            + _html_table(*second))


def _notebook_html(comparison) -> str:
    rows = notebook_rows(comparison)
    if not rows:
        return ""
    note = f'<p class="note">{escape(SYNTHETIC_NOTE)}</p>' if synthetic(comparison) else ""
    body = [[_td(label), _td(f"{reported:.3f}", "num"), _td(measured, "num"), _td(epoch, "num")]
            for label, reported, measured, epoch in rows]
    return (f"<h2>Against the notebook</h2>{note}<p>The original notebook's test accuracy at epoch "
            f"{notebook.EPOCH} (real CIFAR-10, one seed) beside this study's (mean ± sd over the seeds).</p>"
            + _html_table(["run", f"notebook, epoch {notebook.EPOCH}", "measured", "at epoch"], body))


def _differences_html(comparison) -> str:
    shared, rows = differences(comparison)
    body = [[_td(g), _td(ref), _td(what)] for g, ref, what in rows]
    return (f"<h2>What differs between runs</h2><p>Shared by every run: {escape(shared)}.</p>"
            + _html_table(["run", "against", "differs in"], body))


def _environment_html(comparison) -> str:
    body, commands = [], []
    for g in comparison.groups:
        env = environment(g)
        body.append([_td(g.label)] + [_td(env[k]) for k in ("device", "precision", "torch", "torchvision",
                                                             "cifar-tui", "data")])
        commands.append(f"<li><b>{escape(g.label)}</b>: <code>{escape(env['command'])}</code></li>")
    return ("<h2>Environment</h2>" + _html_table(["run", "device", "precision", "torch", "torchvision",
                                                   "cifar-tui", "data"], body)
            + f"<p>The command lines that train each run again (every seed):</p><ul>{''.join(commands)}</ul>")


def html_page(title, comparison, figures, colours, out) -> str:
    note = f'<p class="note">{escape(SYNTHETIC_NOTE)}</p>' if synthetic(comparison) else ""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Report: {escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>Report: {escape(title)}</h1>"
            f"<p class=\"meta\">Written by cifar-tui report on {when}; {len(comparison.groups)} runs, "
            f"{len(comparison.runs)} run folders.</p>{note}"
            f"<h2>Curves</h2>{_figures_html(title, comparison, figures, out)}"
            f"<h2>Comparison</h2>{_comparison_html(comparison, colours)}"
            f"{_notebook_html(comparison)}{_differences_html(comparison)}{_environment_html(comparison)}"
            "</body></html>\n")


def _md_table(headers, rows) -> list[str]:
    return (["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows])


def markdown_page(title, comparison, figures, colours, out) -> str:
    lines = [f"# Report: {title}", ""]
    if synthetic(comparison):
        lines += [f"> {SYNTHETIC_NOTE}", ""]
    lines += ["## Curves", "", "Each line: a run's mean over its seeds; the band: the lowest to highest seed.", ""]
    for experiment in experiments(comparison):
        lines += [f"### {experiment}", ""]
        for metric in METRICS:
            stem = figures[experiment, metric]["stem"]
            lines += [f"![{experiment}: {LABELS[metric]}](figures/{stem}.svg)", ""]
    text = markdown(title, comparison, SORT)  # compare's report, one heading level down
    lines += ["#" + line if line.startswith("#") else line for line in text.splitlines()] + [""]
    rows = notebook_rows(comparison)
    if rows:
        lines += ["## Against the notebook", "", f"The notebook's test accuracy at epoch {notebook.EPOCH} "
                  "(real CIFAR-10, one seed) beside this study's (mean ± sd over the seeds).", ""]
        lines += _md_table(["run", f"notebook, epoch {notebook.EPOCH}", "measured", "at epoch"],
                           [(label, f"{reported:.3f}", measured, epoch) for label, reported, measured, epoch in rows])
        lines.append("")
    shared, diffs = differences(comparison)
    lines += ["## What differs between runs", "", f"Shared by every run: {shared}.", ""]
    lines += _md_table(["run", "against", "differs in"], diffs) + ["", "## Environment", ""]
    envs = [(g.label, environment(g)) for g in comparison.groups]
    keys = ("device", "precision", "torch", "torchvision", "cifar-tui", "data")
    lines += _md_table(["run", *keys], [(label, *(env[k] for k in keys)) for label, env in envs]) + [""]
    lines += ["Commands that train each run again (every seed):", ""]
    lines += [f"- {label}: `{env['command']}`" for label, env in envs]
    return "\n".join(lines) + "\n"
