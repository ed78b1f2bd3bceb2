"""The Textual console (placeholder until the console lands)."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class CifarApp(App):
    TITLE = "cifar-tui"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, logdir: str = "runs", **kwargs):
        super().__init__()
        self.logdir = logdir

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("The console is on its way. Meanwhile: cifar-tui presets, cifar-tui run quick-demo.")
        yield Footer()


def run_console(logdir: str, data_dir=None, data_url=None, data_md5=None) -> int:
    CifarApp(logdir=logdir).run()
    return 0
