"""Docs are code: every command README.md and docs/*.md show runs here; shown output is compared.

The rule, as docs/index.md states it for writers ("How these pages are tested"):

- A page's commands run in the order the page shows them, in a fresh temporary directory that
  holds a copy of ``configs/`` (so a page may write a file in one block and read it in the next).
- ```` ```console ```` blocks: a line starting with ``$ `` is a command; the lines after it, up to
  the next ``$ `` or the end of the block, are its output as a terminal shows it (stdout and
  stderr together, 80 columns, no colour), compared line by line. Trailing spaces are ignored, the
  temporary directory is written ``/home/you/work``, and a line ``...`` stands for any lines.
- ```` ```bash ```` (or ``sh``) blocks: every line that is not blank or a comment is a command (a
  line ending in ``\\`` continues on the next), run for its exit code only.
- ```` ```python ```` blocks are executed, one namespace per page.
- A table row whose first cell is an inline ```rnncalc ...``` command is run for its exit code.
- A command must exit 0, unless its line ends with the comment ``# exit N``.
- Not run: ``pip install ...`` and ``python -m pytest ...`` (CI runs exactly README's test
  command: checked below) and ``python benchmarks/...`` (run by hand, minutes).
  A command ``A && B`` drops such parts and runs the rest.

Simple ``rnncalc`` commands (no pipe, redirection or other shell syntax) run in this process
through the CliRunner, the others in ``bash`` with ``rnncalc`` meaning this checkout: one torch
import instead of one per command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHOWN_CWD = "/home/you/work"
EXIT = re.compile(r"\s#\s*exit (\d+)\s*$")
NOT_RUN = re.compile(r"^(pip install |python benchmarks/|([A-Z_]+=\S+ )*python -m pytest)")
SHELL_SYNTAX = re.compile(r"[|<>;&$`*?~(){}\[\]]|^\w+=")
TABLE_COMMAND = re.compile(r"^\|\s*`(rnncalc [^`]*)`\s*\|")
TIMEOUT = 300


@dataclass(frozen=True)
class Shown:
    """One runnable thing a page shows: where, what, and what it must give."""

    page: str
    line: int
    kind: str  # "shell" or "python"
    text: str
    exit_code: int = 0
    output: tuple[str, ...] | None = None  # None: not compared


def extract(path: Path) -> list[Shown]:
    """Everything ``path`` shows that the rule above runs, in page order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    shown: list[Shown] = []
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not fence:
            table = TABLE_COMMAND.match(lines[i])
            if table:
                shown += _commands(name, i + 1, [table.group(1)])
            i += 1
            continue
        indent, lang = fence.groups()
        start, i = i + 1, i + 1
        while not re.match(rf"^{indent}```\s*$", lines[i]):
            i += 1
        body = [line[len(indent):] for line in lines[start:i]]
        i += 1
        if lang == "console":
            shown += _console(name, start + 1, body)
        elif lang in ("bash", "sh"):
            shown += _commands(name, start + 1, body)
        elif lang == "python":
            shown.append(Shown(name, start + 1, "python", "\n".join(body)))
    return shown


def _commands(page: str, first: int, body: list[str]) -> list[Shown]:
    """A bash block's commands (continuations joined), pip/pytest/benchmark parts dropped."""
    out, pending, at = [], "", first
    for n, line in enumerate(body, first):
        if not pending:
            at = n
        if line.rstrip().endswith("\\"):
            pending += line.strip()[:-1].rstrip() + " "
            continue
        text, pending = (pending + line.strip()).strip(), ""
        if not text or text.startswith("#"):
            continue
        code = EXIT.search(text)
        parts = [p.strip() for p in text.split(" && ")]
        runnable = " && ".join(p for p in parts if not NOT_RUN.match(p))
        if runnable:
            out.append(Shown(page, at, "shell", runnable, int(code.group(1)) if code else 0))
    return out


def _console(page: str, first: int, body: list[str]) -> list[Shown]:
    """A console block's ``$ `` commands, each with the output lines shown under it."""
    out: list[Shown] = []
    for n, line in enumerate(body):
        if not line.startswith("$ "):
            continue
        end = next((k for k in range(n + 1, len(body)) if body[k].startswith("$ ")), len(body))
        (command,) = _commands(page, first + n, [line[2:]]) or [None]
        if command is not None:
            out.append(Shown(page, command.line, "shell", command.text, command.exit_code,
                             tuple(body[n + 1:end])))
    return out


def _matches(expected: list[str], got: list[str]) -> bool:
    """``got`` is ``expected`` where a line ``...`` stands for any lines (none included)."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(_matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and _matches(expected[1:], got[1:])


def _normal(text: str, cwd: Path) -> list[str]:
    lines = [line.rstrip() for line in text.replace(str(cwd), SHOWN_CWD).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temporary directory with ``configs/`` copied and ``rnncalc`` on PATH meaning this tree."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    bin_dir = tmp_path.parent / (tmp_path.name + "-bin")
    bin_dir.mkdir()
    shim = bin_dir / "rnncalc"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rnncalc "$@"\n')
    shim.chmod(0o755)
    for key in [k for k in os.environ if k.startswith("RNNCALC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _uncommented(text: str) -> str:
    """``text`` without a trailing ``# comment`` (a ``#`` inside quotes is kept)."""
    for at in (k for k, c in enumerate(text) if c == "#" and (k == 0 or text[k - 1].isspace())):
        if text[:at].count("'") % 2 == 0 and text[:at].count('"') % 2 == 0:
            return text[:at].strip()
    return text.strip()


def run_shell(shown: Shown, cwd: Path) -> tuple[int, str]:
    """Run one command: in this process when it is a plain ``rnncalc ...``, else in bash."""
    plain = _uncommented(shown.text)
    # worker processes (--jobs) start from a real entry point, not from pytest's
    if plain.startswith("rnncalc ") and not SHELL_SYNTAX.search(plain) and "--jobs" not in plain:
        args = shlex.split(plain)[1:]
        result = CliRunner().invoke(app, args, input="", env={"NO_COLOR": "1", "COLUMNS": "80"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output
    done = subprocess.run(["bash", "-c", shown.text], cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT)
    return done.returncode, done.stdout


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_runs_as_shown(page: Path, workdir: Path):
    namespace: dict = {"__name__": "__docs__"}
    for shown in extract(page):
        where = f"{shown.page}:{shown.line}: {shown.text.splitlines()[0]}"
        if shown.kind == "python":
            exec(compile(shown.text, where, "exec"), namespace)
            continue
        code, output = run_shell(shown, workdir)
        assert code == shown.exit_code, f"{where}\nexit {code}, not {shown.exit_code}:\n{output}"
        if shown.output is not None:
            got, expected = _normal(output, workdir), _normal("\n".join(shown.output), workdir)
            assert _matches(expected, got), (
                f"{where}\nthe page shows:\n" + "\n".join(expected) + "\nthe program prints:\n"
                + "\n".join(got))


def test_readme_test_command_is_what_ci_runs():
    """The developers' guide: CI runs the very test command README gives a newcomer."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(pip install torch==2\.13\.0 && [^\n]*)\n```", readme)
    assert len(commands) == 2, commands
    install, test = commands
    assert install.endswith("pip install . && rnncalc lstm --step-by-step")
    assert "python -m pytest" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci


def test_every_page_is_in_the_site_nav():
    """mkdocs.yml's nav lists every page of docs/ once (mkdocs --strict checks the links)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    listed = list(pages(config["nav"]))
    assert sorted(listed) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))


def test_extraction_rule(tmp_path):
    """The rule above on a page written for it: what runs, with which exit code and output."""
    page = tmp_path / "sample.md"
    page.write_text(textwrap.dedent("""\
        ```console
        $ rnncalc check - -  # exit 2
        Usage: ...
        ...
        $ echo hi
        hi
        ```
        | `rnncalc rnn` | the seed |
        ```bash
        pip install torch==2.13.0 && pip install . && rnncalc lstm -s
        rnncalc grad \\
          -c configs/rnn_grad.yaml
        # a comment
        python -m pytest
        ```
        ```yaml
        rnncalc: not run
        ```
        """), encoding="utf-8")
    got = [(s.line, s.text, s.exit_code, s.output) for s in extract(page)]
    assert got == [
        (2, "rnncalc check - -  # exit 2", 2, ("Usage: ...", "...")),
        (5, "echo hi", 0, ("hi",)),
        (8, "rnncalc rnn", 0, None),
        (10, "rnncalc lstm -s", 0, None),
        (11, "rnncalc grad -c configs/rnn_grad.yaml", 0, None),
    ]
    assert _matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert _matches(["a", "...", "b"], ["a", "b"])
    assert not _matches(["a", "...", "d"], ["a", "b"])
    assert not _matches(["a"], ["a", "b"])
