"""A batch in one config: ``batch:``, one entry per sequence, the same weights for all.

Each entry is a sequence's own ``inputs`` (a bare list of vectors, or a mapping with ``inputs``
and any of ``initial``, ``target``, ``targets``, ``upstream``); every other key (weights, head,
loss type and reduction, formulation, initial states shared by all) is the config's. Each
sequence is built as the config would be with the entry's keys in place of its own, so every
check and message is the ordinary one, with the entry's path (``batch[1].inputs[0]``).

``sequence_lens`` (ONNX's input): the length of each sequence, when the entries are written
padded to one length; the padding is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rnncalc.config.yamlsafe import Located, Path, format_path
from rnncalc.errors import ConfigError, ConfigProblems
from rnncalc.model import Exercise

__all__ = ["ENTRY_KEYS", "Batch", "read_batch"]

#: What an entry may give for its own sequence.
ENTRY_KEYS = ("inputs", "initial", "target", "targets", "upstream", "upstream_c")


@dataclass(frozen=True)
class Batch:
    """The sequences of a batch, each a whole exercise with the same weights."""

    exercises: tuple[Exercise, ...]

    @property
    def first(self) -> Exercise:
        return self.exercises[0]

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(ex.steps for ex in self.exercises)

    @property
    def title(self) -> str:
        return self.first.title

    @property
    def source(self) -> str:
        return self.first.source


def read_batch(doc: Located, build: Callable[..., Exercise], **options: Any
               ) -> tuple[Exercise, ...]:
    """One exercise per entry of ``doc``'s ``batch``, built by ``build(sub_doc, **options)``.

    With a loss whose reduction is ``mean``, each sequence's loss divides by the whole batch's
    number of terms (``Loss.denominator``), as ``torch.nn`` losses do over a batch: the
    sequences' losses and gradients then add up to the batch's.
    """
    data: dict[str, Any] = doc.data
    entries = data["batch"]
    if "inputs" in data:
        raise doc.error(("inputs",), "give inputs (one sequence) or batch (one entry per "
                        "sequence), not both")
    lens = data.get("sequence_lens")
    if lens is not None and len(lens) != len(entries):
        raise doc.error(("sequence_lens",), f"expected {len(entries)} lengths (one per entry of "
                        f"batch), got {len(lens)}")
    shared = {k: v for k, v in data.items() if k not in ("batch", "sequence_lens")}
    exercises: list[Exercise] = []
    problems: list[ConfigError] = []  # every entry's, one line each (a shared one said once)
    first: tuple[int, int] | None = None  # the first good entry, and its input size
    for b, entry in enumerate(entries):
        try:
            ex = _sequence(doc, shared, b, entry, first, build, options)
        except ConfigError as exc:
            problems.append(exc)
            if first is None and all(p.path.startswith("batch[")
                                     for p in ConfigProblems([exc]).problems):
                first = _width(b, entry)  # its own problem: the weights fit its width
            continue
        first = first or (b, ex.input_size)
        exercises.append(ex)
    if problems:
        raise ConfigProblems(problems)
    return _shared_denominator(tuple(exercises))


def _sequence(doc: Located, shared: dict[str, Any], b: int, entry: Any,
              size: tuple[int, int] | None, build: Callable[..., Exercise],
              options: dict[str, Any]) -> Exercise:
    """The exercise of entry ``b`` of the batch: the config's ``shared`` keys with the entry's
    own; ``size``: an earlier entry's index and input size, which this one's must equal."""
    data: dict[str, Any] = doc.data
    lens = data.get("sequence_lens")
    at: Path = ("batch", b)
    if isinstance(entry, list):
        entry, at = {"inputs": entry}, (*at, "inputs")
        lines = {("inputs", *p[2:]): n for p, n in doc.lines.items() if p[:2] == ("batch", b)}
    else:
        for key in entry:
            if key not in ENTRY_KEYS:
                raise doc.error((*at, key), f"unknown key {key!r} in a batch entry; expected "
                                f"{', '.join(ENTRY_KEYS)} (the rest is shared by the batch)")
        if "inputs" not in entry:
            raise doc.error(at, "missing required key 'inputs' (this sequence's x_0, x_1, "
                            "...)")
        lines = {p[2:]: n for p, n in doc.lines.items() if p[:2] == at and len(p) > 2}
    sub = {**shared, **{k: v for k, v in entry.items() if k not in ("target", "targets")}}
    if "target" in entry or "targets" in entry:
        if "loss" not in data:
            raise doc.error((*at, next(k for k in entry if k.startswith("target"))),
                            "a target needs the config's loss: {type, reduction}")
        loss = {k: v for k, v in data["loss"].items() if k not in ("target", "targets")}
        sub["loss"] = {**loss, **{k: v for k, v in entry.items() if k.startswith("target")}}
        lines.update({("loss", *p[1:]): n for p, n in list(lines.items())
                      if p[:1] in (("target",), ("targets",))})
    if lens is not None:
        sub = _cut(doc, sub, b, lens[b], at)
    width = _width(b, sub)
    if size and width and width[1] != size[1]:
        where = (*at[:2], 0) if at[-1] == "inputs" else (*at, "inputs", 0)
        raise doc.error(where, f"expected vectors of {size[1]} numbers, as batch[{size[0]}]'s "
                        f"(the same weights read every sequence), got {width[1]}")
    kept = {p: n for p, n in doc.lines.items() if p and p[0] not in ("batch", "inputs")}
    try:
        return build(Located(sub, {**kept, **lines}, doc.source), **options)
    except ConfigError as exc:
        raise ConfigProblems([_in_entry(p, at, entry, bare=at[-1] == "inputs")
                              for p in ConfigProblems([exc]).problems]) from None


def _width(b: int, entry: Any) -> tuple[int, int] | None:
    """Entry ``b``'s index and the width of its first input vector, as written (if a list)."""
    inputs = entry.get("inputs") if isinstance(entry, dict) else entry
    row = inputs[0] if isinstance(inputs, list) and inputs else None
    return (b, len(row)) if isinstance(row, list) else None


def _cut(doc: Located, sub: dict[str, Any], b: int, n: int, at: Path) -> dict[str, Any]:
    """The entry's sequence cut to its length ``n`` (ONNX ``sequence_lens``)."""
    inputs = sub["inputs"]
    if not isinstance(inputs, list) or len(inputs) < n:
        got = len(inputs) if isinstance(inputs, list) else repr(inputs)
        where = format_path(at if at[-1] == "inputs" else (*at, "inputs"))
        raise doc.error(("sequence_lens", b), f"sequence {b} has length {n}, but its inputs "
                        f"({where}) have {got} steps")
    out = {**sub, "inputs": inputs[:n]}
    for key in ("upstream", "upstream_c"):
        if isinstance(sub.get(key), list) and len(sub[key]) > n:
            out[key] = sub[key][:n]
    loss = sub.get("loss")
    if isinstance(loss, dict) and isinstance(loss.get("targets"), list):
        out["loss"] = {**loss, "targets": loss["targets"][:n]}
    return out


def _in_entry(exc: ConfigError, at: Path, entry: dict[str, Any], bare: bool) -> ConfigError:
    """An error about an entry's own key, named by its path in the batch: ``batch[1].inputs[0]``
    (``batch[1][0]`` for an entry written as a bare list of vectors)."""
    head = exc.path.split(".")[0].split("[")[0]
    own = head in entry or (exc.path.startswith(("loss.target", "loss.targets"))
                            and any(k.startswith("target") for k in entry))
    if not own:
        return exc
    base = format_path(at[:2])
    path = exc.path.removeprefix("loss.") if exc.path.startswith("loss.target") else exc.path
    path = base + path.removeprefix("inputs") if bare else f"{base}.{path}"
    return ConfigError(exc.message, source=exc.source, line=exc.line, path=path)


def _shared_denominator(exercises: tuple[Exercise, ...]) -> tuple[Exercise, ...]:
    losses = [ex.loss for ex in exercises]
    if any(loss is None or loss.type == "upstream" or loss.reduction != "mean"
           for loss in losses):
        return exercises
    total = sum(_terms(ex) for ex in exercises)
    return tuple(replace(ex, loss=replace(loss, denominator=total))
                 for ex, loss in zip(exercises, losses, strict=True) if loss is not None)


def _terms(ex: Exercise) -> int:
    """What ``reduction: mean`` divides ``ex``'s loss by: positions for cross_entropy, elements
    (positions x outputs) for mse and bce (:mod:`rnncalc.loss`)."""
    assert ex.loss is not None and ex.head is not None
    rows = len(ex.loss.targets) if ex.loss.targets is not None else 1
    return rows if ex.loss.type == "cross_entropy" else rows * len(ex.head.W)
