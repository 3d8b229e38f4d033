"""Fresh exercises: friendly random weights and inputs, checked to give answers worth computing.

>>> spec = Spec(cell="rnn", seed=7)
>>> text = config_text(spec)          # the same text for the same spec, every time
>>> text == config_text(Spec(cell="rnn", seed=7))
True

A candidate is drawn from ``random.Random(seed)``, run, and kept only if it is not degenerate
(:func:`degeneracy`): no activation (any gate, and ``h``) that shows as 0, 1 or -1 at the
precision shown (a saturated gate), no two steps of a direction with the same inputs or the same
``h_t`` at that precision, no head probability that shows as 0 or 1, and for labeling at least two
different labels. Otherwise the next candidate is drawn, so a seed always gives the same exercise.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncalc.cells import CELLS
from rnncalc.errors import RnncalcError
from rnncalc.model import GATES

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["NUMBERS", "TASKS", "Spec", "config_text", "degeneracy", "generate", "write_exercise"]

TASKS = ("hidden", "regression", "classification", "labeling", "bidirectional")

#: How friendly the numbers are: (step, largest weight, largest input), all multiples of step.
NUMBERS: dict[str, tuple[Fraction, Fraction, Fraction]] = {
    "integers": (Fraction(1), Fraction(2), Fraction(2)),
    "halves": (Fraction(1, 2), Fraction(3, 2), Fraction(2)),
    "tenths": (Fraction(1, 10), Fraction(1), Fraction(2)),
}

MAX_TRIES = 5000


@dataclass(frozen=True)
class Spec:
    """What to generate; every field is a CLI option of ``rnncalc exercise``."""

    cell: str = next(iter(CELLS))  # the registry's first
    seed: int = 0
    input_size: int = 3
    hidden_size: int = 2
    steps: int = 3
    layers: int = 1
    bias: bool = True
    task: str = "hidden"
    numbers: str = "halves"
    classes: int = 2
    precision: int = 4

    def __post_init__(self) -> None:
        if self.cell not in GATES:
            raise RnncalcError(f"cell: expected one of {', '.join(GATES)}, got {self.cell!r}")
        if self.task not in TASKS:
            raise RnncalcError(f"task: expected one of {', '.join(TASKS)}, got {self.task!r}")
        if self.numbers not in NUMBERS:
            raise RnncalcError(f"numbers: expected one of {', '.join(NUMBERS)}, "
                               f"got {self.numbers!r}")
        for name in ("input_size", "hidden_size", "steps", "layers"):
            if not 1 <= getattr(self, name) <= 64:
                raise RnncalcError(f"{name}: expected 1 to 64, got {getattr(self, name)}")
        if not 2 <= self.classes <= 16:
            raise RnncalcError(f"classes: expected 2 to 16, got {self.classes}")

    def command(self) -> str:
        """The command line that gives this exercise again."""
        default = Spec(cell=self.cell)
        parts = [f"rnncalc exercise {self.cell} --seed {self.seed}"]
        for name, value in asdict(self).items():
            if name in ("cell", "seed") or value == getattr(default, name):
                continue
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else "--no-" + flag[2:])
            else:
                parts.append(f"{flag} {value}")
        return " ".join(parts)


def _multiples(step: Fraction, largest: Fraction) -> list[float]:
    """The nonzero multiples of ``step`` up to ``largest``: ``[-1.5, -1.0, ..., 1.5]``."""
    k = int(largest / step)
    return [float(step * i) for i in range(-k, k + 1) if i]


class _Draw:
    """Friendly numbers from one seeded generator; about a third of the weights are zero."""

    def __init__(self, spec: Spec, rng: random.Random) -> None:
        self.rng = rng
        step, w_max, x_max = NUMBERS[spec.numbers]
        self.weights = _multiples(step, w_max)
        self.xs = _multiples(step, x_max)

    def _number(self, choices: list[float], zeros: float) -> float:
        return 0.0 if self.rng.random() < zeros else self.rng.choice(choices)

    def weight(self) -> float:
        return self._number(self.weights, 0.3)

    def matrix(self, rows: int, cols: int) -> list[list[float]]:
        return [[self.weight() for _ in range(cols)] for _ in range(rows)]

    def vector(self, size: int) -> list[float]:
        return [self.weight() for _ in range(size)]

    def inputs(self, steps: int, size: int) -> list[list[float]]:
        return [[self._number(self.xs, 0.15) for _ in range(size)] for _ in range(steps)]


def _candidate(spec: Spec, draw: _Draw) -> dict[str, Any]:
    """One exercise config (plain data, per-gate weight names as a sheet writes them)."""
    bidir = spec.task == "bidirectional"
    H, gates = spec.hidden_size, GATES[spec.cell]
    config: dict[str, Any] = {
        "title": f"Exercise {spec.seed}: {CELLS[spec.cell].title}, {spec.task}",
        "cell": spec.cell,
    }
    cell = CELLS[spec.cell]
    if cell.nonlinearity:
        config["nonlinearity"] = cell.nonlinearity[0]
    config["bias"] = spec.bias
    if spec.layers > 1:
        config["num_layers"] = spec.layers
    if bidir:
        config["bidirectional"] = True
        config["share_directions"] = True  # as the seed's exercise: half the weights to read
    config["inputs"] = draw.inputs(spec.steps, spec.input_size)
    groups = {}
    for layer in range(spec.layers):
        in_size = spec.input_size if layer == 0 else (2 if bidir else 1) * H
        group: dict[str, Any] = {}
        for g in gates:
            ih, hh = f"i{g}", f"h{g}"  # rnn's one gate h: W_ih, W_hh
            group[f"W_{ih}"] = draw.matrix(H, in_size)
            group[f"W_{hh}"] = draw.vector(H) if cell.recurrent == "vector" else draw.matrix(H, H)
            if spec.bias:
                group[f"b_{ih}"] = draw.vector(H)
                group[f"b_{hh}"] = draw.vector(H)
        groups[f"l{layer}"] = group
    config["weights"] = groups["l0"] if spec.layers == 1 else groups
    width = (2 if bidir else 1) * H
    if spec.task in ("regression", "bidirectional"):
        config["head"] = {"task": "regression", "W": draw.matrix(1, width), "b": draw.weight()}
    elif spec.task in ("classification", "labeling"):
        config["head"] = {"task": spec.task, "W": draw.matrix(spec.classes, width),
                          "b": draw.vector(spec.classes)}
    return config


def degeneracy(trace: Trace, precision: int) -> str | None:
    """Why the exercise's answers are degenerate at ``precision`` digits, or ``None``."""
    def shown(values: list[float]) -> list[float]:
        return [round(v, precision) + 0.0 for v in values]  # + 0.0: -0.0 is 0.0

    saturated = {0.0, 1.0, -1.0}
    for lt in trace.layers:
        for tr in lt.directions.values():
            where = f"layer {tr.layer} {tr.direction}"
            blocks = {**{g: v.tolist() for g, v in tr.act.items()}, "h_t": tr.h.tolist()}
            for k, t in enumerate(tr.positions):
                for gate, values in blocks.items():
                    if saturated & set(shown(values[k])):
                        return f"{where}: {gate} at step {t} shows {shown(values[k])}"
            for name, block in (("inputs", tr.x), ("h_t", tr.h)):
                rows = [tuple(shown(r)) for r in block.tolist()]
                if len(set(rows)) < len(rows):
                    return f"{where}: two steps with the same {name}"
    head = trace.head
    if head is not None and head.task != "regression":
        probs = head.probs_t if head.task == "labeling" else head.probs
        assert probs is not None
        for row in probs.reshape(-1, probs.shape[-1]).tolist():
            if {0.0, 1.0} & set(shown(row)):
                return f"head: a probability shows as {shown(row)}"
            top = sorted(shown(row))[-2:]
            if len(top) == 2 and top[0] == top[1]:
                return f"head: a tie between two classes, {top}"
        if head.task == "labeling" and head.labels_t and len(head.labels_t) > 1 \
                and len(set(head.labels_t)) == 1:
            return "head: every step gets the same label"
    return None


def generate(spec: Spec) -> dict[str, Any]:
    """The first non-degenerate candidate drawn from ``spec.seed``: a config as plain data."""
    import rnncalc

    step, _, x_max = NUMBERS[spec.numbers]
    distinct = (2 * int(x_max / step) + 1) ** spec.input_size
    if distinct < spec.steps:
        raise RnncalcError(
            f"{spec.steps} steps need {spec.steps} different inputs, but {spec.numbers} of size "
            f"{spec.input_size} give only {distinct}; use a larger --input-size or fewer --steps")
    rng = random.Random(spec.seed)
    draw = _Draw(spec, rng)
    reason = ""
    for _ in range(MAX_TRIES):
        config = _candidate(spec, draw)
        # a copy: the schema check fills defaults into the dict it is given
        trace = rnncalc.run(rnncalc.load(json.loads(json.dumps(config))))
        why = degeneracy(trace, spec.precision)
        if why is None:
            return config
        reason = why
    raise RnncalcError(
        f"no exercise without saturated gates or repeated steps in {MAX_TRIES} tries (last: "
        f"{reason}); try smaller sizes, fewer steps, --numbers tenths or a higher --precision"
    )


def _yaml_value(value: Any) -> str:
    import yaml

    from rnncalc.render.report import exact

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, float | int):
        return exact(value)
    if str(value).isidentifier() and yaml.safe_load(str(value)) == value:  # not yes, null, ...
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml(data: dict[str, Any], indent: int = 0) -> list[str]:
    """Block mappings with flow lists, one matrix per line, as configs/ is written."""
    lines = []
    for key, value in data.items():
        pad = " " * indent
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines += _yaml(value, indent + 2)
        elif key == "inputs":
            lines.append(f"{pad}{key}:")
            lines += [f"{pad}  - {_yaml_value(x)}   # x_{t}" for t, x in enumerate(value)]
        else:
            lines.append(f"{pad}{key}: {_yaml_value(value)}")
    return lines


def config_text(spec: Spec, student: str | None = None) -> str:
    """The exercise config as YAML, headed by the command that gives it again (``student``:
    the variant of that student, named in the title)."""
    config = generate(spec)
    head = [f"# Generated by: {spec.command()}",
            "# Rows of every matrix are hidden units; see README, \"Config format\"."]
    if student is not None:
        config["title"] += f" (student {student})"
    return "\n".join(head + _yaml(config)) + "\n"


#: The files ``write_exercise`` writes, by format: (config, student sheet, answer key, the blank
#: answers file ``rnncalc check`` marks).
FILES = {"markdown": ("exercise.yaml", "sheet.md", "key.md", "answers.yaml"),
         "latex": ("exercise.yaml", "sheet.tex", "key.tex", "answers.yaml")}


def write_exercise(spec: Spec, out_dir: Path, fmt: str = "markdown", *,
                   explain: bool = False, student: str | None = None) -> list[Path]:
    """Write the config, the student sheet, the answer key and a blank answers file (naming
    ``student``) into ``out_dir``; return the paths.

    Sheet and key are rendered from the written config read back, so the key is exactly what
    ``rnncalc CELL --config exercise.yaml`` computes; ``explain`` adds every sum, written out.
    """
    import rnncalc
    from rnncalc.output import write_result
    from rnncalc.render import latex, markdown, report

    if out_dir.exists() and not out_dir.is_dir():
        raise RnncalcError(f"{out_dir}: not a directory; --out-dir needs a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnncalcError(f"{out_dir}: cannot create: {exc.strerror}") from None
    paths = [out_dir / name for name in FILES[fmt]]
    write_result(config_text(spec, student), paths[0], follow_links=False)
    trace = rnncalc.run(rnncalc.load(str(paths[0])))
    renderer = markdown if fmt == "markdown" else latex
    title = report.title_of(trace.exercise)
    sheet = [*report.exercise_section(trace), _questions(trace, spec.precision)]
    for fn in report.SECTIONS[1:]:
        sheet += fn(trace, True)
    write_result(renderer.render_sections(sheet, spec.precision, title=title), paths[1],
                 follow_links=False)
    lines = None
    if explain:
        from rnncalc.explain import explain as arithmetic

        lines = arithmetic(trace)
    if fmt == "latex":  # the key carries the unrolled net and the cell at the last step
        from rnncalc.pictures.figures import pictures_section

        key = report.build(trace, explain=lines, extra=(pictures_section,))
    else:
        key = report.build(trace, explain=lines)
    write_result(renderer.render_sections(key, spec.precision, title=f"{title}: answer key"),
                 paths[2], follow_links=False)
    from rnncalc.answers import template

    write_result(template(trace.to_dict(), trace.exercise.title, student=student), paths[3],
                 follow_links=False)
    return paths


def _questions(trace: Trace, precision: int) -> Any:
    from rnncalc.render.report import Section, Text

    ex = trace.exercise
    last = ex.steps - 1
    if ex.gates == ("h",):
        what = "the pre-activation and h_t"
    else:
        names = ", ".join(f"{g}_t" for g in ex.gates)
        what = f"every gate ({names}) before and after its activation, " + (
            "c_t and h_t" if CELLS[ex.cell].cell_state else "and h_t")
    asks = [f"Compute {what} at every step t = 0 to {last}"
            + (", in both directions (the backward direction runs from t = "
               f"{last} down to 0)" if ex.bidirectional else "")
            + (", layer by layer" if ex.num_layers > 1 else "") + "."]
    if ex.head is not None:
        what = {"regression": "the head's output y at every position and on the final state",
                "classification": "the class probabilities and the label on the final state",
                "labeling": "the probabilities and the label at every step"}[ex.head.task]
        asks.append(f"Compute {what}.")
    asks.append(f"Give every answer to {precision} decimal places; fill in the tables below.")
    return Section("Questions", tuple(Text(f"{i}. {a}") for i, a in enumerate(asks, 1)))
