"""Read YAML as plain data, remembering the line of every value, refusing anything but plain data.

PyYAML's ``safe_load`` already refuses object-constructing tags, but it keeps the last of two
duplicate keys in silence and expands aliases without limit. This loader composes the node graph
with the safe loader, then builds the data itself so that it can

- record the line of every key and value (``Located.lines``, keyed by field path);
- refuse duplicate keys (naming both lines), any tag outside the plain JSON-like core, and merge
  keys;
- refuse more than a handful of aliases, and aliases that expand to more than a few thousand
  values, before expanding them further (a "billion laughs" stays small, in time and memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from rnncalc.errors import ConfigError

__all__ = [
    "MAX_ALIASES", "MAX_ALIAS_VALUES", "Located", "Path", "format_path", "load_yaml", "shape_of",
]

MAX_ALIASES = 64
#: Values built by expanding aliases, all aliases together: a config shares a few small blocks.
MAX_ALIAS_VALUES = 10_000

Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_PLAIN_SCALARS = {_CORE + name for name in ("str", "int", "float", "bool", "null")}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# YAML 1.1 (PyYAML) reads 1e-3 and 1.0e5 as strings; YAML 1.2, and every student, as numbers
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


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
    """Plain data read from a YAML text, and the line (1-based) where each field path starts."""

    data: Any
    lines: dict[Path, int]
    source: str

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def error(self, path: Path, message: str) -> ConfigError:
        return ConfigError(
            message, source=self.source, line=self.line_of(path), path=format_path(path)
        )


def load_yaml(text: str, source: str, expected: str = "a mapping of config keys") -> Located:
    """Parse ``text``; raise :class:`ConfigError` (with line and column) on anything not plain.
    ``expected`` is what an empty file is told it should hold."""
    try:
        root = yaml.compose(text, Loader=_Loader)
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
    if root is None:
        raise ConfigError(f"the file is empty; expected {expected}", source=source)
    builder = _Builder(source)
    return Located(builder.build(root, ()), builder.lines, source)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[Path, int] = {}
        self.seen: set[int] = set()
        self.aliases = 0
        self.expanding = 0  # > 0 while building the copy an alias stands for
        self.expanded = 0  # values built in such copies
        self.scalars = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, path: Path, message: str) -> ConfigError:
        return ConfigError(
            message, source=self.source, line=node.start_mark.line + 1, path=format_path(path)
        )

    def build(self, node: yaml.Node, path: Path) -> Any:
        if id(node) in self.seen:  # the composer shares the node of an anchor with every alias
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.fail(
                    node, path, f"more than {MAX_ALIASES} aliases (*name); "
                    "refused so that a small file cannot expand into a huge one"
                )
            self.expanding += 1
            try:
                return self._build(node, path)
            finally:
                self.expanding -= 1
        return self._build(node, path)

    def _build(self, node: yaml.Node, path: Path) -> Any:
        if self.expanding:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_VALUES:
                raise self.fail(
                    node, path, f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} values; "
                    "refused so that a small file cannot expand into a huge one"
                )
        if not isinstance(node, yaml.ScalarNode):
            self.seen.add(id(node))
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _CORE + "seq":
                raise self.fail(node, path, f"tag {node.tag!r} is not allowed; plain YAML only")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag not in _PLAIN_SCALARS:
            raise self.fail(
                node, path, f"tag {node.tag!r} is not allowed; only plain numbers, strings, "
                "booleans and null"
            )
        plain = not node.style  # unquoted: None in PyYAML's composer, "" in libyaml's
        if node.tag == _CORE + "str" and plain and _EXPONENT.fullmatch(node.value):
            return float(node.value)
        try:
            return self.scalars.construct_object(node)
        except (ValueError, KeyError, yaml.YAMLError):  # an explicit tag: !!float rnn, !!bool 2
            kind = node.tag.rpartition(":")[2]
            raise self.fail(node, path, f"{node.value!r} is not a valid !!{kind}") from None

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        if node.tag != _CORE + "map":
            raise self.fail(node, path, f"tag {node.tag!r} is not allowed; plain YAML only")
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge":
                raise self.fail(key_node, path, "merge keys (<<) are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, path, "a key must be a plain string, not a list or map")
            key = self.build(key_node, path)
            key = str(key) if not isinstance(key, str) else key
            line = key_node.start_mark.line + 1
            if key in out:
                raise self.fail(
                    key_node, (*path, key),
                    f"duplicate key {key!r} (lines {first_line[key]} and {line}); "
                    "YAML would silently keep only the last",
                )
            first_line[key] = line
            self.lines[(*path, key)] = line
            out[key] = self.build(value_node, (*path, key))
        return out
