"""Build a checked :class:`~rnncalc.model.Exercise` from a located YAML document.

Every check names the field path and the line, and says what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

from rnncalc.aliases import concat_aliases, per_gate_aliases
from rnncalc.cells import CELLS
from rnncalc.config.layout_keys import uses_layout
from rnncalc.config.names import read_d2l
from rnncalc.config.options import read_backward, read_direction, read_formulation
from rnncalc.config.schema import structure_problems
from rnncalc.config.shapes import normalize
from rnncalc.config.suggest import did_you_mean
from rnncalc.config.yamlsafe import Located, Path, format_path, shape_of
from rnncalc.errors import ConfigError, ConfigProblems
from rnncalc.limits import check_run
from rnncalc.model import GATES, Exercise, Head, LayerWeights, Matrix, Vector, param_name

__all__ = ["build_exercise"]

_T = TypeVar("_T")
_GROUP = re.compile(r"^l(\d+)(_reverse)?$")
_STATE_DICT = re.compile(r"^(weight|bias)_")
_NUMBERS = (int, float)
_INPUTS = "inputs (one vector per time step)"
_LOSS_KEYS = ("loss", "upstream", "upstream_c")


def build_exercise(
    doc: Located,
    *,
    cell: str | None = None,
    task: str | None = None,
    bidirectional: bool | None = None,
    dtype: str | None = None,
    convention: str | None = None,
) -> Exercise:
    """Check ``doc`` and build the exercise; the keyword arguments override the config's values.

    ``cell`` is the command's cell (a config's own ``cell`` must agree with it); ``task`` replaces
    the head's task (``"hidden"`` drops the head); ``bidirectional=True`` on a one-direction config
    runs the backward direction with the forward weights, as the seed's exercise does.

    Every problem found is raised at once (:class:`ConfigProblems`): those of the structure, and
    of the shapes as far as the structure lets them be checked (a value with a problem is left
    out of what is checked after it, so that no problem is reported twice).
    """
    written = _written(doc.data, cell)  # the layout the weights are written in, for grad's names
    shaped: list[ConfigError] = []  # a flat array's problems, zeros of its shape in its place
    doc = read_d2l(normalize(doc, shaped), cell)  # shapes and names as sources write them
    if uses_layout(doc.data):  # layout: onnx, keras, ... -> PyTorch's names
        from rnncalc.config.layouts import to_canonical  # 750 lines, for such configs only

        try:
            doc = to_canonical(doc, cell)
        except ConfigError as exc:
            known = [*shaped, exc]
            raise ConfigProblems([*known, *_inputs_problems(doc, known)]) from None
    problems, checked = structure_problems(doc)
    problems = shaped + problems
    if checked is None:
        raise ConfigProblems([*problems, *_inputs_problems(doc, problems)])
    try:
        exercise = _build(checked, problems, written, cell=cell, task=task,
                          bidirectional=bidirectional, dtype=dtype, convention=convention)
    except ConfigError as exc:
        problems.append(exc)
    if problems:
        raise ConfigProblems(problems) from None
    return exercise


def _build(doc: Located, problems: list[ConfigError], written: Any, *, cell: str | None,
           task: str | None, bidirectional: bool | None, dtype: str | None,
           convention: str | None) -> Exercise:
    """The exercise of a structurally sound ``doc``; the problems that leave the rest checkable
    are added to ``problems``, the first that does not is raised."""
    data: dict[str, Any] = doc.data
    own_cell = data.get("cell")
    if cell and own_cell and own_cell != cell:
        raise doc.error(
            ("cell",), f"this config is for {own_cell!r}, not {cell!r}: run it with "
            f"`rnncalc {own_cell}` or `rnncalc run`"
        )
    cell = cell or own_cell
    if cell is None:
        raise doc.error(("cell",), f"missing key 'cell' ({', '.join(CELLS)}); a cell command "
                        "may omit it")
    if "weights_prefix" in data:  # read with the file (config/__init__.py), which drops it
        raise doc.error(("weights_prefix",), "weights_prefix names a module of a weights file "
                        "(weights_file or --weights); this config gives its weights itself")
    hr = (data.get("weights") or {}).get("weight_hr_l0")
    if "projection" in CELLS[cell].options and "proj_size" not in data and isinstance(hr, list) \
            and hr:
        data = {**data, "proj_size": len(hr)}  # torch.nn.LSTM(proj_size=P): W_hr is [P, H]
        doc = Located(data, doc.lines, doc.source)
    if "inputs" not in data:  # the schema lets a batch go without (config/batch.py)
        raise doc.error(("inputs",), "missing required key 'inputs' (or 'batch' or "
                        "'inputs_file')")
    dtype = dtype or data.get("dtype", "float64")
    reader = _Reader(doc, dtype, problems)
    try:
        inputs = reader.matrix(("inputs",), data["inputs"], _INPUTS)
    except ConfigError as exc:
        problems.append(exc)
        inputs = _zero_inputs(data["inputs"])
    notes: list[str] = []
    form = _formulation(doc, cell, convention, problems)
    bidir, reverse = read_direction(doc, None)
    share = data.get("share_directions", False)
    if bidirectional is not None and bidirectional != bidir:
        bidir, reverse = bidirectional, reverse and not bidirectional
        if bidir and not _has_reverse(data["weights"]):
            share = True
            notes.append("--bidirectional: the backward direction uses the forward weights")
    num_layers = data.get("num_layers", 1)
    dirs = ("forward", "backward") if bidir else ("forward",)
    _check_size(doc, cell, inputs, num_layers, len(dirs), data.get("hidden_size", 1),  # up front
                hidden_known="hidden_size" in data)
    weights = _Weights(reader, cell, data, len(inputs[0]), num_layers, dirs, share)
    layers, hidden, bias = weights.build()
    _check_size(doc, cell, inputs, num_layers, len(dirs), hidden)
    if any(w.peephole is not None for row in layers for w in row):
        form = form.with_options(peepholes=True)
        layers = tuple(tuple(w if w.peephole else replace(w, peephole=((0.0,) * hidden,) * 3)
                             for w in row) for row in layers)
    if bidir and share:
        notes.append("both directions use the same weights (share_directions)")
    backward = read_backward(doc, cell, form)
    if backward is not None and not bidir:
        raise doc.error(("backward_activations",), "backward_activations are the backward "
                        "direction's; this net has one direction")
    states = num_layers * len(dirs)
    h0 = reader.soft(((0.0,) * weights.state,) * states, reader.states, "h", data, states,
                     weights.state)
    has_c = CELLS[cell].cell_state
    c0 = reader.soft(((0.0,) * hidden,) * states, reader.states, "c", data, states,
                     hidden) if has_c else None
    if not has_c and "c" in data.get("initial", {}):
        problems.append(doc.error(("initial", "c"), f"only an lstm has a cell state c; this "
                                  f"exercise's cell is {cell}"))
    before = len(problems)
    head = reader.soft(None, reader.head, data.get("head"), weights.out_width, task)
    # a --task override changes the head the loss was written for: the forward commands skip it;
    # a head with a problem is no head to check the loss against
    c_width = len(dirs) * hidden if CELLS[cell].cell_state else None
    loss = None
    if not task and len(problems) == before and not data.keys().isdisjoint(_LOSS_KEYS):
        from rnncalc.config.loss import read_loss  # for the configs that have one

        loss = reader.soft(None, read_loss, doc, head, len(inputs), weights.out_width, c_width)
    return Exercise(
        cell=cell, inputs=inputs, hidden_size=hidden, num_layers=num_layers, bidirectional=bidir,
        weights=layers, h0=h0, c0=c0, bias=bias,
        nonlinearity=form.activations[0].name if CELLS[cell].nonlinearity else "tanh",
        head=head, loss=loss, dtype=dtype,
        title=data.get("title", ""),
        source=doc.source, notes=tuple(notes), formulation=form, reverse=reverse,
        merge_mode=data.get("merge_mode", "concat"), proj_size=data.get("proj_size", 0),
        written=written, backward_formulation=backward,
    )


#: Keys only the formulation reads: one with a problem is taken out, and the rest read again.
_FORMULATION_ONLY = ("activations", "nonlinearity", "reset_after", "z_weights", "input_forget",
                     "forget_bias")


def _formulation(doc: Located, cell: str, convention: str | None,
                 problems: list[ConfigError]) -> Any:
    """The config's formulation; a problem in a key only it reads (an unknown activation, an
    option of another cell) noted and that key taken out, so the weights are still checked."""
    data = doc.data
    while True:
        try:
            return read_formulation(Located(data, doc.lines, doc.source), cell, convention)
        except ConfigError as exc:
            key = re.split(r"[.\[]", exc.path)[0]
            if key not in _FORMULATION_ONLY or key not in data:
                raise
            problems.append(exc)
            data = {k: v for k, v in data.items() if k != key}


def _inputs_problems(doc: Located, known: list[ConfigError]) -> list[ConfigError]:
    """The inputs' own problem (ragged rows, a number that is not one) when the rest of ``doc``
    cannot be built (its weights missing or unreadable): the inputs need nothing else to be
    checked. None when ``known`` already has one of theirs."""
    data = doc.data
    flat = ConfigProblems(known).problems if known else []
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list) or any(
            p.path == "inputs" or p.path.startswith(("inputs[", "inputs.")) for p in flat):
        return []
    reader = _Reader(doc, "float32" if data.get("dtype") == "float32" else "float64")
    try:
        reader.matrix(("inputs",), data["inputs"], _INPUTS)
    except ConfigError as exc:
        return [exc]
    return []


def _written(data: Any, cell: str | None
             ) -> tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """``(layout, orientation, concat order, aliases used)`` of the config's weights as the user
    wrote them: ``layout`` is ``per-gate`` for per-gate names without a ``layout`` key (``d2l``
    for d2l's); an alias used (``W_c`` for ``W_g``) is a pair ``(ours, theirs)``."""
    if not isinstance(data, dict):
        return ("pytorch", "rows", (), ())
    layout = data.get("layout", "pytorch")
    weights = data.get("weights")
    keys = [str(k) for k in weights] + [str(k) for v in weights.values()
                                        if isinstance(v, dict) for k in v] \
        if isinstance(weights, dict) else []
    if layout == "pytorch" and keys and not any(_STATE_DICT.match(k) for k in keys):
        layout = "d2l" if any(k.startswith("W_x") for k in keys) else "per-gate"
    own = str(data.get("cell") or cell)
    aliases = concat_aliases(own) if layout == "concat" else per_gate_aliases(own)
    used = tuple((ours, theirs) for theirs, ours in aliases.items() if theirs in keys)
    order = data.get("concat")
    return (str(layout), str(data.get("orientation", "rows")),
            tuple(order) if isinstance(order, list) else (), used)


def _check_size(doc: Located, cell: str, inputs: Matrix, layers: int, dirs: int,
                hidden: int, hidden_known: bool = True) -> None:
    """Refuse a run that would record more numbers than ``RNNCALC_MAX_VALUES`` (limits.py)."""
    over = check_run(steps=len(inputs), layers=layers, directions=dirs, gates=len(GATES[cell]),
                     hidden=hidden, input_size=len(inputs[0]), hidden_known=hidden_known)
    if over:
        raise doc.error((over[0],), over[1])


def _has_reverse(weights: dict[str, Any]) -> bool:
    return any(str(k).endswith("_reverse") for k in weights)


class _Reader:
    """Turns YAML values into checked numbers, vectors and matrices, with located errors;
    in float32, numbers beyond its range (1e39) are refused where they are written."""

    def __init__(self, doc: Located, dtype: str = "float64",
                 problems: list[ConfigError] | None = None) -> None:
        self.doc, self.float32 = doc, dtype == "float32"
        self.problems = [] if problems is None else problems

    def error(self, path: Path, message: str) -> ConfigError:
        return self.doc.error(path, message)

    def soft(self, stand_in: _T, read: Callable[..., _T], *args: Any) -> _T:
        """``read(*args)``; or, when it finds a problem, the problem noted and ``stand_in`` (a
        value of the shape expected) read in its place, so that what comes after is still
        checked, and against the shapes the config meant."""
        try:
            return read(*args)
        except ConfigError as exc:
            self.problems.append(exc)
            return stand_in

    def number(self, path: Path, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, _NUMBERS):
            raise self.error(path, f"expected a number, got {_show(value)}")
        if not math.isfinite(value):
            raise self.error(path, f"expected a finite number, got {_show(value)}")
        return float(value)

    def vector(self, path: Path, value: Any, what: str = "a vector") -> Vector:
        if _is_number(value):  # one unit
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(path, f"expected {what} (a non-empty list of numbers), "
                             f"got {_show(value)}")
        if all(type(v) is float or type(v) is int for v in value):  # the usual: no bool, no Huge
            floats = tuple(map(float, value))
            if math.isfinite(sum(floats)):  # the sum of floats is finite only if each is
                return self.fits(path, floats)
        return self.fits(path, tuple(self.number((*path, i), v) for i, v in enumerate(value)))

    def fits(self, path: Path, values: Vector, alone: bool = False) -> Vector:
        """``values``, refused if one becomes inf in float32 (one check for the whole vector);
        ``alone``: one number written on its own, named without an index."""
        if not self.float32:
            return values
        import numpy as np

        with np.errstate(over="ignore"):
            over = np.isinf(np.asarray(values, dtype=np.float32))
        if over.any():
            i = int(over.argmax())
            raise self.error(path if alone else (*path, i), f"{values[i]:g} is beyond "
                             "float32's range (numbers up to about 3.4e38); use smaller numbers "
                             "or --dtype float64")
        return values

    def matrix(self, path: Path, value: Any, what: str = "a matrix") -> Matrix:
        if _is_number(value):  # one unit, one input
            value = [[value]]
        if not (isinstance(value, list) and value and all(isinstance(r, list) for r in value)):
            if isinstance(value, list) and len(value) > 1 and all(map(_is_number, value)):
                raise self.error(path, f"expected {what}: a list of rows of numbers, got a flat "
                                 f"list of {len(value)} numbers; write its rows, or give it with "
                                 "its shape as {shape: [rows, cols], values: [...]} (row-major)")
            raise self.error(path, f"expected {what}: a list of rows of numbers, "
                             f"got {_show(value)}")
        rows = tuple(self.vector((*path, i), row) for i, row in enumerate(value))
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise self.error(
                    (*path, i), f"row {i} has {len(row)} numbers but row 0 has {len(rows[0])} "
                    "(every row of a matrix must have the same length)"
                )
        return rows

    def shaped_matrix(self, path: Path, value: Any, rows: int, cols: int, meaning: str) -> Matrix:
        matrix = self.matrix(path, value)
        if (len(matrix), len(matrix[0])) != (rows, cols):
            raise self.error(
                path, f"expected shape [{rows}, {cols}] ({meaning}), got {shape_of(value)}"
            )
        return matrix

    def shaped_vector(self, path: Path, value: Any, size: int, meaning: str) -> Vector:
        vector = self.vector(path, value, f"a vector of {size} numbers ({meaning})")
        if len(vector) != size:
            raise self.error(path, f"expected {size} numbers ({meaning}), got {len(vector)}")
        return vector

    def bias(self, path: Path, value: Any, size: int, meaning: str) -> Vector:
        """A vector of ``size``; one number (or a one-element list) applies to every unit."""
        if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], list):
            value = value[0]
        if not isinstance(value, list):
            return self.fits(path, (self.number(path, value),), alone=True) * size
        vector = self.vector(path, value)
        if isinstance(value[0], list) or len(vector) != size:
            raise self.error(
                path, f"expected {size} numbers ({meaning}) or one number for every unit, "
                f"got shape {shape_of(value)}"
            )
        return vector

    def states(self, key: str, data: dict[str, Any], count: int, hidden: int) -> Matrix:
        path = ("initial", key)
        value = data.get("initial", {}).get(key)
        if value is None:
            return ((0.0,) * hidden,) * count
        if _is_number(value):  # one unit
            value = [value]
        if count == 1 and len(value) == hidden and all(_is_column(v) for v in value):
            value = [v[0] for v in value]  # a column vector (n, 1)
        elif count > 1 and all(isinstance(s, list) and s and all(_is_column(v) for v in s)
                               for s in value) and hidden > 1:
            value = [[v[0] for v in s] for s in value]  # one column vector per state
        if not isinstance(value[0], list):
            if count != 1:
                raise self.error(
                    path, f"one vector given, but this net has {count} initial states (one per "
                    "layer and direction); give a list of them in PyTorch's h_0 order"
                )
            value = [value]
        if len(value) != count:
            raise self.error(
                path, f"expected {count} vectors (one per layer and direction), got {len(value)}"
            )
        states = self.matrix(path, value)
        if len(states[0]) != hidden:
            raise self.error(path, f"expected vectors of {hidden} numbers (hidden size), "
                             f"got {len(states[0])}")
        return states

    def head(self, value: dict[str, Any] | None, width: int, task: str | None) -> Head | None:
        if task == "hidden":
            return None
        if value is None:
            if task:
                raise self.error((), f"--task {task} needs a head: add head: {{task, W, b}}")
            return None
        for key in ("kernel", "bias"):
            if key in value:
                raise self.error(("head", key), f"head.{key} is a Keras Dense layer's: it needs "
                                 "layout: keras (or give W [outputs, width] and b)")
        if "W" not in value:
            raise self.error(("head",), "missing required key 'W'")
        W = self.matrix(("head", "W"), value["W"])
        if len(W[0]) != width:
            raise self.error(
                ("head", "W"), f"expected {width} columns (the top layer's output width), "
                f"got shape {shape_of(value['W'])}"
            )
        b = self.bias(("head", "b"), value.get("b", 0.0), len(W), "one per output")
        task = task or value["task"]
        labels = value.get("labels")
        if labels is not None:
            want = 2 if (task == "classification" and len(W) == 1) else len(W)
            if task == "regression" or len(labels) != want:
                what = "a regression head has no labels" if task == "regression" else (
                    f"expected {want} labels (one per class), got {len(labels)}")
                raise self.error(("head", "labels"), what)
            labels = tuple(str(x) for x in labels)
            twice = next((x for k, x in enumerate(labels) if x in labels[:k]), None)
            if twice is not None:
                raise self.error(("head", "labels"), f"label {twice!r} is given twice; each "
                                 "class needs its own name")
        return Head(task=task, W=W, b=b, labels=labels)


class _Weights:
    """Reads ``weights`` in any of its forms into PyTorch's layout, layer by layer."""

    def __init__(self, reader: _Reader, cell: str, data: dict[str, Any], input_size: int,
                 num_layers: int, dirs: tuple[str, ...], share: bool) -> None:
        self.r, self.cell, self.data = reader, cell, data
        self.gates = GATES[cell]
        self.input_size, self.num_layers = input_size, num_layers
        self.dirs, self.share = dirs, share
        self.raw: dict[str, Any] = data["weights"]
        self.proj: int = data.get("proj_size", 0)
        self.concat = data.get("merge_mode", "concat") == "concat"
        self.suffix = ""  # of the state_dict names of the layer being read
        self.vector = CELLS[cell].recurrent == "vector"  # weight_hh [G*H], read element-wise
        self.unsure: set[Path] = set()  # groups with an unknown name: what is missing may be it

    def _unknown(self, path: Path, key: Any, known: list[str], form: str) -> None:
        """Note an unknown weight name: in its group (``path[:-1]``), a name missing may be it,
        misspelt, and is not reported as missing."""
        self.unsure.add(path[:-1])
        near = did_you_mean(key, known)
        hint = f"did you mean {near!r}? " if near else ""
        self.r.problems.append(self.r.error(
            path, f"unknown {form} weight name {key!r}; {hint}expected one of {', '.join(known)}"))

    @property
    def state(self) -> int:
        """The size of h: the projection's when there is one."""
        return self.proj or self.hidden

    @property
    def out_width(self) -> int:
        """The width of a layer's per-position output: what the next layer and the head read."""
        return len(self.dirs) * self.state if self.concat else self.state

    def build(self) -> tuple[tuple[tuple[LayerWeights, ...], ...], int, bool]:
        keys = [str(k) for k in self.raw]
        if any(_STATE_DICT.match(k) for k in keys):
            groups = self._state_dict_groups()
        elif any(_GROUP.match(k) for k in keys):
            groups = self._named_groups()
        else:
            groups = {(0, "forward"): (("weights",), self.raw)}
            if self.num_layers > 1:
                raise self.r.error(
                    ("weights",), f"per-gate names directly under weights describe one layer; "
                    f"for {self.num_layers} layers group them under l0, l1, ... (l0_reverse for "
                    "the backward direction)"
                )
        bias = self.data.get("bias")
        given = any(_is_bias(name) for _, group in groups.values() for name in group)
        if bias is None:
            bias = given
        self.hidden = self._hidden_size(groups)
        self.bias_on = bias
        layers = []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else self.out_width
            row = []
            for d in self.dirs:
                key = (layer, d)
                if key not in groups and d == "backward" and self.share:
                    key = (layer, "forward")
                if key not in groups:
                    if ("weights",) not in self.unsure:
                        self.r.problems.append(self.r.error(("weights",),
                                                            self._missing_group(layer, d)))
                    row.append(self._zeros(in_size))
                    continue
                path, group = groups[key]
                # state_dict names come regrouped: show them whole (weight_ih_l1_reverse)
                self.suffix = param_name("", *key) if path == ("weights",) else ""
                row.append(self.r.soft(self._zeros(in_size), self._layer, path, group, in_size))
            layers.append(tuple(row))
        for layer, d in (k for k in groups if k[0] >= self.num_layers or k[1] not in self.dirs):
            self.r.problems.append(self.r.error(
                groups[(layer, d)][0], f"weights for layer {layer} {d} given, but the net has "
                f"{self.num_layers} layer(s) and direction(s) {', '.join(self.dirs)}"))
        if self.share and any(d == "backward" for _, d in groups):
            self.r.problems.append(self.r.error(
                ("share_directions",), "share_directions is true, but weights for the backward "
                "direction are given too; keep one of them"))
        return tuple(layers), self.hidden, bias

    def _zeros(self, in_size: int) -> LayerWeights:
        """A layer's weights of the shapes expected, all 0: read in place of a layer with a
        problem, so that the layers above it are still checked."""
        rows = len(self.gates) * self.hidden
        return LayerWeights(
            weight_ih=((0.0,) * in_size,) * rows,
            weight_hh=(0.0,) * rows if self.vector  # type: ignore[arg-type]
            else ((0.0,) * self.state,) * rows,
            bias_ih=(0.0,) * rows if self.bias_on else None,
            bias_hh=(0.0,) * rows if self.bias_on else None,
            weight_hr=((0.0,) * self.hidden,) * self.proj if self.proj else None)

    def _missing_group(self, layer: int, d: str) -> str:
        name = f"l{layer}" + ("_reverse" if d == "backward" else "")
        hint = (" (or set share_directions: true to reuse the forward weights)"
                if d == "backward" else "")
        return (f"no weights for layer {layer} {d}: expected {name} or "
                f"{param_name('weight_ih', layer, d)}{hint}")

    def _state_dict_groups(self) -> dict[tuple[int, str], tuple[Path, dict[str, Any]]]:
        """Regroup ``weight_ih_l0_reverse``-style names by layer and direction."""
        groups: dict[tuple[int, str], tuple[Path, dict[str, Any]]] = {}
        pattern = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")
        for key, value in self.raw.items():
            m = pattern.match(str(key))
            if not m:
                known = [param_name(k, l, d) for l in range(self.num_layers) for d in self.dirs
                         for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                         + (("weight_hr",) if self.proj else ())]
                self._unknown(("weights", key), key, known, "PyTorch state_dict")
                continue
            if m[1] == "weight_hr" and not self.proj:
                rows = f" ({len(value)}, its rows)" if isinstance(value, list) else ""
                self.r.problems.append(self.r.error(
                    ("weights", key), f"a projection (torch.nn.LSTM's proj_size), but the config "
                    f"sets no proj_size; add proj_size{rows}"))
                if not isinstance(value, list) or not value:
                    continue
                self.proj = len(value)  # what it says, so that weight_hh is read as it meant
            where = (int(m[2]), "backward" if m[3] else "forward")
            groups.setdefault(where, (("weights",), {}))[1][m[1]] = value
        return groups

    def _named_groups(self) -> dict[tuple[int, str], tuple[Path, dict[str, Any]]]:
        groups: dict[tuple[int, str], tuple[Path, dict[str, Any]]] = {}
        for key, value in self.raw.items():
            m = _GROUP.match(str(key))
            if not m:
                self.r.problems.append(self.r.error(
                    ("weights", key), "mixes per-gate names with groups l0, l1, ...; put every "
                    "per-gate matrix inside its group"))
                continue
            if not isinstance(value, dict):
                raise self.r.error(("weights", key), f"expected a mapping of per-gate matrices "
                                   f"(W_i?, W_h?, b_i?, b_h?), got {_show(value)}")
            groups[(int(m[1]), "backward" if m[2] else "forward")] = (("weights", key), value)
        return groups

    def _hidden_size(self, groups: dict[tuple[int, str], tuple[Path, dict[str, Any]]]) -> int:
        given = self.data.get("hidden_size")
        key = (0, "forward") if (0, "forward") in groups else next(iter(groups))
        path, group = groups[key]
        G = len(self.gates)
        # every matrix of a layer has hidden (G*hidden) rows: with one name misspelt or left
        # out, another tells the size, and _layer then says which name is wrong
        names = [("weight_hh", G), ("weight_ih", G)]
        names += [(f"{p}{g}", 1) for p in ("W_h", "W_i") for g in self.gates]
        if given is not None:
            return self._given_size(int(given), path, group, names, param_name("", *key))
        for name, per in names:
            if name in group:
                # state_dict names come regrouped: show them whole (weight_hh_l0)
                field = (*path, name + param_name("", *key) if name.startswith("weight_") else name)
                vector = name in ("weight_hh", *(f"W_h{g}" for g in self.gates)) and self.vector
                rows = len(self.r.vector(field, group[name]) if vector
                           else self.r.matrix(field, group[name]))
                if rows % per:
                    raise self.r.error(field, f"expected {per}*hidden rows (gates "
                                       f"{'|'.join(self.gates)} stacked), got {rows}")
                return rows // per
        raise self.r.error(path, "cannot tell the hidden size from the weights; give hidden_size")

    def _given_size(self, given: int, path: Path, group: dict[str, Any],
                    names: list[tuple[str, int]], suffix: str) -> int:
        """``hidden_size``; but when every matrix of the first layer gives one other size, that
        size, and one problem at ``hidden_size`` rather than one at every weight."""
        told = [(name, len(group[name]) // per) for name, per in names
                if isinstance(group.get(name), list) and group[name]
                and len(group[name]) % per == 0]
        sizes = {size for _, size in told}
        if len(sizes) != 1 or given in sizes:
            return given
        name, size = told[0]
        # state_dict names come regrouped: show them whole (weight_hh_l0)
        field = format_path((*path, name + suffix if name.startswith("weight_") else name))
        self.r.problems.append(self.r.error(("hidden_size",), f"expected {size}, the size the "
                               f"weights have ({field} is {shape_of(group[name])}), got {given}"))
        return size

    def _layer(self, path: Path, group: dict[str, Any], in_size: int) -> LayerWeights:
        H, G, gates = self.hidden, len(self.gates), self.gates
        if "weight_ih" in group or "weight_hh" in group:
            return self._stacked(path, group, in_size)
        names = {f"{p}{g}": None for p in ("W_i", "W_h", "b_i", "b_h") for g in gates}
        if "peepholes" in CELLS[self.cell].options:
            names.update(dict.fromkeys(("p_i", "p_f", "p_o") + (("W_hr",) if self.proj else ())))
        aliases = per_gate_aliases(self.cell)  # W_hc for W_hg: the name the user wrote is kept
        for key in list(group):
            if key in aliases and aliases[key] in group:
                raise self.r.error((*path, key), f"{key} and {aliases[key]} are the same weight "
                                   f"({CELLS[self.cell].alias_note}); give one of them")
            if key not in names and key not in aliases:
                self._unknown((*path, key), key, list(names), f"{self.cell} per-gate")
                group = {k: v for k, v in group.items() if k != key}
        group = {aliases.get(k, k): v for k, v in group.items()}
        spelled = {aliases[k]: k for k in self._group_keys(path) if k in aliases}
        blocks: dict[str, list[Vector]] = {"W_i": [], "W_h": [], "b_i": [], "b_h": []}
        for g in gates:
            for prefix, cols, meaning in (("W_i", in_size, "hidden x input"),
                                          ("W_h", self.state, "hidden x hidden")
                                          if not self.proj else ("W_h", self.state,
                                                                 "hidden x proj_size")):
                name = f"{prefix}{g}"
                if prefix == "W_h" and self.vector:  # one recurrent weight per unit (indrnn)
                    if name not in group and path not in self.unsure:
                        self.r.problems.append(self.r.error(
                            path, f"missing weight {name} (expected {H} numbers)"))
                    weight: Any = self.r.soft(
                        (0.0,) * H, self.r.shaped_vector, (*path, name), group[name], H,
                        "one recurrent weight per hidden unit") if name in group else (0.0,) * H
                    blocks[prefix].extend(weight)
                    continue
                if name not in group and path not in self.unsure:
                    self.r.problems.append(self.r.error(
                        path, f"missing weight {name} (expected shape [{H}, {cols}])"))
                zeros = ((0.0,) * cols,) * H
                blocks[prefix].extend(self.r.soft(
                    zeros, self.r.shaped_matrix, (*path, spelled.get(name, name)), group[name],
                    H, cols, meaning) if name in group else zeros)
            for prefix in ("b_i", "b_h"):
                name = f"{prefix}{g}"
                blocks[prefix].append(self.r.soft((0.0,) * H, self._bias, path, group, name, H,
                                                  "", "one per hidden unit", spelled.get(name)))
        del G
        peephole = None
        if any(p in group for p in ("p_i", "p_f", "p_o")):
            peephole = tuple(self.r.vector((*path, p), group[p]) if p in group else (0.0,) * H
                             for p in ("p_i", "p_f", "p_o"))
            for p, row in zip(("p_i", "p_f", "p_o"), peephole, strict=True):
                if len(row) != H:
                    raise self.r.error((*path, p), f"expected {H} numbers (one per hidden unit), "
                                       f"got {len(row)}")
        return LayerWeights(
            weight_ih=tuple(blocks["W_i"]), weight_hh=tuple(blocks["W_h"]),
            bias_ih=_concat(blocks["b_i"]) if self.bias_on else None,
            bias_hh=_concat(blocks["b_h"]) if self.bias_on else None,
            weight_hr=self._projection(path, group, "W_hr"), peephole=peephole,
        )

    def _projection(self, path: Path, group: dict[str, Any], name: str,
                    suffix: str = "") -> Matrix | None:
        if not self.proj:
            return None
        if name not in group:
            raise self.r.error(path, f"missing {name}{suffix}, the projection (proj_size is "
                               f"{self.proj}): expected shape [{self.proj}, {self.hidden}]")
        return self.r.shaped_matrix((*path, name + suffix), group[name], self.proj, self.hidden,
                                    "proj_size x hidden")

    def _stacked(self, path: Path, group: dict[str, Any], in_size: int) -> LayerWeights:
        H, G = self.hidden, len(self.gates)
        order = "|".join(self.gates)
        mats: dict[str, Any] = {}
        rec = "proj_size" if self.proj else "hidden"
        for name, cols, meaning in (("weight_ih", in_size, "input"),
                                    ("weight_hh", self.state, rec)):
            vector = name == "weight_hh" and self.vector  # one recurrent weight a unit (indrnn)
            zeros: Any = (0.0,) * (G * H) if vector else ((0.0,) * cols,) * (G * H)
            field = (*path, name + self.suffix)
            if name not in group:
                if path not in self.unsure:
                    self.r.problems.append(self.r.error(path, f"missing {name}{self.suffix} "
                                                        f"(expected shape [{G * H}, {cols}])"))
                mats[name] = zeros
            elif vector:
                mats[name] = self.r.soft(zeros, self.r.shaped_vector, field, group[name], G * H,
                                         "one recurrent weight per hidden unit")
            else:
                mats[name] = self.r.soft(zeros, self.r.shaped_matrix, field, group[name], G * H,
                                         cols, f"{G}*hidden x {meaning}, gates {order} stacked"
                                         if G > 1 else f"hidden x {meaning}")
        per = f"{G}*hidden, gates {order} stacked" if G > 1 else "one per hidden unit"
        biases = {name: self.r.soft((0.0,) * (G * H), self._bias, path, group, name, G * H,
                                    self.suffix, per)
                  for name in ("bias_ih", "bias_hh")} if self.bias_on else {}
        return LayerWeights(
            weight_ih=mats["weight_ih"], weight_hh=mats["weight_hh"],
            bias_ih=biases.get("bias_ih"), bias_hh=biases.get("bias_hh"),
            weight_hr=self._projection(path, group, "weight_hr", self.suffix),
        )

    def _bias(self, path: Path, group: dict[str, Any], name: str, size: int,
              suffix: str = "", meaning: str = "one per hidden unit",
              shown: str | None = None) -> Vector:
        if name not in group:
            return (0.0,) * size
        field = (*path, (shown or name) + suffix)
        if not self.bias_on:
            raise self.r.error(field, "a bias is given but bias is false")
        return self.r.bias(field, group[name], size, meaning)

    def _group_keys(self, path: Path) -> list[str]:
        """The keys of the group at ``path`` as the user wrote them."""
        group = self.raw if path == ("weights",) else self.raw.get(str(path[-1]), {})
        return [str(k) for k in group]


def _show(value: Any, limit: int = 60) -> str:
    """A value as a message shows it: its repr, cut short so that the message stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _zero_inputs(value: Any) -> Matrix:
    """Inputs of the shape ``value`` was meant to have, all 0, in place of inputs with a problem:
    as many steps, each as wide as most of them are (the weights are checked against it)."""
    steps = value if isinstance(value, list) else [value]
    widths = Counter(len(step) if isinstance(step, list) else 1 for step in steps)
    width = max(widths.most_common(1)[0][0], 1)
    return ((0.0,) * width,) * len(steps)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _is_column(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1 and _is_number(value[0])


def _is_bias(name: str) -> bool:
    return name.startswith(("b_", "bias_"))


def _concat(parts: Iterable[Vector]) -> Vector:
    return tuple(v for part in parts for v in part)



