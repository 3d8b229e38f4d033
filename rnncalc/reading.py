"""Reading a file a student may have made: bounded before a byte is read, decoded with a message
that says what the file is.

Every read is bounded: a regular file's size is taken from the opened file (``fstat``) and a file
over the limit is refused unread; a FIFO or a device (``/dev/zero``, an endless pipe) is read at
most one byte past the limit. So a refusal comes at once, whatever the file.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from rnncalc.errors import ConfigError

__all__ = ["decode", "open_problem", "read_bounded"]

_CHUNK = 1 << 16


def open_problem(exc: OSError) -> str:
    """What an ``OSError`` from opening a file means, in a few words (a symlink loop is not a
    missing file)."""
    return {
        errno.ENOENT: "no such file",
        errno.ELOOP: "a symbolic link loop (the link points, in the end, at itself)",
        errno.EISDIR: "is a directory",
        errno.EACCES: "permission denied",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.ENOTDIR: "no such file (a part of the path is not a directory)",
    }.get(exc.errno or 0, f"cannot read: {exc.strerror or exc}")


def read_bounded(name: str, limit: int, what: str, limit_hint: str = "") -> bytes:
    """The bytes of ``name`` (``-``: stdin), refused if more than ``limit``; ``what`` names what
    the file should be ("a YAML config file"), ``limit_hint`` why the limit and how to raise it."""
    too_large = f"larger than the limit of {limit:,} bytes{', ' + limit_hint if limit_hint else ''}"
    if name == "-":
        raw = _read_upto(sys.stdin.buffer.fileno(), limit + 1) \
            if _has_fileno(sys.stdin.buffer) else sys.stdin.buffer.read(limit + 1)
        if len(raw) > limit:
            raise ConfigError(too_large, source="<stdin>")
        return raw
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError as exc:
        problem = open_problem(exc)
        if exc.errno == errno.EISDIR:
            problem += f"; expected {what}"
        raise ConfigError(problem, source=name) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"is a directory; expected {what}", source=name)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise ConfigError(f"{info.st_size:,} bytes, {too_large}", source=name)
        try:
            raw = _read_upto(fd, limit + 1)
        except OSError as exc:
            raise ConfigError(open_problem(exc), source=name) from None
        if len(raw) > limit:  # a FIFO or a device: it has no size until it is read
            kind = "regular file" if stat.S_ISREG(info.st_mode) else "stream (not a regular file)"
            raise ConfigError(f"{too_large}; this {kind} went on past it", source=name)
        return raw
    finally:
        os.close(fd)


def _has_fileno(stream: object) -> bool:
    try:
        stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # a test's in-memory stdin
        return False
    return True


def _read_upto(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode(raw: bytes, name: str) -> str:
    """``raw`` as text: UTF-8, or UTF-16/32 with a byte-order mark (YAML allows them). Anything
    else is refused at the line of its first bad byte, saying what the file probably is."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec.removesuffix("-sig"))
            except UnicodeDecodeError:
                raise ConfigError(f"not valid {codec.upper()} text after its byte-order mark",
                                  source=name) from None
    if b"\x00" in raw:  # NUL bytes: UTF-16 (or 32) without a mark, or not text at all
        at = raw.index(b"\x00")
        line = raw[:at].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text: it holds NUL bytes (offset {at}); UTF-16 or UTF-32 "
                          "without a byte-order mark, or not a text file? save it as UTF-8",
                          source=name, line=line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})",
                          source=name, line=line) from None
