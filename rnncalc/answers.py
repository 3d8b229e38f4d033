"""A student's answers file: read each number as written (its digits matter), or write a blank one.

An answers file is the JSON output's shape in YAML (README, "Checking answers"): any subset of it,
steps named by their ``t``, layers by their ``layer``; ``~`` (null) or an absent key is not
answered. A number keeps the text it was written in, so ``0.9860`` is read to four decimals.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import yaml

from rnncalc.cells import CELLS
from rnncalc.config.yamlsafe import NUMBER, Located, load_yaml
from rnncalc.config.yamlsafe import Path as DocPath
from rnncalc.errors import ConfigError, shown
from rnncalc.reading import decode, read_bounded

if TYPE_CHECKING:
    from rnncalc.model import Exercise

__all__ = [
    "META_KEYS", "Answers", "Given", "Key", "blank", "lookup", "read_answers", "round_problem",
    "shape_of", "student_of", "template", "tolerance_problem",
]

#: A quantity's place in the JSON output: keys, list indices, ``"t=1"`` (the step whose ``t`` is 1)
#: and ``"layer=0"``.
Key = tuple[str | int, ...]

#: Keys of the JSON output that are not answers; an answers file may carry them (it may be a JSON
#: output), they are not checked.
META_KEYS = {"cell", "dtype", "sizes", "direction", "merge_mode", "formulation", "round",
             "explain", "x", "task", "title", "t", "layer",
             # grad's (rnncalc grad --format json) that are not answers either
             "loss_type", "reduction", "at", "target", "upstream", "truncate",
             # issue #14's: the backward direction's own equations; what grad shows beside
             "backward_formulation", "upstream_c", "dc_out", "slope", "tanh_c", "terms",
             "params_as_written"}


_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Given:
    """One answered number (or label), where it is in the file, and how it was written."""

    key: Key
    value: float | int | str
    text: str  # as written: "0.9860"
    line: int | None
    quoted: bool = False  # a number written in quotes ("0.9860"): YAML text, read as the number

    @property
    def shown(self) -> str:
        """``text`` for a table or a note: a 5,000-digit number is elided with its length given
        (``"1000000000000000... (5,001 characters)"``), not echoed whole."""
        if len(self.text) <= 40:
            return self.text
        return f"{self.text[:16]}... ({len(self.text):,} characters)"


@dataclass(frozen=True)
class Answers:
    """What :func:`read_answers` returns: the answers, and the ``tolerance`` and ``round`` the
    file itself wrote, which are never used for marking (the grader's policy: ``check(...,
    tolerance=, round_to=)``); rnncalc's own JSON output, a valid answers file, has a ``round``."""

    given: tuple[Given, ...]
    tolerance: float | None
    source: str
    student: str | None = None  # the file's ``student:``, which picks its variant of a class
    round: int | None = None


def tolerance_problem(value: object) -> str | None:
    """Why ``value`` cannot be a tolerance (``None``: it can): a finite number >= 0. An infinite
    one would mark every answer right, a NaN every answer wrong.

    >>> tolerance_problem(float("inf"))
    'expected a finite number >= 0, got inf'
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a finite number >= 0, got {shown(value)}"
    if not math.isfinite(value) or value < 0:
        return f"expected a finite number >= 0, got {shown(value)}"
    return None


def round_problem(value: object) -> str | None:
    """Why ``value`` cannot be a ``round`` (``None``: it can): decimals, as ``--round`` takes.

    >>> round_problem(1.5)
    'expected a whole number of decimals from 0 to 12, got 1.5'
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 12:
        return f"expected a whole number of decimals from 0 to 12, got {shown(value)}"
    return None


def lookup(doc: Any, key: Key) -> Any:
    """The value at ``key`` in a JSON output (``Trace.to_dict()``), or ``None`` when absent."""
    node = doc
    for part in key:
        if isinstance(part, str) and "=" in part:
            name, _, value = part.partition("=")
            node = next((e for e in node if isinstance(e, dict) and str(e.get(name)) == value),
                        None)
        elif isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


@dataclass(frozen=True)
class Parsed:
    """An answers file read and checked as a file (:func:`parse_answers`), before what it answers
    is checked against an exercise."""

    doc: Located
    raw: dict[DocPath, str]
    tolerance: float | None
    student: str | None
    round: int | None


def parse_answers(source: str | os.PathLike[str]) -> Parsed:
    """Read ``source`` as an answers file, without the exercise (and without torch, which only
    the exercise's arithmetic needs): its size, encoding, YAML, that it is a mapping, its
    ``tolerance``, ``round`` and ``student``; each problem a located error."""
    name = str(source)
    text = _text(name)
    doc = load_yaml(text, name, "a mapping of answers (see rnncalc answers-template)", texts=True)
    if not isinstance(doc.data, dict):
        raise ConfigError("expected a mapping of answers (see rnncalc answers-template)",
                          source=doc.source, line=doc.line_of(()))
    raw = doc.texts or {}
    # a student's own policy: shown as not used, never applied
    tolerance, round_to = doc.data.get("tolerance"), doc.data.get("round")
    for key, value, why in (("tolerance", tolerance, tolerance_problem),
                            ("round", round_to, round_problem)):
        problem = None if value is None else why(value)
        if problem:
            raise doc.error((key,), problem)
    return Parsed(doc, raw, None if tolerance is None else float(tolerance),
                  student_of(doc, raw), round_to)


def read_answers(source: str | os.PathLike[str] | Parsed,
                 expected: dict[str, Any] | Callable[[str | None], dict[str, Any]]) -> Answers:
    """Read ``source`` (a file, or what :func:`parse_answers` read of one) against ``expected``
    (the run's JSON output): every answer must name a quantity the run has; a wrong name, a
    non-number or a list too long is a located error. ``expected`` may be a function of the
    file's ``student:`` id (a class of variants)."""
    parsed = source if isinstance(source, Parsed) else parse_answers(source)
    doc = parsed.doc
    if callable(expected):
        expected = expected(parsed.student)
    given: list[Given] = []
    data = {k: v for k, v in doc.data.items() if k not in ("tolerance", "student")}
    _walk(doc, parsed.raw, data, expected, (), (), given)
    return Answers(tuple(given), parsed.tolerance, doc.source, parsed.student, parsed.round)


def student_of(doc: Located, raw: dict[DocPath, str]) -> str | None:
    """The file's ``student:`` id, as text (``student: 0042`` is ``"0042"``, not 42)."""
    if not isinstance(doc.data, dict) or doc.data.get("student") is None:
        return None
    value = doc.data["student"]
    if isinstance(value, (dict, list, bool)):
        raise doc.error(("student",), f"expected the student's id (text), got {value!r}")
    return raw.get(("student",), str(value)).strip()


def _text(name: str) -> str:
    """The file's text (``-``: stdin), read bounded; a missing, unreadable, endless or non-UTF-8
    file is a one-line error."""
    return decode(read_bounded(name, _MAX_BYTES, "an answers YAML file",
                                       "far more than any answers file"),
                  "<stdin>" if name == "-" else name)


def _walk(doc: Located, raw: dict[DocPath, str], node: Any, expected: Any, path: DocPath,
          key: Key, out: list[Given]) -> None:
    if node is None:
        return
    if isinstance(expected, dict):
        if not isinstance(node, dict):
            raise doc.error(path, f"expected a mapping with keys {', '.join(map(str, expected))}, "
                            f"got {type(node).__name__}")
        for k, v in node.items():
            if k in META_KEYS:
                continue
            if k not in expected:
                names = ", ".join(str(n) for n in expected if n not in META_KEYS)
                raise doc.error((*path, k), f"no such quantity in this exercise; expected one of "
                                f"{names}")
            _walk(doc, raw, v, expected[k], (*path, k), (*key, k), out)
        return
    if isinstance(expected, list):
        if not isinstance(node, list):
            raise doc.error(path, f"expected a list of {len(expected)}, got {node!r}")
        named = next((n for n in ("t", "layer") if expected and isinstance(expected[0], dict)
                      and n in expected[0]), None)
        seen: dict[str, int | None] = {}  # "t=1" -> its line: a step copied, t left unchanged
        for i, item in enumerate(node):
            if named is None:
                if i >= len(expected):
                    raise doc.error(path, f"expected at most {len(expected)} values, got "
                                    f"{len(node)}")
                _walk(doc, raw, item, expected[i], (*path, i), (*key, i), out)
                continue
            if not isinstance(item, dict) or named not in item:
                raise doc.error((*path, i), f"expected a mapping naming its {named} "
                                f"({named}: 0, ...), got {item!r}")
            part = f"{named}={item[named]}"
            if part in seen:
                raise doc.error((*path, i, named), f"{named} {item[named]!r} given twice (lines "
                                f"{seen[part]} and {doc.line_of((*path, i, named))}); each "
                                f"{'step' if named == 't' else named} once")
            seen[part] = doc.line_of((*path, i, named))
            target = lookup(expected, (part,))
            if target is None:
                have = ", ".join(str(e[named]) for e in expected)
                raise doc.error((*path, i, named), f"no {named} {item[named]!r} here; expected "
                                f"one of {have}")
            _walk(doc, raw, item, target, (*path, i), (*key, part), out)
        return
    if isinstance(expected, str):  # a class name
        out.append(Given(key, str(node), str(node), doc.line_of(path)))
        return
    if isinstance(node, bool) or not isinstance(node, (int, float, str)):
        raise doc.error(path, f"expected a number, got {node!r}")
    text = raw.get(path, str(node)).strip()
    # the only text read as a number, plain or quoted: not 0.98_66 or fullwidth digits, which
    # Decimal reads
    if not NUMBER.fullmatch(text):
        raise doc.error(path, f"expected a finite number, got {shown(text)}")
    whole = text.lstrip("-").isdigit()
    if isinstance(expected, int) and not whole:  # a label: a class index, as t and layer are
        number = Decimal(text)
        hint = f"; write it {int(number)}" if -2**63 < number < 2**63 \
            and number == number.to_integral_value() else ""  # not 1e999999999 written out
        raise doc.error(path, f"expected a whole number (a class index), got {shown(text)}"
                        f"{hint}")
    if isinstance(expected, int) and len(text.lstrip("-")) > 18:  # no class has such an index
        raise doc.error(path, f"expected a class index (a whole number from 0), got a "
                        f"{len(text.lstrip('-')):,}-digit number")
    value: float | int = int(text) if isinstance(expected, int) else float(text)
    out.append(Given(key, value, text, doc.line_of(path), isinstance(node, str)))


def template(expected: dict[str, Any], title: str = "", student: str | None = None, *,
             grad: bool = False) -> str:
    """A blank answers file for a run: every step's gates (before and after the activation), the
    states, and the head, each number ``~`` to be filled in (``student``: the id written in it);
    ``grad``: instead, what ``rnncalc grad`` shows (``expected`` must hold it)."""
    from rnncalc import gradanswers

    doc = gradanswers.blank(expected["grad"]) if grad else blank(expected)
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)
    body = body.replace("null", "~")  # the only scalars are the blanks (keys are fixed names)
    header = [
        f"# Answers{': ' + title if title else ''} (rnncalc answers-template).",
        "# Replace a ~ by your number; leave ~ (or delete the key) for what you did not work out.",
        "# A number is checked at the precision you write it: 0.9866 is right when the true",
        "# value rounds to 0.9866 (unless your teacher allows a fixed distance instead).",
    ]
    if student is not None:
        header.append(f"student: {json.dumps(student)}  # your id: it picks your numbers")
    return "\n".join(header) + "\n" + body


def blank(expected: dict[str, Any]) -> dict[str, Any]:
    """What :func:`template` asks for, as data: every asked number ``None``."""
    layers = []
    for layer in expected["layers"]:
        directions = {}
        for name, steps in layer["directions"].items():
            rows = []
            for s in steps:
                row: dict[str, Any] = {"t": s["t"], "pre": _blank(s["pre"])}
                if set(s["act"]) != {"h"}:  # an rnn's activation is h itself
                    row["act"] = _blank(s["act"])
                for state in ("c", "m", "h"):
                    if state in s:
                        row[state] = _blank(s[state])
                rows.append(row)
            directions[name] = rows
        layers.append({"layer": layer["layer"], "directions": directions})
    doc: dict[str, Any] = {"layers": layers}
    if "head" in expected:
        doc["head"] = {k: _blank(v) for k, v in expected["head"].items() if k != "task"}
    return doc


def shape_of(ex: Exercise) -> dict[str, Any]:
    """The parts of ``Trace.to_dict()`` that :func:`blank` reads, every number 0, from the
    exercise alone: a blank form needs no arithmetic (and no torch). Tests hold it to the trace's
    own shape for every example config."""
    T, H, P = ex.steps, ex.hidden_size, ex.state_size

    def step(t: int) -> dict[str, Any]:
        row: dict[str, Any] = {"t": t, "pre": {g: [0] * H for g in ex.gates},
                               "act": {g: [0] * H for g in ex.gates}}
        if CELLS[ex.cell].cell_state:
            row["c"] = [0] * H
        if ex.proj_size:
            row["m"] = [0] * H
        row["h"] = [0] * P
        return row

    order = {"forward": range(T), "backward": range(T - 1, -1, -1)}
    layers = [{"layer": k, "directions": {d: [step(t) for t in order[d]] for d in ex.directions}}
              for k in range(ex.num_layers)]
    out: dict[str, Any] = {"layers": layers}
    head = ex.head
    if head is not None:
        n = len(head.W)
        named = {"name": ""} if head.labels else {}
        if head.task == "regression":
            out["head"] = {"y": [0] * n, "steps": [{"t": t, "y": [0] * n} for t in range(T)]}
        elif head.task == "classification":
            out["head"] = {"logits": [0] * n, "probs": [0] * n, "label": 0, **named}
        else:
            out["head"] = {"steps": [{"t": t, "logits": [0] * n, "probs": [0] * n, "label": 0,
                                      **named} for t in range(T)]}
    return out


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v if k == "t" else _blank(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return None
