"""Errors become exit codes here, and only here: one line on stderr, the code named in
:class:`rnncalc.errors.ExitCode` (docs/errors.md); ``--traceback`` shows the stack."""

import contextlib
import errno
import os
import sys
import traceback as tb
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from rnncalc.errors import ExitCode, RnncalcError, Terminated, one_line
from rnncalc.limits import out_of_memory

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["compute", "exit_codes", "quiet_broken_pipe"]


@contextlib.contextmanager
def exit_codes(show_traceback: bool) -> Iterator[None]:
    """Turn every error into one line on stderr and its exit code (docs/errors.md)."""
    show_traceback = show_traceback or bool(os.environ.get("RNNCALC_TRACEBACK"))
    try:
        with _terminable():
            yield
    except typer.Exit:
        raise
    except RnncalcError as exc:
        if show_traceback:
            tb.print_exc()
        print(str(exc), file=sys.stderr)
        raise typer.Exit(int(exc.exit_code)) from None
    except BrokenPipeError:
        quiet_broken_pipe()
    except Terminated:
        print("terminated", file=sys.stderr)
        raise typer.Exit(int(ExitCode.TERMINATED)) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except MemoryError:
        print(out_of_memory(_computing), file=sys.stderr)
        raise typer.Exit(int(ExitCode.INVALID_INPUT)) from None
    except Exception as exc:
        if show_traceback:
            tb.print_exc()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRORS:  # > /dev/full, a full disk
            from rnncalc.output import stdout_failed

            print(stdout_failed(exc), file=sys.stderr)
            raise typer.Exit(int(ExitCode.INVALID_INPUT)) from None
        print(one_line(f"internal error: {type(exc).__name__}: {exc} (a bug in rnncalc: rerun "
                       "with --traceback and report it)"), file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


#: What a write to stdout meets on a full disk or a device that takes nothing (> /dev/full).
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


#: The exercise being computed, for the message when memory runs out.
_computing: Any = None


@contextlib.contextmanager
def _terminable() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` while inside (as SIGINT raises KeyboardInterrupt), so
    that a command ends as on Ctrl-C, with 143: ``run --jobs`` ends its workers rather than dying
    and leaving them, ``--output`` leaves no temporary file."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (a test's runner): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_broken_pipe() -> None:
    """The reader went away (``rnncalc ... | head -1``): stop quietly, as a Unix filter does."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def compute(exercise: object, round_to: int | None = None, *, numpy: bool = False) -> "Trace":
    """``engine.run``, the exercise kept for the message if memory runs out. ``numpy``: what
    follows reads numpy arrays too (tables, JSON, CSV, markdown, LaTeX), so a small exercise is
    computed without importing torch (``engine.compute``)."""
    global _computing
    _computing = exercise
    from rnncalc.engine import compute as on_arrays
    from rnncalc.engine import run

    if numpy:
        return on_arrays(exercise, round_to=round_to)  # type: ignore[arg-type]
    return run(exercise, round_to=round_to)  # type: ignore[arg-type]
