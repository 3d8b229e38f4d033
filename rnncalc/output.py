"""Where results go: stdout, or a file written atomically (a temporary file renamed over it)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from rnncalc.errors import RnncalcError

__all__ = ["write_result"]


def write_result(text: str, output: Path | None = None) -> None:
    """Write ``text`` to ``output`` (atomically) or to stdout."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = output.resolve()
    if target.is_dir():
        raise RnncalcError(f"{output}: is a directory; --output needs a file path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise RnncalcError(f"{output}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.chmod(tmp, _mode(target))  # mkstemp's file is private (0600); open() would not be
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, a lost mount: the earlier file is whole
            raise RnncalcError(f"{output}: cannot write: {exc.strerror or exc}") from None
        raise


def _mode(target: Path) -> int:
    """The permissions ``target`` has, or those a new file gets under the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
