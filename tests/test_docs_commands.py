"""Every `codeml-repro` command the README and the authors' guide show is one the CLI accepts.

Docs drift silently: a synopsis that lists an option the command lost (or a command that
never existed) sends a reader to an error. Each shown command line is looked up in the real
click command tree, and each ``--option`` it shows must be one that command declares.
"""

from __future__ import annotations

import re

import click
import pytest

from codeml_repro.cli import cli as cli_main

from .conftest import REPO

DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "book" / "authors.md"]
IN_BLOCK = re.compile(r"^\s*(?:\$ )?codeml-repro((?: [a-z][a-z-]*)+)([^#\n]*)")
INLINE = re.compile(r"`codeml-repro((?: [a-z][a-z-]*)+)([^`]*)`")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _commands() -> list[tuple[str, str, str]]:
    """(doc file, command words, rest of the line) for every command line the docs show."""
    found = []
    for doc in DOCS:
        fenced = False
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            matches = [m for m in [IN_BLOCK.match(line)] if m] if fenced else list(INLINE.finditer(line))
            found += [(doc.name, m.group(1).strip(), m.group(2)) for m in matches]
    return found


def _synopsis() -> dict[str, str]:
    """The README's synopsis block: command words -> every line shown for it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## The `codeml-repro` command", 1)[1].split("```", 2)[1]
    shown: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        match = IN_BLOCK.match(line)
        if match:
            command, _ = _resolve(match.group(1))
            current = command.name or ""
        shown[current] = shown.get(current, "") + line.split("#", 1)[0] + "\n"
    return shown


def _resolve(words: str) -> tuple[click.Command, list[str]]:
    """The click command the words name, and the words left over (its arguments)."""
    command: click.Command = cli_main
    parts = words.split()
    while parts and isinstance(command, click.Group) and parts[0] in command.commands:
        command = command.commands[parts.pop(0)]
    return command, parts


def _options(command: click.Command) -> set[str]:
    names: set[str] = {"--help"}
    for param in command.params:
        if getattr(param, "hidden", False):  # kept for old workflows, not shown
            continue
        names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return names


COMMANDS = _commands()


def test_the_docs_show_commands() -> None:
    shown = {words.split()[0] for _, words, _ in COMMANDS}
    assert {"run", "check", "validate", "new", "status"} <= shown, shown


@pytest.mark.parametrize(("doc", "words", "rest"), COMMANDS,
                         ids=[f"{d}:{w}{r}"[:80] for d, w, r in COMMANDS])
def test_a_shown_command_is_accepted(doc: str, words: str, rest: str) -> None:
    command, _ = _resolve(words)
    assert command is not cli_main, f"{doc}: `codeml-repro {words}` names no command"
    assert not isinstance(command, click.Group), f"{doc}: `codeml-repro {words}` names only a group"
    unknown = set(OPTION.findall(rest)) - _options(command)
    assert not unknown, f"{doc}: `codeml-repro {words}{rest}`: {sorted(unknown)} not in its --help"


def test_the_readme_synopsis_shows_every_option_of_run_and_new() -> None:
    shown = _synopsis()
    for words in ("run", "new", "validate", "status"):  # --root: "All but hash and freeze take it"
        command, _ = _resolve(words)
        listed = set(OPTION.findall(shown.get(command.name or "", "")))
        missing = _options(command) - {"--help", "--root"} - listed
        assert not missing, f"README's synopsis of `codeml-repro {words}` lacks {sorted(missing)}"


def _leaves(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    """Every command by its words (``data export``)."""
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        words = f"{prefix}{name}"
        out.update(_leaves(command, words + " ") if isinstance(command, click.Group) else {words: command})
    return out


def test_the_commands_without_root_are_the_ones_the_readme_names() -> None:
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    sentence = text.split("All but ", 1)[1].split(" take `--root PATH`", 1)[0]
    named = sorted(re.findall(r"`([a-z][a-z ]*)`", sentence))
    without = sorted(w for w, c in _leaves(cli_main).items() if "--root" not in _options(c))
    assert named == without, (named, without)


def test_the_readme_names_every_benchmark() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in (REPO / "benchmarks").glob("*.py") if p.name != "common.py")
    assert scripts and not [name for name in scripts if name not in text], scripts


def test_the_readme_says_which_statuses_pass_the_pull_request_check() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("summary", REPO / ".github" / "scripts" / "summary.py")
    assert spec is not None and spec.loader is not None
    summary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summary)
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    shown = " nor ".join(f"`{status}`" for status in summary.CLEAN)
    assert f"is neither {shown}" in text, summary.CLEAN


def test_every_module_path_the_docs_name_exists() -> None:
    """A doc that names `run/plan/planning.py` after a move sends a reader to nothing."""
    named: set[str] = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        paths = re.findall(r"(?:codeml_repro/)?run/[a-z_/]+\.py", text)
        named |= {p.removeprefix("codeml_repro/") for p in paths}
    missing = sorted(p for p in named if not (REPO / "codeml_repro" / p).exists())
    assert named and not missing, missing
