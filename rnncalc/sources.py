"""The configs a command line names, read and checked without computing: all of ``rnncalc
validate``, and the first half of ``rnncalc run`` (:mod:`rnncalc.jobs`, which exports these too).

A module of its own so that ``validate`` builds none of batch's classes. ``validate`` never imports
torch; :func:`read` does for a config that names a ``weights_file`` (it loads the file).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rnncalc.errors import ExitCode, RnncalcError, one_line

if TYPE_CHECKING:
    from typing import TypeAlias

    from rnncalc.config.yamlsafe import Located
    from rnncalc.model import Exercise

    #: What ``-`` stands for: the document read from stdin, the error reading it, or nothing.
    Stdin: TypeAlias = Located | RnncalcError | None

__all__ = ["CONFIG_SUFFIXES", "expand", "read", "read_stdin", "validate"]

#: Files a directory contributes: its YAML files, sorted, not recursing.
CONFIG_SUFFIXES = (".yaml", ".yml")


def expand(args: Iterable[str]) -> list[str]:
    """The configs named by ``args``, in order: a file as given, a directory's YAML files sorted,
    a glob's matches sorted, ``-`` for stdin. A name that matches nothing stays, to be reported,
    and so does a directory that holds no config (``class/`` whose configs are in subfolders)."""
    out: list[str] = []
    for arg in args:
        if arg == "-" or os.path.isfile(arg):
            out.append(arg)
        elif os.path.isdir(arg):
            out += sorted(str(p) for p in Path(arg).iterdir()
                          if p.suffix in CONFIG_SUFFIXES and p.is_file()) or [arg]
        elif glob.has_magic(arg):
            matches = sorted(m for m in glob.glob(arg, recursive=True) if not os.path.isdir(m))
            out += matches or [arg]
        else:
            out.append(arg)
    return out


def read_stdin(sources: Sequence[str]) -> Stdin:
    """The config on stdin, read once when ``-`` is among the sources (or why it cannot be)."""
    if "-" not in sources:
        return None
    from rnncalc.config import read_document

    try:
        return read_document("-")
    except RnncalcError as exc:
        return exc


def read(source: str, stdin: Stdin = None, dtype: str | None = None) -> Exercise:
    """Read and check one config (``-``: what :func:`read_stdin` read). A ``weights_file`` it
    names is loaded, which imports torch."""
    from rnncalc.config import build, folder_of

    return build(_document(source, stdin), folder_of(source), dtype=dtype)


def validate(sources: Sequence[str], stdin: Stdin = None) -> Iterator[RnncalcError | None]:
    """For each source in order, the error that makes it invalid, or ``None``. No torch: a
    ``weights_file`` is checked to be there, not read."""
    from rnncalc.config import check, folder_of

    for source in sources:
        try:
            check(_document(source, stdin), folder_of(source))
        except RnncalcError as exc:
            yield exc
        except Exception as exc:  # a bug: reported for this config (exit 4), the others go on
            yield Internal(one_line(f"{source}: internal error: {type(exc).__name__}: {exc} (a "
                                    "bug in rnncalc: rerun this config alone with --traceback "
                                    "and report it)"))
        else:
            yield None


class Internal(RnncalcError):
    """A bug met while checking one config of many: told for that config, exit 4."""

    exit_code = ExitCode.INTERNAL


def _document(source: str, stdin: Stdin) -> Located:
    from rnncalc.config import read_document
    from rnncalc.errors import ConfigError

    if source != "-" and os.path.isdir(source):  # what expand left of a directory: none in it
        raise ConfigError(f"no config ({', '.join('*' + s for s in CONFIG_SUFFIXES)}) in this "
                          "directory; its subfolders are not searched: name them, or quote a "
                          "glob such as 'DIR/**/*.yaml'", source=source)
    if source != "-" or stdin is None:
        return read_document(source)
    if isinstance(stdin, RnncalcError):
        raise stdin
    return stdin
