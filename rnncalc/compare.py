"""Which convention changes my answer? One exercise run under each distinct formulation.

Each convention's preset is applied to the exercise's weights (held in one canonical layout, so
the numbers are the same in every run); options the config set away from its own convention's
defaults (a clip, an activation, peepholes, ...) are kept in every run. Conventions that give
the same formulation are run once and listed together. For a GRU the update direction of course
sheets (``h = z*n + (1-z)*h_prev``) is run too, since no preset uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from rnncalc.cells import CELLS
from rnncalc.formulation import CONVENTIONS, Formulation, preset
from rnncalc.model import Exercise
from rnncalc.trace import Trace

__all__ = ["Comparison", "Variant", "compare"]


@dataclass(frozen=True)
class Variant:
    """One formulation, the conventions that use it, its run, and whether its answer differs."""

    label: str
    conventions: tuple[str, ...]
    trace: Trace
    differs: dict[str, bool]  # quantity -> differs from the config's own run

    @property
    def formulation(self) -> Formulation:
        return self.trace.exercise.formulation

    def to_dict(self) -> dict[str, Any]:
        tr = self.trace
        out: dict[str, Any] = {
            "label": self.label, "conventions": list(self.conventions),
            "formulation": self.formulation.to_dict(), "h_n": tr.h_n.tolist(),
        }
        if tr.c_n is not None:
            out["c_n"] = tr.c_n.tolist()
        if tr.head is not None:
            out["head"] = _head_output(tr).tolist()
        out["differs"] = self.differs
        return out


@dataclass(frozen=True)
class Comparison:
    """The config's own run first, then every other formulation."""

    variants: tuple[Variant, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"compare": [v.to_dict() for v in self.variants]}


def _head_output(tr: Trace) -> torch.Tensor:
    """What the head gives: regression y, classification probabilities, labeling per position."""
    head = tr.head
    assert head is not None
    if head.task == "regression":
        return head.logits
    if head.task == "classification":
        assert head.probs is not None
        return head.probs
    assert head.probs_t is not None
    return head.probs_t


def _quantities(tr: Trace) -> dict[str, torch.Tensor]:
    out = {"h_n": tr.h_n}
    if tr.c_n is not None:
        out["c_n"] = tr.c_n
    if tr.head is not None:
        out["head"] = _head_output(tr)
    return out


def _overrides(form: Formulation) -> dict[str, Any]:
    """The options a config set away from its convention's defaults."""
    base = preset(form.cell, form.convention)
    names = [f.name for f in fields(form) if f.name not in ("cell", "convention")]
    return {n: getattr(form, n) for n in names if getattr(form, n) != getattr(base, n)}


def _key(form: Formulation) -> Formulation:
    """A formulation regardless of the convention's name: equal keys give equal numbers."""
    return replace(form, convention="")


def compare(exercise: Exercise) -> Comparison:
    """Run ``exercise`` under each distinct formulation; the first variant is its own."""
    from rnncalc.engine import run

    own = exercise.formulation
    kept = _overrides(own)
    groups: dict[Formulation, tuple[Formulation, list[str]]] = {_key(own): (own, [])}
    for convention in CONVENTIONS:
        form = preset(own.cell, convention).with_options(**kept)
        groups.setdefault(_key(form), (form, []))[1].append(convention)
    candidates = [(form, convs) for form, convs in groups.values()]
    if "z_weights" in CELLS[own.cell].options:
        flipped = replace(own, z_weights="candidate" if own.z_weights == "previous" else "previous")
        if _key(flipped) not in groups:
            candidates.append((flipped, []))
    own_trace = run(exercise)
    reference = _quantities(own_trace)
    tol = 1e-12 if exercise.dtype == "float64" else 1e-6
    variants = []
    for k, (form, convs) in enumerate(candidates):
        trace = own_trace if k == 0 else run(replace(exercise, formulation=form))
        got = _quantities(trace)
        differs = {q: not torch.allclose(got[q], ref, rtol=0,
                                         atol=tol * (1 + float(ref.abs().max())))
                   for q, ref in reference.items()}
        label = " = ".join(convs) if convs else f"this config, z weighting the {form.z_weights}"
        if k == 0:
            label = "this config" + (f" ({label})" if convs else "")
        variants.append(Variant(label, tuple(convs), trace, differs))
    return Comparison(tuple(variants))
