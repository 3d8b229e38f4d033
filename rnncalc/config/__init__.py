"""Reading exercises: YAML files, stdin, dicts and the embedded seed exercises.

Nothing else reads YAML.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from rnncalc.config.build import build_exercise
from rnncalc.config.schema import check_structure
from rnncalc.config.yamlsafe import Located, load_yaml
from rnncalc.errors import ConfigError, ConfigProblems, ExitCode, RnncalcError
from rnncalc.limits import max_config_bytes
from rnncalc.model import Exercise
from rnncalc.reading import decode, read_bounded

__all__ = [
    "build", "build_filled", "check", "default_name", "folder_of", "load", "read_document",
    "seed_text",
]


class NoSeedError(RnncalcError):
    """A cell command given no config, with options no embedded seed exercise has: usage."""

    exit_code = ExitCode.USAGE


def default_name(cell: str, task: str | None = None, bidirectional: bool | None = None) -> str:
    """Which embedded seed exercise a cell command runs when given no config."""
    variant = "bidirectional" if bidirectional else (
        task if task in ("labeling", "hidden") else "regression")
    exercises = resources.files("rnncalc.exercises")
    names = (f"{cell}_{variant}", f"{cell}_regression")  # the seed's RNN has one per task
    return next((n for n in names if exercises.joinpath(f"{n}.yaml").is_file()), cell)


def seed_text(name: str) -> str:
    """The YAML text of an embedded seed exercise (the same file as ``configs/NAME.yaml``)."""
    return resources.files("rnncalc.exercises").joinpath(f"{name}.yaml").read_text("utf-8")


def read_document(source: str | os.PathLike[str] | dict[str, Any]) -> Located:
    """Read a config as located plain data: a path, ``"-"`` for stdin, or a dict (no lines)."""
    if isinstance(source, dict):
        return Located(source, {}, "<dict>")
    name = str(source)
    raw = read_bounded(name, max_config_bytes(), "a YAML config file",
                       "far more than any exercise; set RNNCALC_MAX_CONFIG_BYTES to raise it")
    text = _decode(raw, name)
    if name == "-" and not text.strip():
        raise ConfigError("nothing on stdin; expected a YAML config", source="<stdin>")
    return load_yaml(text, "<stdin>" if name == "-" else name)


def _decode(raw: bytes, name: str) -> str:
    return decode(raw, "<stdin>" if name == "-" else name)


def load(
    source: str | os.PathLike[str] | dict[str, Any] | None = None,
    *,
    cell: str | None = None,
    task: str | None = None,
    bidirectional: bool | None = None,
    dtype: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    convention: str | None = None,
    batch: bool = False,
) -> Exercise:
    """Load an exercise from a YAML file, ``"-"`` (stdin), a dict, or (``None``) the seed default.

    A config with ``batch:`` is refused unless ``batch=True``, which returns a
    :class:`rnncalc.minibatch.Batch` for it (one exercise per sequence).

    ``weights`` names a PyTorch ``state_dict`` file (``.pt``) whose tensors replace the config's
    ``weights`` or ``weights_file`` (see :mod:`rnncalc.config.weightfile`); errors in them name
    that file. ``convention`` replaces the config's (``rnncalc.formulation.CONVENTIONS``).

    >>> ex = load(cell="lstm")
    >>> ex.cell, ex.hidden_size, ex.steps
    ('lstm', 2, 3)
    """
    if source is None:
        if cell is None:
            raise ConfigError("give a config, or a cell to run its embedded seed exercise")
        name = default_name(cell, task, bidirectional)
        doc = load_yaml(seed_text(name), f"<seed {name}>")
        if task not in (None, "hidden") and "head" not in doc.data:
            raise NoSeedError(
                f"--task {task}: there is no embedded seed exercise for {cell} with a head; the "
                "seeds are rnn's (any --task, or --bidirectional) and lstm's and gru's (hidden "
                f"states only); give a config with a head (`rnncalc init {cell} --task {task}` "
                "writes one)"
            )
        if weights is not None:
            doc = _seed_inputs(doc)
    else:
        doc = read_document(source)
    return build(doc, folder_of(source), weights=weights, cell=cell, task=task,
                 bidirectional=bidirectional, dtype=dtype, convention=convention, batch=batch)


def folder_of(source: str | os.PathLike[str] | dict[str, Any] | None) -> Path:
    """Where a config's relative ``weights_file`` is looked for: the folder of its file (as
    named, symlinks not followed); for stdin, a dict or a seed, the current directory."""
    if source is None or isinstance(source, dict) or str(source) == "-":
        return Path()
    return Path(source).parent


def build(doc: Located, folder: Path, *, weights: str | os.PathLike[str] | None = None,
          **options: Any) -> Exercise:
    """Build ``doc`` (``options``: :func:`~rnncalc.config.build.build_exercise`'s keywords) with
    the weights of a state_dict file, if there is one: ``weights`` (``--weights``, which wins over
    the config's ``weights`` and ``weights_file``), else the config's ``weights_file``, resolved
    against ``folder``. Reading a file imports torch; an error in what it holds names the file."""
    return build_filled(doc, folder, weights=weights, **options)[1]


def build_filled(doc: Located, folder: Path, *, weights: str | os.PathLike[str] | None = None,
                 batch: bool = False, **options: Any) -> tuple[Located, Exercise]:
    """As :func:`build`, and the document the exercise was built from: ``doc`` with the file's
    weights in place of its own (``rnncalc convert`` writes them out). A config with ``batch:``
    is refused unless ``batch`` (the cell commands and ``grad`` run it)."""
    filled = _with_inputs_file(_with_weight_file(doc, folder, weights), folder)
    if isinstance(filled.data, dict) and "batch" in filled.data and not batch:
        key = "inputs_file" if "inputs_file" in doc.data else "batch"  # [B, T, input_size]
        raise doc.error((key,), "this config holds a batch of sequences; the cell commands "
                        "and rnncalc grad run it (from Python: rnncalc.load(..., batch=True))")
    try:
        if isinstance(filled.data, dict) and "batch" in filled.data:
            from rnncalc.config.batch import Batch, read_batch

            check_structure(filled)
            return filled, Batch(read_batch(filled, build_exercise, **options))  # type: ignore[return-value]
        return filled, build_exercise(filled, **options)
    except ConfigError as exc:
        if filled is doc:
            raise
        from rnncalc.config.arrays import from_inputs_file

        raise from_inputs_file(doc, exc) or _from_weight_file(doc, weights, exc) from None


def check(doc: Located, folder: Path) -> None:
    """Check ``doc`` as :func:`build` does but without torch (``rnncalc validate``): of a ``.pt``
    ``weights_file`` only that it names a regular file within the size limit; its tensors are
    checked when the exercise is built. numpy's files (``inputs_file``, a ``.npz`` of weights)
    are read and checked whole."""
    file = _weights_file(doc, folder)
    if file is None or file.suffix == ".npz":
        build_filled(doc, folder, batch=True)
    else:
        check_structure(_with_inputs_file(doc, folder))


def _names(doc: Located, key: str) -> bool:
    return isinstance(doc.data, dict) and key in doc.data


def _weights_file(doc: Located, folder: Path) -> Path | None:
    """:func:`~rnncalc.config.weightfile.find_weights_file`; the reader of weight and numpy files
    imported only for a config that names one (the usual config gives its numbers itself)."""
    if not _names(doc, "weights_file"):
        return None
    from rnncalc.config.weightfile import find_weights_file

    return find_weights_file(doc, folder)


def _with_inputs_file(doc: Located, folder: Path) -> Located:
    """:func:`~rnncalc.config.arrays.with_inputs_file`, imported as :func:`_weights_file` is."""
    if not _names(doc, "inputs_file"):
        return doc
    from rnncalc.config.arrays import with_inputs_file

    return with_inputs_file(doc, folder)


def _with_weight_file(doc: Located, folder: Path,
                     weights: str | os.PathLike[str] | None = None) -> Located:
    """``doc`` with the weights of a state_dict file: ``weights``, or else its ``weights_file``
    (unchanged when it names none). Errors reading a ``weights_file`` are at its line."""
    if weights is not None:
        from rnncalc.config.weightfile import read_weights

        return _with_weights(doc, read_weights(weights))
    file = _weights_file(doc, folder)
    if file is None:
        return doc
    from rnncalc.config.weightfile import read_weights

    try:
        return _with_weights(doc, read_weights(file))
    except ConfigError as exc:
        raise _at_weights_file(doc, exc) from None


def _from_weight_file(doc: Located, weights: str | os.PathLike[str] | None,
                     exc: ConfigError) -> ConfigError:
    """``exc``, raised building what :func:`_with_weight_file` read into ``doc``, told about the
    file the weights came from: ``weights`` (``model.pt: weights.weight_ih_l0: ...``), or the
    config's ``weights_file`` (``ex.yaml:3: weights_file: model.pt: weights.weight_ih_l0: ...``).
    An error about the config's other keys is returned as it is; of several, each."""
    if isinstance(exc, ConfigProblems):
        return ConfigProblems([_from_weight_file(doc, weights, p) for p in exc.problems])
    if exc.path != "weights" and not exc.path.startswith(("weights.", "weights[")):
        return exc  # about the config's own keys
    if weights is not None:
        return ConfigError(exc.message, source=str(weights), path=exc.path)
    return _at_weights_file(doc, exc)


def _at_weights_file(doc: Located, exc: ConfigError) -> ConfigError:
    """An error in the file a config's ``weights_file`` names, at that line: the file's name as
    written, then the message ``--weights`` would give."""
    named = ConfigError(exc.message, source=str(doc.data["weights_file"]), path=exc.path)
    return doc.error(("weights_file",), str(named))


def _seed_inputs(doc: Located) -> Located:
    """A seed exercise run with a weight file and no config: its inputs (README, "Weight files"),
    not its head or shared directions, which were written for the seed's own weights (a head of
    2 columns on any net, made-up numbers on a trained one)."""
    kept = ("title", "cell", "nonlinearity", "inputs", "weights")  # weights: replaced by the file
    data = {k: v for k, v in doc.data.items() if k in kept}
    lines = {path: line for path, line in doc.lines.items() if not path or path[0] in kept}
    return Located(data, lines, doc.source)


def _with_weights(doc: Located, weights: dict[str, Any]) -> Located:
    """``doc`` with its ``weights`` (or ``weights_file``) replaced by those of a weight file, which
    also decides whether there are biases and, where the config does not say, the layers,
    directions and projection."""
    if not isinstance(doc.data, dict):
        return doc  # the builder says what is wrong with it
    layout = doc.data.get("layout")
    if layout in ("onnx", "keras"):
        # their other keys (activations as a list, kernel names) belong to that layout's weights
        raise doc.error(("layout",), f"--weights gives PyTorch state_dict weights, but this config "
                        f"is written in layout: {layout}; convert it first (rnncalc convert CONFIG "
                        "--to pytorch) or drop --weights")
    from rnncalc.config.modules import split_modules

    prefix = doc.data.get("weights_prefix")
    try:
        split = split_modules(weights, prefix if isinstance(prefix, str) else None)
    except ValueError as exc:
        raise doc.error(("weights_prefix",) if "weights_prefix" in doc.data else ("weights",),
                        str(exc)) from None
    weights = split.recurrent
    names = [str(k) for k in weights]
    layers = [int(m[1]) for m in map(_LAYER.search, names) if m]
    dropped = ("bias", "layout", "orientation", "concat", "weights_file", "weights_prefix")
    data = {k: v for k, v in doc.data.items() if k not in dropped}  # the sheet's writing
    head = data.get("head")
    if split.head is not None and (head is None or (isinstance(head, dict) and "W" not in head)):
        # the model's Linear is the head; the config's head, if any, gives its task and labels
        data["head"] = {"task": "regression", **(head or {}), "W": split.head["weight"],
                        **({"b": split.head["bias"]} if "bias" in split.head else {})}
    data.setdefault("num_layers", max(layers, default=0) + 1)
    data.setdefault("bidirectional", any(n.endswith("_reverse") for n in names))
    projection = weights.get("weight_hr_l0")  # [proj_size, hidden]: torch.nn.LSTM(proj_size=P)
    if isinstance(projection, list) and projection:
        data.setdefault("proj_size", len(projection))
    data["weights"] = weights
    lines = {path: line for path, line in doc.lines.items()
             if path[:1] not in (("weights",), ("weights_file",))}
    return Located(data, lines, doc.source)


_LAYER = re.compile(r"_l(\d+)(_reverse)?$")
