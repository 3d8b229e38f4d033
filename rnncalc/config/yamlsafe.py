"""Read YAML as plain data, remembering the line of every value, refusing anything but plain data.

PyYAML's ``safe_load`` refuses object-constructing tags, but it reads YAML 1.1 (``010`` is 8,
``1:30`` is 90, ``on`` is ``True``), keeps the last of two duplicate keys in silence, expands
aliases without limit, and builds a node with two marks for every value first (a 1 MB config took
seconds and hundreds of megabytes). This loader builds plain data straight from libyaml's events,
in time and memory linear in the text, and

- reads scalars by YAML 1.2's core schema: a number means what it looks like (``010`` is 10,
  ``1e-3`` a number, ``1:30`` and ``0b1`` text), only ``true``/``false`` are booleans (``on``,
  ``yes``, ``no`` are text), ``~``/``null`` is null;
- records the line of every key, and of every list item that starts a line of its own
  (``Located.line_of`` finds any other value's line from the nearest of its containers);
- refuses duplicate keys (naming both lines), any tag outside the plain JSON-like core, merge keys
  and more than one document;
- refuses more than a handful of aliases, and aliases that expand to more than a few thousand
  values, before expanding them (a "billion laughs" stays small, in time and memory).
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev

from rnncalc.errors import ConfigError, shown

__all__ = [
    "MAX_ALIASES", "MAX_ALIAS_VALUES", "NUMBER", "Located", "Path", "format_path", "load_yaml",
    "shape_of",
]

MAX_ALIASES = 64
#: Values built by expanding aliases, all aliases together: a config shares a few small blocks.
MAX_ALIAS_VALUES = 10_000
#: Digits of the longest integer read as one (Python refuses to read longer ones, and a run has
#: no use for them): a longer one is read as a float, which is infinite, and refused as such.
MAX_INT_DIGITS = 4000

Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_PLAIN_SCALARS = {_CORE + name for name in ("str", "int", "float", "bool", "null")}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, else pure Python
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_INT_8 = re.compile(r"0o[0-7]+")
_INT_16 = re.compile(r"0x[0-9a-fA-F]+")
#: A decimal number as YAML 1.2 (and JSON) writes one, in ASCII digits (an int too)
NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_NUMERIC_START = frozenset("0123456789+-.")
# the event classes, looked up once: the builder compares every event's type with them
_SCALAR, _ALIAS = ev.ScalarEvent, ev.AliasEvent
_SEQUENCE_START, _SEQUENCE_END, _MAPPING_END = (ev.SequenceStartEvent, ev.SequenceEndEvent,
                                                ev.MappingEndEvent)
_SPECIAL = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
            ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
            "true": True, "True": True, "TRUE": True, "false": False, "False": False,
            "FALSE": False, "~": None, "null": None, "Null": None, "NULL": None, "": None}


def format_path(path: Path) -> str:
    """``("weights", "W_hf", 0)`` -> ``weights.W_hf[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shape_of(value: Any) -> list[int]:
    """The shape of nested lists, read along the first elements: ``[[1, 2, 3]]`` -> ``[1, 3]``."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape



@dataclass(frozen=True)
class Located:
    """Plain data read from a YAML text, and the line (1-based) where each field path starts
    (for a value that shares the line of its container, the container's: see :meth:`line_of`).
    ``texts``, when asked for, holds every scalar's text as written."""

    data: Any
    lines: dict[Path, int]
    source: str
    texts: dict[Path, str] | None = field(default=None, compare=False)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def error(self, path: Path, message: str, absent: bool = False) -> ConfigError:
        """A problem at ``path``; ``absent``: the key at its end is not written."""
        return ConfigError(message, source=self.source, line=self.line_of(path),
                           path=format_path(path), absent=absent)


def load_yaml(text: str, source: str, expected: str = "a mapping of config keys", *,
              texts: bool = False) -> Located:
    """Parse ``text``; raise :class:`ConfigError` (with line and column) on anything not plain.
    ``expected`` is what an empty file is told it should hold; ``texts``: keep every scalar's
    text as written (an answers file's ``0.9860`` claims four decimals)."""
    builder = _Builder(source, texts)
    try:
        root = builder.build(_Loader(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"not valid YAML{column}: {problem}", source=source, line=line
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise ConfigError(
            f"not valid YAML: character #x{code:04x} at offset {exc.position} is not "
            f"allowed ({exc.reason})", source=source, line=line
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"not valid YAML: {first}", source=source) from None
    if root is _EMPTY:
        raise ConfigError(f"the file is empty; expected {expected}", source=source)
    return Located(root, builder.lines, source, builder.texts)


def scalar(text: str, tag: str | None = None) -> Any:
    """A plain scalar's value by YAML 1.2's core schema, or, with an explicit ``tag``
    (``!!float 1``), as that tag says; ``ValueError`` when the text is not one.

    >>> [scalar(t) for t in ("010", "1e-3", "1:30", "on", "true", "~", "0x1f", "1_000")]
    [10, 0.001, '1:30', 'on', True, None, 31, '1_000']
    """
    if tag is None and text[:1] not in _NUMERIC_START:  # most keys and words: no pattern to try
        return _SPECIAL.get(text, text)
    if tag is None and len(text) < 16 and text.isdigit() and text.isascii():  # 0, 12, 010
        return int(text)
    if tag is None or tag == _CORE + "int" or tag == _CORE + "float":
        number = NUMBER.fullmatch(text)  # an int too: one match for either
        if number and number[2] is None and number[3] is None and number[1][0] != ".":
            digits = len(text.lstrip("+-"))
            if digits > 300 and (digits > MAX_INT_DIGITS or abs(int(text)) > _FLOAT_MAX):
                return Huge(text)
            value: Any = int(text)
        elif number:
            value = float(text)
        elif _INT_16.fullmatch(text) or _INT_8.fullmatch(text):
            value = int(text[2:], 16 if text[1] == "x" else 8)
            if value > _FLOAT_MAX:
                return Huge(text[2:])
        else:
            value = _SPECIAL.get(text.lstrip("+-") if text[:1] in "+-" and text[1:2] == "."
                                 else text, text)
            if isinstance(value, float) and text.startswith("-"):
                value = -value
        if tag is None:
            return value
        if tag == _CORE + "int" and type(value) is int:
            return value
        if tag == _CORE + "float" and type(value) in (int, float):
            return float(value)
        raise ValueError(text)
    if tag == _CORE + "str":
        return text
    value = _SPECIAL.get(text, text)
    if tag == _CORE + "bool" and type(value) is bool:
        return value
    if tag == _CORE + "null" and value is None:
        return None
    raise ValueError(text)


_FLOAT_MAX = int(sys.float_info.max)


class Huge(float):
    """A whole number written with more digits than a float holds (``1`` and 400 zeros): an
    infinite float, as every check of a number sees it, whose ``repr`` says what was written
    without echoing it (``a 400-digit number``), wherever a message shows it.

    >>> h = Huge("-" + "9" * 400); (h == float("-inf"), repr(h))
    (True, 'a negative 400-digit number')
    """

    digits: int

    def __new__(cls, text: str) -> Huge:
        self = super().__new__(cls, "-inf" if text.startswith("-") else "inf")
        self.digits = len(text.lstrip("+-"))
        return self

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]  # deepcopy, pickle
        return (("-" if self < 0 else "") + "9" * self.digits,)

    def __repr__(self) -> str:
        return f"{'a negative' if self < 0 else 'a'} {self.digits:,}-digit number"

    __str__ = __repr__


_EMPTY = object()  # a stream with no document: comments alone


class _Builder:
    """Plain data from a stream of parser events: one pass, no nodes, a line kept per key and
    per list item that starts a new line."""

    def __init__(self, source: str, texts: bool) -> None:
        self.source = source
        self.lines: dict[Path, int] = {}
        self.texts: dict[Path, str] | None = {} if texts else None
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, values in it)
        self.aliases = 0
        self.expanded = 0  # values built by copying what aliases stand for

    def fail(self, line: int, path: Path, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, line=line, path=format_path(path))

    def build(self, parser: Any) -> Any:
        get = parser.get_event
        get()  # StreamStart
        event = get()
        if isinstance(event, ev.StreamEndEvent):
            return _EMPTY
        root, _ = self.value(get, get(), (), 0)
        get()  # DocumentEnd
        event = get()
        if not isinstance(event, ev.StreamEndEvent):
            raise self.fail(event.start_mark.line + 1, (),
                            "more than one document (---); expected a single one")
        parser.dispose()
        return root

    def value(self, get: Any, event: Any, path: Path, line: int,
              keyed: bool = False) -> tuple[Any, int]:
        """The value ``event`` starts (reading the events of its contents), and how many values
        it holds. ``line`` is the line :meth:`Located.line_of` gives ``path`` so far (its
        container's); the value's own is recorded only where it differs, except for the value
        of a key (``keyed``), which stays at the key's line."""
        kind = type(event)
        here = event.start_mark.line + 1
        if not keyed and here != line:
            self.lines[path] = line = here
        if kind is _SCALAR:
            value = self.scalar(event, path, here)
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            return value, 1
        if kind is _ALIAS:
            return self.alias(event, path, here)
        tag, anchor = event.tag, event.anchor
        if kind is _SEQUENCE_START:
            if tag not in (None, "!", _CORE + "seq"):
                raise self.fail(here, path, f"tag {shown(tag)} is not allowed; plain YAML only")
            out: Any = []
            count = 1
            event = get()
            plain = self.texts is None
            while type(event) is not _SEQUENCE_END:
                if plain and type(event) is _SCALAR and event.tag is None \
                        and not event.style and not event.anchor:  # a number, mostly: inline
                    here = event.start_mark.line + 1
                    if here != line:
                        self.lines[(*path, len(out))] = here
                    out.append(scalar(event.value))
                    count += 1
                else:
                    item, n = self.value(get, event, (*path, len(out)), line)
                    out.append(item)
                    count += n
                event = get()
        else:
            if tag not in (None, "!", _CORE + "map"):
                raise self.fail(here, path, f"tag {shown(tag)} is not allowed; plain YAML only")
            out, count = self.mapping(get, path)
        if anchor:
            self.anchors[anchor] = (out, count)
        return out, count

    def mapping(self, get: Any, path: Path) -> tuple[dict[Any, Any], int]:
        out: dict[Any, Any] = {}
        count = 1
        first_line: dict[Any, int] = {}
        event = get()
        while type(event) is not _MAPPING_END:
            key_line = event.start_mark.line + 1
            if type(event) is not _SCALAR:
                raise self.fail(key_line, path, "a key must be a plain string, not a list, a map "
                                "or an alias")
            if event.value == "<<" and not event.style:
                raise self.fail(key_line, path, "merge keys (<<) are not supported")
            # a key is a name, kept as written: 010 is the key "010", on the key "on"
            key = event.value if event.tag in (None, "!") else \
                str(self.scalar(event, path, key_line, keep=False))
            if key in out:
                raise self.fail(key_line, (*path, key),
                                f"duplicate key {shown(key)} (lines {first_line[key]} and "
                                f"{key_line}); YAML would silently keep only the last")
            first_line[key] = key_line
            self.lines[(*path, key)] = key_line
            value, n = self.value(get, get(), (*path, key), key_line, keyed=True)
            out[key] = value
            count += n
            event = get()
        return out, count

    def scalar(self, event: Any, path: Path, line: int, keep: bool = True) -> Any:
        """A scalar's value (``keep``: keep its text as written, if texts are kept)."""
        text, tag = event.value, event.tag
        if keep and self.texts is not None:
            self.texts[path] = text
        if tag == "!" or (tag is None and event.style):
            return text  # quoted, or the non-specific tag "!": a string
        if tag is None:
            return scalar(text)
        if tag is not None and tag not in _PLAIN_SCALARS:
            raise self.fail(line, path, f"tag {shown(tag)} is not allowed; only plain numbers, "
                            "strings, booleans and null")
        try:
            return scalar(text, tag)
        except ValueError:  # an explicit tag: !!float rnn, !!bool 2
            raise self.fail(line, path, f"{shown(text)} is not a valid "
                            f"!!{tag.rpartition(':')[2]}") from None

    def alias(self, event: Any, path: Path, line: int) -> tuple[Any, int]:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise self.fail(line, path, f"more than {MAX_ALIASES} aliases (*name); refused so "
                            "that a small file cannot expand into a huge one")
        if event.anchor not in self.anchors:  # libyaml reports an unknown anchor itself
            raise self.fail(line, path, f"the alias *{shown(event.anchor)[1:-1]} names no "
                            "finished anchor (an alias inside what it names is a loop)")
        value, count = self.anchors[event.anchor]
        self.expanded += count
        if self.expanded > MAX_ALIAS_VALUES:
            raise self.fail(line, path, f"aliases (*name) expand to more than "
                            f"{MAX_ALIAS_VALUES} values; refused so that a small file cannot "
                            "expand into a huge one")
        return copy.deepcopy(value), count
