"""Weights from a PyTorch ``state_dict`` file: ``torch.save(torch.nn.LSTM(3, 2).state_dict(), F)``.

The file is read with ``torch.load(..., weights_only=True)``, which unpickles tensors and plain
containers only: a pickle that would build any other object (and so could run code) is refused
before anything in it runs. The tensors become the config's ``weights`` under their state_dict
names (``weight_ih_l0``, ...), so they pass the same shape checks as weights written in YAML.

A file whose name ends in ``.npz`` (``numpy.savez(F, weight_ih_l0=..., ...)``) is read with numpy
instead, without pickles (:mod:`rnncalc.config.arrays`), into the same names.

A config names such a file with ``weights_file:``; :func:`find_weights_file` resolves and checks
it without reading it (no torch), which is all that ``rnncalc validate`` does with a ``.pt``.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncalc.errors import ConfigError, shown
from rnncalc.limits import max_config_bytes, max_values
from rnncalc.reading import read_bounded

if TYPE_CHECKING:
    from zipfile import ZipInfo

    from rnncalc.config.yamlsafe import Located

__all__ = [
    "LIMIT_HINT", "file_problem", "find_weights_file", "inflated_problem", "line_note",
    "named_file",
    "outside_paths_allowed", "read_weights", "size_limit",
]

#: Why a weight or array file has the size limit it has, and how to raise it.
LIMIT_HINT = "8 bytes for each of RNNCALC_MAX_VALUES numbers, plus RNNCALC_MAX_CONFIG_BYTES"

_PT = "a PyTorch state_dict file (.pt)"


def file_problem(file: Path, what: str = _PT) -> str | None:
    """Why ``file`` cannot be a weight file (``what``), seen without opening it (a directory, a
    FIFO or ``/dev/zero`` would hang or never end): missing, not a regular file, too large."""
    try:
        info = file.stat()
    except OSError:
        return f"no such file; expected {what}"
    if not stat.S_ISREG(info.st_mode):
        kind = "is a directory" if stat.S_ISDIR(info.st_mode) else "is not a regular file"
        return f"{kind}; expected {what}"
    limit = size_limit()
    if info.st_size > limit:
        return (f"{info.st_size:,} bytes, larger than the limit of {limit:,} ({LIMIT_HINT}); "
                "raise them to load it")
    return None


def find_weights_file(doc: Located, folder: Path) -> Path | None:
    """The file a config's ``weights_file`` names, checked without reading it; ``None`` if the
    config names none. A relative name is resolved against ``folder`` (the config's own), after
    ``~`` is expanded."""
    data, key = doc.data, ("weights_file",)
    if not isinstance(data, dict) or "weights_file" not in data:
        return None
    if "weights" in data:
        raise doc.error(key, f"give weights{line_note(doc, 'weights')} or "
                        f"weights_file{line_note(doc, 'weights_file')}, not both")
    layout = data.get("layout")
    if layout in ("onnx", "keras"):  # their other keys go with that layout's weights
        raise doc.error(key, f"a state_dict is in PyTorch's layout, but this config is written in "
                        f"layout: {layout}{line_note(doc, 'layout')}; give weights in that layout "
                        "instead, or write the config in PyTorch's layout")
    return named_file(doc, "weights_file", folder, _PT,
                      "a PyTorch state_dict file (.pt) or a numpy .npz")


def named_file(doc: Located, key: str, folder: Path, what: str, kinds: str) -> Path:
    """The file ``doc``'s ``key`` names (``what`` it should be; ``kinds``: every kind it may be),
    checked without reading it: a name, within ``folder`` unless outside paths are allowed, a
    regular file within the limit. ``~`` is expanded; a relative name is resolved against
    ``folder``."""
    value = doc.data[key]
    if not isinstance(value, str) or not value.strip():
        raise doc.error((key,), f"expected the name of {kinds}, got {shown(value, 60)}")
    file = folder / os.path.expanduser(value)
    if not outside_paths_allowed() and _leaves(folder, value, file):
        given = " give it with --weights, or" if key == "weights_file" else ""
        raise doc.error((key,), f"{shown(value)} is outside this config's folder, where a "
                        f"config may name files;{given} allow it with --allow-outside-paths")
    if not os.path.exists(file):
        raise doc.error((key,), f"no such file {value!r} (looked in "
                        f"{os.path.abspath(file.parent)})")
    problem = file_problem(file, "a numpy .npz file" if file.suffix == ".npz" else what)
    if problem:
        raise doc.error((key,), f"{value}: {problem}")
    return file


def outside_paths_allowed() -> bool:
    """May a config name a file outside its own folder (``--allow-outside-paths``, which sets
    ``RNNCALC_ALLOW_OUTSIDE_PATHS=1``)? Not by default: a student's config could name any file
    the grader can read."""
    return os.environ.get("RNNCALC_ALLOW_OUTSIDE_PATHS", "") not in ("", "0")


def _leaves(folder: Path, value: str, file: Path) -> bool:
    """Does ``value`` (as written in a config in ``folder``) name a file outside ``folder``: an
    absolute path, ``~``, ``..`` past the folder, or a symbolic link that leads out?"""
    if os.path.isabs(value) or value.startswith("~"):
        return True
    base = os.path.realpath(folder)
    return os.path.commonpath([base, os.path.realpath(file)]) != base


def line_note(doc: Located, key: str) -> str:
    """`` (line N)`` where ``doc`` writes ``key``, or nothing."""
    line = doc.lines.get((key,))
    return f" (line {line})" if line else ""


def read_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state_dict in ``path`` as ``{name: nested lists of numbers}``.

    A common module prefix (``rnn.weight_ih_l0`` from a model's own state_dict) is dropped.
    A ``.npz`` is read with numpy; its arrays named ``inputs``, ``target`` and ``targets`` are an
    exercise's data (``inputs_file``), not weights.
    """
    name, file = str(path), Path(path)
    problem = file_problem(file, "a numpy .npz file" if file.suffix == ".npz" else _PT)
    if problem:
        raise ConfigError(problem, source=name)
    if file.suffix == ".npz":
        from rnncalc.config.arrays import DATA_KEYS, read_npz

        arrays = read_npz(file)
        state = {k: a.tolist() for k, a in arrays.items() if k not in DATA_KEYS}
        if not state:
            raise ConfigError("expected weights under state_dict names (numpy.savez(F, "
                              f"weight_ih_l0=..., ...)), got {'only ' if arrays else ''}"
                              f"{', '.join(arrays) or 'no arrays'}", source=name)
        return _without_prefix(state)
    raw = read_bounded(name, size_limit(), _PT, LIMIT_HINT)  # the bytes checked are those loaded
    problem = _archive_problem(raw)
    if problem:
        raise ConfigError(problem, source=name)
    import io
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; one line is ours
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _reason(exc)
        if "GLOBAL" in reason:  # the name of what it would build, elided: not the file's bytes
            raise ConfigError(
                "refused: it holds Python objects other than tensors, which could run code; "
                f"nothing in it was run (torch.load weights_only=True: {shown(reason, 80)[1:-1]})",
                source=name) from None
        raise ConfigError(_NOT_A_STATE_DICT, source=name) from None
    except Exception:  # torch.load of arbitrary bytes raises many kinds of error, quoting them
        raise ConfigError(_NOT_A_STATE_DICT, source=name) from None
    if not isinstance(state, dict) or not state:
        raise ConfigError(
            f"expected a state_dict (a mapping of names to tensors), got {type(state).__name__}"
            + (" (empty)" if isinstance(state, dict) else ""), source=name
        )
    odd = [key for key in state if not isinstance(key, str)]
    if odd:
        some = ", ".join(shown(k, 20) for k in odd[:3]) + (", ..." if len(odd) > 3 else "")
        raise ConfigError(f"expected state_dict names (weight_ih_l0, ...) as keys, got "
                          f"{len(odd):,} that are not names: {some}", source=name)
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"expected a tensor, got {type(value).__name__}", source=name,
                              path=str(key))
        try:
            out[key] = value.detach().cpu().tolist()
        except Exception as exc:  # sparse, quantized, meta: not plain numbers
            raise ConfigError(f"expected a dense tensor of numbers, got a {value.layout} "
                              f"{value.dtype} tensor ({_reason(exc)})", source=name,
                              path=str(key)) from None
    return _without_prefix(out)


def _without_prefix(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` without the module prefix all its names share (``rnn.``), if they share one."""
    heads = {key.rpartition(".")[0] for key in state}
    prefix = heads.pop() if len(heads) == 1 else ""
    return {key[len(prefix) + 1 if prefix else 0:]: value for key, value in state.items()}


_NOT_A_STATE_DICT = ("not a PyTorch state_dict file (torch.save): neither a readable zip archive "
                     "nor a weights-only pickle; nothing in it was run")


def _archive_problem(raw: bytes) -> str | None:
    """Why a zip archive (what torch.save writes) must not be loaded: more than the size limit
    once inflated, as its central directory declares, read before anything is inflated (a 2 MB
    file can inflate to gigabytes). Not a zip, or a broken one: torch.load says what it is."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    return inflated_problem(members)


def inflated_problem(members: list[ZipInfo]) -> str | None:
    """Why a zip archive of ``members`` must not be inflated: more than the size limit in all,
    as its central directory declares (zipfile then stops each member at its declared size)."""
    limit = size_limit()
    total = sum(m.file_size for m in members)
    if total > limit:
        many = "s" if len(members) != 1 else ""
        return (f"inflates to {total:,} bytes (a zip archive of {len(members):,} member{many}), "
                f"larger than the limit of {limit:,} ({LIMIT_HINT}); nothing in it was read")
    return None


def size_limit() -> int:
    """The largest weight or array file read, and the most a zip archive may inflate to."""
    return 8 * max_values() + max_config_bytes()  # a float64 per number, and room for the rest


def _reason(exc: BaseException) -> str:
    """The informative part of an error message that may span many lines (torch.load's do)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"(Unsupported|Trying to load).*?(?=\.\s|\.$|\n|$)", text)
    if found:  # the weights-only unpickler's own reason: "Unsupported global: GLOBAL io.open ..."
        return found[0].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else repr(exc)
