"""Points and partial credit, set by the grader (the config's ``grading:`` section and the command
line), never by a student's answers file; a class's scores and where the class went wrong.

>>> policy = Policy.parse({"points": {"default": 1, "h": 2, "t=2,gate=f": 0}, "carried": "half"})
>>> policy.points_of(("layers", "layer=0", "directions", "forward", "t=1", "h", 0))
2.0
>>> policy.credit("carried"), policy.credit("rounding"), policy.credit("wrong")
(0.5, 1.0, 0.0)

Points of one answered number: the most specific selector that matches it (the one with the most
conditions; among equals, the last given, so the command line's win over the config's), else
``default`` (1). A selector is conditions joined by commas: a name in the quantity's path (``pre``,
``act``, ``h``, ``c``, ``y``, ``probs``, ``label``, ``head``; ``grad`` for every gradient, ``dh``,
``dpre``, ``dW``, ``params``, ``weight_hh_l0``, ...), ``gate=G``, ``t=T``, ``layer=L``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rnncalc.errors import ConfigError, RnncalcError

if TYPE_CHECKING:
    from rnncalc.answers import Key
    from rnncalc.check import Report
    from rnncalc.config.yamlsafe import Located
    from rnncalc.model import Exercise

__all__ = ["CREDITS", "ClassSummary", "Policy", "Score", "asked", "facets", "score", "summarize"]

#: What a mark other than right and wrong earns: all its points, half, or none.
CREDITS = {"full": 1.0, "half": 0.5, "none": 0.0}
_KEYS = ("points", "carried", "rounding", "tolerance", "round")
_CONDITIONS = ("gate", "t", "layer")


class PolicyError(RnncalcError):
    """A bad ``--points``, ``--carried`` or ``--rounding`` on the command line (exit 2)."""

    exit_code = 2  # type: ignore[assignment]


@dataclass(frozen=True)
class Policy:
    """How answers are scored. Defaults: 1 point a number, full credit for a carried error and for
    a rounding difference, each number at the precision written, the exact run."""

    points: tuple[tuple[frozenset[tuple[str, str]], float], ...] = ()
    default: float = 1.0
    carried: str = "full"
    rounding: str = "full"
    tolerance: float | None = None
    round: int | None = None

    @classmethod
    def parse(cls, section: Mapping[str, Any], error: Any = None) -> Policy:
        """A policy from a ``grading:`` mapping; ``error(path, message)`` makes the exception."""
        def fail(path: tuple[str | int, ...], message: str) -> Exception:
            if error is not None:
                return error(("grading", *path), message)  # type: ignore[no-any-return]
            return ConfigError(message, path=".".join(map(str, ("grading", *path))))

        policy = cls()
        for key, value in section.items():
            if key not in _KEYS:
                raise fail((key,), f"no such key; expected one of {', '.join(_KEYS)}")
            if key == "points":
                entries = value.items() if isinstance(value, dict) else [("default", value)]
                for selector, points in entries:
                    where = ("points", selector) if isinstance(value, dict) else ("points",)
                    if not _number(points) or points < 0:
                        raise fail(where, f"expected a number of points >= 0, got {points!r}")
                    try:
                        policy = policy.with_points(str(selector), float(points))
                    except ValueError as exc:
                        raise fail(where, str(exc)) from None
            elif key in ("carried", "rounding"):
                if value not in CREDITS:
                    raise fail((key,), f"expected one of {', '.join(CREDITS)}, got {value!r}")
                policy = replace(policy, **{key: value})
            elif key == "tolerance":
                from rnncalc.answers import tolerance_problem

                problem = tolerance_problem(value)
                if problem:
                    raise fail((key,), problem)
                policy = replace(policy, tolerance=float(value))
            else:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 12:
                    raise fail((key,), f"expected a whole number of decimals 0 to 12, got "
                               f"{value!r}")
                policy = replace(policy, round=value)
        return policy

    @classmethod
    def from_document(cls, doc: Located) -> Policy:
        """The config's ``grading:`` section (none: the defaults)."""
        section = doc.data.get("grading") if isinstance(doc.data, dict) else None
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise doc.error(("grading",), f"expected a mapping (points, carried, rounding, "
                            f"tolerance, round), got {section!r}")
        return cls.parse(section, doc.error)

    def with_points(self, selector: str, points: float) -> Policy:
        """``selector`` (``default``, ``h``, ``gate=f``, ``t=2,gate=f``) worth ``points``."""
        if selector.strip() == "default":
            return replace(self, default=points)
        conditions = set()
        for part in selector.split(","):
            name, eq, value = (s.strip() for s in part.partition("="))
            if not name or (eq and (name not in _CONDITIONS or not value)):
                raise ValueError(f"expected a quantity (h, pre, dW, ...), gate=G, t=T or "
                                 f"layer=L, joined by commas, got {selector!r}")
            conditions.add((name, value) if eq else ("quantity", name))
        return replace(self, points=(*self.points, (frozenset(conditions), points)))

    def with_options(self, points: Sequence[str] = (), carried: str | None = None,
                     rounding: str | None = None, tolerance: float | None = None,
                     round: int | None = None) -> Policy:
        """The command line's options over the config's policy: ``points`` as ``[SELECTOR:]N``."""
        policy = self
        for text in points:
            selector, _, number = text.rpartition(":")
            try:
                value = float(number)
                if not 0 <= value < float("inf"):
                    raise ValueError
            except ValueError:
                raise PolicyError(f"--points: expected [SELECTOR:]N with N >= 0 (h:2, gate=f:0.5,"
                                  f" t=2,gate=f:0, 1), got {text!r}") from None
            try:
                policy = policy.with_points(selector or "default", value)
            except ValueError as exc:
                raise PolicyError(f"--points: {exc}") from None
        changes: dict[str, Any] = {k: v for k, v in (("carried", carried), ("rounding", rounding),
                                     ("tolerance", tolerance), ("round", round)) if v is not None}
        return replace(policy, **changes)

    def points_of(self, key: Key) -> float:
        have = facets(key)
        # the names in its path, a gate's aside (pre.h is an RNN's pre-activation, not h)
        parts = [str(p) for p in key if isinstance(p, str) and "=" not in p]
        names = {p for i, p in enumerate(parts)
                 if not (i and parts[i - 1] in ("pre", "act", "dpre"))}
        best, points = -1, self.default
        for conditions, value in self.points:
            if all(want in names if name == "quantity" else have.get(name) == want
                   for name, want in conditions) and len(conditions) >= best:
                best, points = len(conditions), value
        return points

    def credit(self, mark: str) -> float:
        if mark == "right":
            return 1.0
        if mark in ("carried", "rounding"):
            return CREDITS[getattr(self, mark)]
        return 0.0

    def to_dict(self) -> dict[str, Any]:
        points: dict[str, float] = {"default": self.default}
        for conditions, value in self.points:
            points[",".join(sorted(v if k == "quantity" else f"{k}={v}"
                                   for k, v in conditions))] = value
        return {"points": points, "carried": self.carried, "rounding": self.rounding,
                "tolerance": self.tolerance, "round": self.round}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def facets(key: Key) -> dict[str, str]:
    """What a selector can ask of a quantity: its name, gate, step and layer (as text)."""
    out: dict[str, str] = {}
    named = [str(p) for p in key if isinstance(p, str) and "=" not in p]
    for part in key:
        if isinstance(part, str) and "=" in part:
            name, _, value = part.partition("=")
            out[name] = value
    skip = {"layers", "directions", "steps", "head", "grad", "forward", "backward"}
    names = [p for p in named if p not in skip]
    if not names:
        names = [p for p in named if p != "grad"] or ["?"]
    out["quantity"] = names[0]
    if names[0] in ("pre", "act", "dpre") and len(names) > 1:
        out["gate"] = names[1]
    return out


# ----------------------------------------------------------------------------- scores


@dataclass(frozen=True)
class Score:
    """One answers file's score under a policy."""

    report: Report
    student: str | None
    score: float
    max_score: float
    points: tuple[tuple[float, float], ...]  # per item: (earned, worth)
    missing: tuple[tuple[str, float], ...]  # asked and not answered: name, points
    asked: int

    @property
    def exit_code(self) -> int:
        return 0 if self.report.all_right else 1

    def record(self) -> dict[str, Any]:
        """The jsonl record: the score, the counts, every item with its points."""
        doc = self.report.to_dict()
        for item, (earned, worth) in zip(doc["items"], self.points, strict=True):
            item.update(score=_num(earned), max_score=_num(worth))
        return {"answers": self.report.source, "student": self.student,
                "score": _num(self.score), "max_score": _num(self.max_score),
                **{k: doc["summary"][k] for k in ("right", "rounding", "carried", "wrong")},
                "missing": len(self.missing), "exit_code": self.exit_code,
                "items": doc["items"], "first_wrong": doc["first_wrong"]}


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 6)


def asked(blank: Any, key: tuple[str | int, ...] = ()) -> Iterable[Key]:
    """Every quantity a blank answers document asks for (``None`` leaves), as answers keys."""
    if isinstance(blank, dict):
        for k, v in blank.items():
            if k not in ("t", "layer"):
                yield from asked(v, (*key, k))
    elif isinstance(blank, list):
        for i, v in enumerate(blank):
            named = next((n for n in ("t", "layer") if isinstance(v, dict) and n in v), None)
            yield from asked(v, (*key, f"{named}={v[named]}" if named else i))
    elif blank is None:
        yield key


def score(report: Report, policy: Policy, asked_keys: Sequence[Key], ex: Exercise,
          student: str | None = None) -> Score:
    """``report`` scored: each asked and answered number its points times its mark's credit;
    a number not asked earns nothing and costs nothing; max_score is what every asked one is
    worth."""
    from rnncalc.check import describe

    wanted = set(asked_keys)
    points = tuple((policy.points_of(i.key) * policy.credit(i.mark), policy.points_of(i.key))
                   if i.key in wanted else (0.0, 0.0) for i in report.items)
    done = {i.key for i in report.items}
    missing = tuple((describe(k, ex)[0], policy.points_of(k)) for k in asked_keys
                    if k not in done)
    return Score(report, student, sum(p for p, _ in points),
                 sum(policy.points_of(k) for k in asked_keys), points, missing, len(asked_keys))


@dataclass(frozen=True)
class ClassSummary:
    """A class at a glance: the spread of scores and, per quantity, how many got it wrong."""

    scores: tuple[float, ...]
    max_score: float
    errors: int
    wrong: tuple[tuple[str, int, int, int], ...] = field(default=())  # name, wrong, carried, blank

    def spread(self) -> dict[str, float]:
        s = self.scores
        if not s:
            return {}
        return {"min": min(s), "median": statistics.median(s), "mean": statistics.fmean(s),
                "max": max(s)}


def summarize(scores: Sequence[Score], errors: int = 0) -> ClassSummary:
    """The class summary of ``scores`` (``errors``: answers files that could not be read)."""
    wrong: Counter[str] = Counter()
    carried: Counter[str] = Counter()
    blank: Counter[str] = Counter()
    order: dict[str, int] = {}
    for s in scores:
        for i in s.report.items:
            order.setdefault(i.name, len(order))
            if i.mark in ("wrong", "carried"):
                (wrong if i.mark == "wrong" else carried)[i.name] += 1
        for name, _ in s.missing:
            blank[name] += 1
    names = sorted(set(wrong) | set(carried), key=lambda n: (-wrong[n] - carried[n], order[n]))
    top = max((s.max_score for s in scores), default=0.0)
    return ClassSummary(tuple(s.score for s in scores), top, errors,
                        tuple((n, wrong[n], carried[n], blank[n]) for n in names))


# ----------------------------------------------------------------------------- a class


@dataclass(frozen=True)
class Failed:
    """An answers file that could not be marked: the one-line error and its exit code."""

    source: str
    error: str
    exit_code: int
    line: int | None = None
    field: str | None = None

    def record(self) -> dict[str, Any]:
        return {"answers": self.source, "error": self.error, "exit_code": self.exit_code,
                "line": self.line, "field": self.field}


@dataclass
class _Variant:
    """One exercise, computed once, and what marking against it needs."""

    ex: Exercise
    policy: Policy
    marker: Any  # rnncalc.check.Marker
    expected: dict[str, Any]
    asked: list[Key]


class Grader:
    """Marks answers files against one exercise config, or against a class of variants: a folder
    that ``rnncalc exercise --students`` wrote (``DIR/ID/exercise.yaml``), each answers file
    marked against the variant of the ``student:`` it names. Each exercise is computed once, when
    a first answers file needs it: a config is checked at once, an answers file read before its
    exercise is computed, so that bad files are refused without torch."""

    def __init__(self, config: str, options: Mapping[str, Any],
                 compute: Any = None) -> None:
        import os

        self.config, self.options = config, dict(options)
        self.compute = compute
        self.folder = config != "-" and os.path.isdir(config)
        self.variants: dict[str, _Variant] = {}
        self.single: _Variant | None = None
        self.built = None if self.folder else self._build(config)

    @property
    def title(self) -> str:
        """The exercise's title (a class of variants: none)."""
        return self.built[0].title if self.built else ""

    def _build(self, config: str) -> tuple[Exercise, Policy]:
        """The config's exercise and marking policy, checked; nothing computed (no torch)."""
        from rnncalc.config import build, folder_of, read_document

        doc = read_document(config)
        ex = build(doc, folder_of(config))
        return ex, Policy.from_document(doc).with_options(**self.options)

    def _load(self, built: tuple[Exercise, Policy]) -> _Variant:
        from rnncalc.answers import blank
        from rnncalc.check import Marker

        ex, policy = built
        trace = self.compute(ex, policy.round) if self.compute else None
        marker = Marker(ex, trace, round_to=policy.round)
        expected = marker.doc
        ask = list(asked(blank(expected)))
        if "grad" in expected:  # an exercise with a loss asks for its gradients too
            from rnncalc import gradanswers

            ask += asked(gradanswers.blank(expected["grad"]))
        return _Variant(ex, policy, marker, expected, ask)

    def _variant(self, source: str, student: str | None) -> _Variant:
        from pathlib import Path

        if self.built is not None:
            if self.single is None:
                self.single = self._load(self.built)
            return self.single
        if student is None:
            raise ConfigError(f"no student: id in this answers file; {self.config} is a class of "
                              "variants, and the id picks the variant", source=source)
        if student not in self.variants:
            path = Path(self.config) / student / "exercise.yaml"
            if not _safe_id(student) or not path.is_file():
                raise ConfigError(f"no variant for student {student!r}: expected {path}",
                                  source=source, path="student")
            self.variants[student] = self._load(self._build(str(path)))
        return self.variants[student]

    def __call__(self, source: str) -> Score | Failed:
        from rnncalc.answers import parse_answers, read_answers

        try:
            parsed = parse_answers(source)  # a bad file is refused before torch is imported
            v = self._variant(source, parsed.student)
            answers = read_answers(parsed, v.expected)
            report = v.marker(answers, v.policy.tolerance)  # never the file's own tolerance
            return score(report, v.policy, v.asked, v.ex, answers.student)
        except RnncalcError as exc:
            line = getattr(exc, "line", None)
            return Failed(source, str(exc), int(exc.exit_code), line,
                          getattr(exc, "path", None) or None)
        except Exception as exc:  # a bug: reported for this file, the others go on
            return Failed(source, f"internal error: {type(exc).__name__}: {exc} (a bug in "
                          "rnncalc: rerun this file alone with --traceback and report it)", 4)


def _safe_id(student: str) -> bool:
    """An id usable as a folder name: letters, digits, ``._@-``, not starting with a dot."""
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,99}", student))
