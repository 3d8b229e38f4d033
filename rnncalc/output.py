"""Where results go: stdout, or a file: a regular file is replaced atomically (a temporary file
renamed over it); a FIFO or a device (``/dev/null``, ``/dev/stdout`` in a pipe) is written
through, as a shell redirect writes it, never replaced by a regular file."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rnncalc.errors import RnncalcError

__all__ = ["stdout_failed", "write_chunks", "write_result"]


def write_result(text: str | bytes, output: Path | None = None, *,
                 follow_links: bool = True) -> None:
    """Write ``text`` (or bytes: a zip) to ``output`` or to stdout.

    ``follow_links=False`` (files rnncalc names itself in a folder, ``exercise --out-dir``): a
    symbolic link, or anything else that is not a regular file, at ``output`` is replaced, never
    written through. A target that may not be written (read-only) is refused, as a shell redirect
    refuses it, rather than replaced.
    """
    if output is None:
        _to_stdout(text)
        return
    try:
        info = os.stat(output) if follow_links else os.lstat(output)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        from rnncalc.reading import open_problem

        raise RnncalcError(f"{output}: cannot write: {open_problem(exc)}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise RnncalcError(f"{output}: is a directory; --output needs a file path")
    if info is not None and follow_links and not stat.S_ISREG(info.st_mode):
        _write_through(text, output)
        return
    if info is not None and stat.S_ISREG(info.st_mode) and not _writable(output, info):
        raise RnncalcError(f"{output}: cannot write: permission denied (the file is read-only; "
                           "it is not replaced)")
    target = output.resolve() if follow_links else Path(os.path.abspath(output))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise RnncalcError(f"{output}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, _mode(info))  # mkstemp's file is private (0600); open() would not be
            f.write(_bytes(text))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, a lost mount: the earlier file is whole
            raise RnncalcError(f"{output}: cannot write: {exc.strerror or exc}") from None
        raise


def write_chunks(chunks: Iterable[bytes], output: Path | None = None) -> None:
    """Write UTF-8 ``chunks`` to stdout as they come, or to ``output`` as :func:`write_result`
    writes a file (whole, at the end: the checks and the atomic replace are that function's)."""
    if output is not None:
        write_result(b"".join(chunks).decode(), output)
        return
    binary = getattr(sys.stdout, "buffer", None)
    try:
        sys.stdout.flush()
        for chunk in chunks:
            if binary is None:
                sys.stdout.write(chunk.decode())
            else:
                binary.write(chunk)
        (binary or sys.stdout).flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stdout_failed(exc) from None


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _to_stdout(text: str | bytes) -> None:
    """Write to stdout; a full disk or a device that refuses (``> /dev/full``) is a one-line
    error naming stdout (a reader that went away stays a quiet end: BrokenPipeError)."""
    try:
        if isinstance(text, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stdout_failed(exc) from None


def stdout_failed(exc: OSError) -> RnncalcError:
    """The error of a write to stdout that failed, stdout dropped (see :func:`_drop_stdout`)."""
    _drop_stdout()
    return RnncalcError(f"<stdout>: cannot write: {exc.strerror or exc}")


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that what is left in its buffer is not flushed into the
    same error again as Python exits (which would print a second message and exit 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _write_through(text: str | bytes, output: Path) -> None:
    """A FIFO or a device: written as a shell redirect writes it (its reader sees the text)."""
    try:
        with open(output, "wb") as f:
            f.write(_bytes(text))
    except OSError as exc:
        raise RnncalcError(f"{output}: cannot write: {exc.strerror or exc}") from None


def _writable(output: Path, info: os.stat_result) -> bool:
    """May ``output`` be written? Not when nobody may (no write bit: even root's shell redirect
    would then write it, but a read-only file says "keep me"), nor when this user may not."""
    return bool(info.st_mode & 0o222) and os.access(output, os.W_OK)


def _mode(info: os.stat_result | None) -> int:
    """The permissions the target has, or those a new file gets under the umask."""
    if info is not None and stat.S_ISREG(info.st_mode):
        return info.st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask

