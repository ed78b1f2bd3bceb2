"""The README's commands against the real command line: every option a README command uses is one
that `cifar-tui` (or the subcommand it names) takes, so the README and `--help` cannot drift apart."""
import argparse
import dataclasses
import re
import shlex
from pathlib import Path

import pytest

from core.config import RunConfig
from tui.cli import build_parser
from tui.report import csv_paths

README = Path(__file__).resolve().parent.parent / "README.md"
OTHER_TOOLS = {"--load_fast"}  # options of other programs named in the prose (tensorboard's)


def subparsers(parser: argparse.ArgumentParser) -> dict:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def shell_lines(text: str) -> list[str]:
    """The command lines of the ```sh blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def inline_usages(text: str) -> list[str]:
    """`cifar-tui …` usage lines in the prose (brackets and `a|b` choices as --help writes them)."""
    return re.findall(r"`(cifar-tui(?: [^`]*)?)`", text)


def commands(line: str, shell: bool) -> list[list[str]]:
    """The cifar-tui invocations of one line, each as its arguments after the program name."""
    if shell:
        words = shlex.split(line, comments=True)
    else:
        words = [w.strip("[]") for w in line.split()]
    found, current = [], None
    for word in words + ["&&"]:
        if word in ("&&", "||", ";", "|"):
            if current is not None:
                found.append(current)
            current = None
        elif current is not None:
            current.append(word)
        elif Path(word).name == "cifar-tui":
            current = []
    return found


def takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction))


def check(args: list[str], parser: argparse.ArgumentParser, line: str) -> None:
    """Every option in `args` exists in `parser` (the console's) or in the subcommand named."""
    options = parser._option_string_actions
    rest = iter(args)
    for word in rest:
        if word in subparsers(parser):
            return check_subcommand(list(rest), subparsers(parser)[word], word, line)
        name = word.split("=", 1)[0]
        assert word.startswith("-") and name in options, f"{line!r}: cifar-tui takes no {word!r} (see --help)"
        action = options[name]
        if takes_value(action) and "=" not in word:
            value = next(rest, None)
            assert value is not None, f"{line!r}: {name} needs a value"
            if action.choices and "|" in value:  # a usage line's keep|stop
                assert set(value.split("|")) == set(action.choices), f"{line!r}: {name} takes {action.choices}"


def check_subcommand(args: list[str], parser: argparse.ArgumentParser, command: str, line: str) -> None:
    options = parser._option_string_actions
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    for i, word in enumerate(args):
        if not word.startswith("--"):
            continue
        name = word.split("=", 1)[0]
        assert name in options, f"{line!r}: cifar-tui {command} takes no {name} (see cifar-tui {command} --help)"
        if name == "--set" and i + 1 < len(args) and "=" in args[i + 1]:
            key = args[i + 1].split("=", 1)[0]
            assert key in fields, f"{line!r}: --set {key}=… is not a run setting"


def readme_commands() -> list:
    text = README.read_text()
    lines = [(line, True) for line in shell_lines(text)] + [(line, False) for line in inline_usages(text)]
    return [(line, args) for line, shell in lines for args in commands(line, shell)]


def test_the_readme_shows_every_command():
    """Each command has a README line (and the parsing below finds them: else the other tests
    would check nothing)."""
    found = readme_commands()
    assert len(found) >= 30
    named = {args[0] for _, args in found if args and not args[0].startswith("-")}
    assert named == set(subparsers(build_parser()))  # every command has a README line, and no other
    assert any(args == [] for _, args in found)  # the plain console command


@pytest.mark.parametrize("line, args", readme_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_option_of_a_readme_command_exists(line, args):
    check(args, build_parser(), line)


def test_every_option_named_in_the_prose_is_one_cifar_tui_takes():
    parser = build_parser()
    known = set(parser._option_string_actions)
    for sub in subparsers(parser).values():
        known |= set(sub._option_string_actions)
    text = README.read_text()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    named = {m for span in re.findall(r"`([^`]*)`", prose) for m in re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*", span)}
    assert named and named - OTHER_TOOLS <= known, sorted(named - OTHER_TOOLS - known)


def test_the_console_usage_line_lists_every_console_option():
    parser = build_parser()
    usage = next(u for u in inline_usages(README.read_text()) if u.startswith("cifar-tui ["))
    listed = set(re.findall(r"--[a-z][a-z0-9-]*", usage))
    options = {s for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
               for s in a.option_strings}
    assert listed == options


def test_a_bad_readme_command_is_caught():
    """The checks fail on what they should: an option of no parser, one of another subcommand,
    an unknown setting, a wrong choice."""
    parser = build_parser()
    for line in ("cifar-tui run quick-demo --no-such-option", "cifar-tui compare --parallel 2",
                 "cifar-tui --runs-per-gpu 2", "cifar-tui run --set colour=red"):
        (args,) = commands(line, shell=True)
        with pytest.raises(AssertionError):
            check(args, parser, line)
    (args,) = commands("cifar-tui [--on-hangup keep|drop]", shell=False)
    with pytest.raises(AssertionError):
        check(args, parser, "usage")


def test_compare_help_names_every_file_csv_writes():
    compare = subparsers(build_parser())["compare"]
    text = compare._option_string_actions["--csv"].help
    for path in csv_paths(Path("FILE")):
        assert re.search(rf"(?<![\w-]){re.escape(path.name)}(?![\w-])", text), (path.name, text)


def test_pip_installs_the_checkout_with_extras_it_has():
    """cifar-tui is not on PyPI: every `pip install` in the README installs this checkout (`.`,
    `'.[extra]'`), and each extra is one pyproject.toml defines."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    extras = set(tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    installs = []
    for line in shell_lines(README.read_text()):
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words):
            if Path(word).name == "pip" and words[i + 1:i + 2] == ["install"]:
                end = next((j for j in range(i + 2, len(words)) if words[j] == "&&"), len(words))
                args = words[i + 2:end]
                targets = [w for k, w in enumerate(args) if not w.startswith("-") and not args[k - 1].endswith("-url")]
                installs.append((line, targets))
    assert len(installs) >= 3
    for line, targets in installs:
        for target in targets:
            match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
            assert match, f"{line!r}: {target!r} is not this checkout; install it with pip install . or '.[extra]'"
            assert set(filter(None, (match.group(1) or "").split(","))) <= extras, f"{line!r}: no such extra"
