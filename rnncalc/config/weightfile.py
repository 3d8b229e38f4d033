"""Weights from a PyTorch ``state_dict`` file: ``torch.save(torch.nn.LSTM(3, 2).state_dict(), F)``.

The file is read with ``torch.load(..., weights_only=True)``, which unpickles tensors and plain
containers only: a pickle that would build any other object (and so could run code) is refused
before anything in it runs. The tensors become the config's ``weights`` under their state_dict
names (``weight_ih_l0``, ...), so they pass the same shape checks as weights written in YAML.

A config names such a file with ``weights_file:``; :func:`find_weights_file` resolves and checks
it without reading it (no torch), which is all that ``rnncalc validate`` does with it.
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

if TYPE_CHECKING:
    from rnncalc.config.yamlsafe import Located

__all__ = ["file_problem", "find_weights_file", "outside_paths_allowed", "read_weights"]


def file_problem(file: Path) -> str | None:
    """Why ``file`` cannot be a weight file, seen without opening it (a directory, a FIFO or
    ``/dev/zero`` would hang or never end): missing, not a regular file, larger than the limit."""
    try:
        info = file.stat()
    except OSError:
        return "no such file; expected a PyTorch state_dict file (.pt)"
    if not stat.S_ISREG(info.st_mode):
        what = "is a directory" if stat.S_ISDIR(info.st_mode) else "is not a regular file"
        return f"{what}; expected a PyTorch state_dict file (.pt)"
    limit = _size_limit()
    if info.st_size > limit:
        return (f"{info.st_size:,} bytes, larger than the limit of {limit:,} (8 bytes for each "
                "of RNNCALC_MAX_VALUES numbers, plus RNNCALC_MAX_CONFIG_BYTES); raise them to "
                "load it")
    return None


def find_weights_file(doc: Located, folder: Path) -> Path | None:
    """The file a config's ``weights_file`` names, checked without reading it; ``None`` if the
    config names none. A relative name is resolved against ``folder`` (the config's own), after
    ``~`` is expanded."""
    data, key = doc.data, ("weights_file",)
    if not isinstance(data, dict) or "weights_file" not in data:
        return None
    if "weights" in data:
        raise doc.error(key, f"give weights{_line(doc, 'weights')} or "
                        f"weights_file{_line(doc, 'weights_file')}, not both")
    value = data["weights_file"]
    if not isinstance(value, str) or not value.strip():
        raise doc.error(key, f"expected the name of a PyTorch state_dict file, got "
                        f"{shown(value, 60)}")
    layout = data.get("layout")
    if layout in ("onnx", "keras"):  # their other keys go with that layout's weights
        raise doc.error(key, f"a state_dict is in PyTorch's layout, but this config is written in "
                        f"layout: {layout}{_line(doc, 'layout')}; give weights in that layout "
                        "instead, or write the config in PyTorch's layout")
    file = folder / os.path.expanduser(value)
    if not outside_paths_allowed() and _leaves(folder, value, file):
        raise doc.error(key, f"{shown(value)} is outside this config's folder, where a "
                        "config may name files; give it with --weights, or allow it with "
                        "--allow-outside-paths")
    if not os.path.exists(file):
        raise doc.error(key, f"no such file {value!r} (looked in {os.path.abspath(file.parent)})")
    problem = file_problem(file)
    if problem:
        raise doc.error(key, f"{value}: {problem}")
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


def _line(doc: Located, key: str) -> str:
    line = doc.lines.get((key,))
    return f" (line {line})" if line else ""


def read_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state_dict in ``path`` as ``{name: nested lists of numbers}``.

    A common module prefix (``rnn.weight_ih_l0`` from a model's own state_dict) is dropped.
    """
    name, file = str(path), Path(path)
    problem = file_problem(file)
    if problem:
        raise ConfigError(problem, source=name)
    problem = _archive_problem(file)
    if problem:
        raise ConfigError(problem, source=name)
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; one line is ours
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=True)
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
    heads = {str(key).rpartition(".")[0] for key in state}
    prefix = heads.pop() if len(heads) == 1 else ""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"expected a tensor, got {type(value).__name__}", source=name,
                              path=str(key))
        try:
            out[str(key)[len(prefix) + 1 if prefix else 0:]] = value.detach().cpu().tolist()
        except Exception as exc:  # sparse, quantized, meta: not plain numbers
            raise ConfigError(f"expected a dense tensor of numbers, got a {value.layout} "
                              f"{value.dtype} tensor ({_reason(exc)})", source=name,
                              path=str(key)) from None
    return out


_NOT_A_STATE_DICT = ("not a PyTorch state_dict file (torch.save): neither a readable zip archive "
                     "nor a weights-only pickle; nothing in it was run")


def _archive_problem(file: Path) -> str | None:
    """Why a zip archive (what torch.save writes) must not be loaded: more than the size limit
    once inflated, as its central directory declares, read before anything is inflated (a 2 MB
    file can inflate to gigabytes). Not a zip, or a broken one: torch.load says what it is."""
    import zipfile

    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    limit = _size_limit()
    total = sum(m.file_size for m in members)
    if total > limit:
        return (f"inflates to {total:,} bytes (a zip archive of {len(members):,} members), "
                f"larger than the limit of {limit:,} (8 bytes for each of RNNCALC_MAX_VALUES "
                "numbers, plus RNNCALC_MAX_CONFIG_BYTES); nothing in it was read")
    return None


def _size_limit() -> int:
    return 8 * max_values() + max_config_bytes()  # a float64 per number, and room for the rest


def _reason(exc: BaseException) -> str:
    """The informative part of an error message that may span many lines (torch.load's do)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"(Unsupported|Trying to load).*?(?=\.\s|\.$|\n|$)", text)
    if found:  # the weights-only unpickler's own reason: "Unsupported global: GLOBAL io.open ..."
        return found[0].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else repr(exc)
