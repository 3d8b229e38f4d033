"""The ``rnncalc`` command: parse options, call the API, hand the result to a renderer.

One module per command group, each registering its commands on the one Typer ``app``:

- ``common``: the app, the options several commands share, writing a result;
- ``exits``: the one place where errors become exit codes; torch is imported only by the
  commands that compute;
- ``cells``: a command per cell of the registry (``rnncalc lstm``, ...);
- ``files``: ``formulas``, ``convert``, ``init``, ``schema``, ``validate`` (no torch);
- ``grading``: ``exercise``, ``check``, ``export``, ``answers-template``;
- ``runs``: ``grad``, ``run``;
- ``draw``: ``draw``.
"""

import contextlib
import copy
import gc
import os
import sys
from typing import Any

import typer

from rnncalc.cells import CELLS
from rnncalc.cli import cells, draw, files, grading, runs  # noqa: F401  (their commands)
from rnncalc.cli.common import app
from rnncalc.cli.exits import quiet_broken_pipe

__all__ = ["app", "main"]

#: The order ``rnncalc --help`` lists the commands in (one not named here: last).
_ORDER = (*CELLS, "formulas", "convert", "exercise", "init", "schema", "check", "export",
          "answers-template", "grad", "draw", "run", "validate")

def _nothing() -> None:
    """The callback of :func:`_only`'s group: there is nothing to do before the command."""


def _only(name: str) -> typer.Typer:
    """``app`` holding one command, ``name``: what ``rnncalc NAME ...`` runs.

    typer builds the click parameters of every command before it dispatches to one (~12 ms of
    every start); a command line that names its command never sees the others. A callback that
    does nothing keeps the app a group (typer turns a one-command app into that command), so usage
    lines and errors still say ``rnncalc NAME``.
    """
    from typer.models import TyperInfo

    one = copy.copy(app)
    one.registered_commands = [c for c in app.registered_commands if _name(c) == name]
    one.registered_callback = TyperInfo(callback=_nothing)
    return one


def _name(command: Any) -> str:
    """A registered command's name, as typer derives it: its own, else its function's."""
    return str(command.name or command.callback.__name__.lower().replace("_", "-"))


app.registered_commands.sort(
    key=lambda c: _ORDER.index(_name(c)) if _name(c) in _ORDER else len(_ORDER))


def main() -> None:
    """Console entry point: ``app``, or only the command the first argument names (not while a
    shell asks for completions, which may list every command)."""
    # what is imported by now lives as long as the process: the garbage collector need not walk
    # it at every full collection (validate of 14 configs: 20 ms less); engine.run does the
    # same for torch's objects
    gc.freeze()
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    completing = any(k.endswith("_COMPLETE") for k in os.environ)
    known = not completing and any(_name(c) == first for c in app.registered_commands)
    try:
        (_only(first) if known else app)()
    except BrokenPipeError:
        with contextlib.suppress(BaseException):
            quiet_broken_pipe()
        sys.exit(0)
