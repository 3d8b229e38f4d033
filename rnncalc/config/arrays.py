"""Arrays from numpy's files: a config's ``inputs_file`` (``.npy`` or ``.npz``) and weights in a
``.npz`` (``weights_file:``, ``--weights``), for exercises too long to write in YAML.

Read as every other file a student may have made (:mod:`rnncalc.reading`): the size is checked
on the opened file before a byte is read; a ``.npz`` (a zip archive) is refused when its central
directory declares more than the limit once inflated, before anything is inflated; each array's
header is checked (integers or floats, and exactly the bytes its shape needs) before its data is
touched. Nothing is unpickled: an object array is refused by its dtype, as
``numpy.load(allow_pickle=False)`` would refuse it.

The arrays become plain lists, put where a YAML config writes them (``inputs``, a ``batch``, the
loss's ``target`` or ``targets``, ``weights``), so every check and message after that is the
ordinary one; an error in what came from the file names the file and its array:
``ex.yaml:4: inputs_file: x.npz: inputs[0]: expected ...``.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncalc.config.weightfile import (
    LIMIT_HINT,
    inflated_problem,
    line_note,
    named_file,
    size_limit,
)
from rnncalc.config.yamlsafe import Located
from rnncalc.errors import ConfigError, shown
from rnncalc.reading import read_bounded

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DATA_KEYS", "from_inputs_file", "read_npz", "with_inputs_file"]

#: The arrays of a ``.npz`` that are the exercise's data; any other name is a state_dict name.
DATA_KEYS = ("inputs", "target", "targets")

_HEADER_BYTES = 10_000  # numpy's own cap on a header it will parse


def read_npz(file: str | os.PathLike[str], keys: tuple[str, ...] | None = None
             ) -> dict[str, np.ndarray]:
    """The arrays in a ``.npz`` (``numpy.savez``), by name; with ``keys``, only those (the rest
    are neither inflated nor read)."""
    name = str(file)
    raw = read_bounded(name, size_limit(), "a numpy .npz file", LIMIT_HINT)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        raise ConfigError("not a numpy .npz file (numpy.savez): not a readable zip archive",
                          source=name) from None
    problem = inflated_problem(members)
    if problem:
        raise ConfigError(problem, source=name)
    out: dict[str, np.ndarray] = {}
    for member in members:
        key = member.filename.removesuffix(".npy")
        if key == member.filename or not key:
            raise ConfigError(f"expected numpy arrays (NAME.npy) only, got a member named "
                              f"{shown(member.filename)}", source=name)
        if keys is not None and key not in keys:
            continue
        try:  # zipfile stops at the size the central directory declares, and checks the CRC
            data = archive.read(member)
        except Exception:  # zlib.error, BadZipFile, NotImplementedError, encrypted: many kinds
            raise ConfigError("a damaged or unsupported zip member (numpy.savez writes plain or "
                              "deflated ones)", source=name, path=key) from None
        out[key] = _array(data, name, key)
    return out


def read_npy(file: str | os.PathLike[str], key: str) -> np.ndarray:
    """The array in a ``.npy`` (``numpy.save``), its errors named ``key``."""
    name = str(file)
    return _array(read_bounded(name, size_limit(), "a numpy .npy file", LIMIT_HINT), name, key)


def _array(data: bytes, name: str, key: str) -> np.ndarray:
    """The array a ``.npy``'s bytes hold: integers or floats only, and exactly the bytes its
    shape and dtype need (numpy would first allocate what a header claims)."""
    import numpy as np
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        header = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}[version]
        shape, fortran, dtype = header(stream, max_header_size=_HEADER_BYTES)
    except Exception:  # bad magic, a version numpy writes only for unicode field names, junk
        raise ConfigError("expected a numpy array (.npy format 1.0 or 2.0, numpy.save), got "
                          "bytes that are not one", source=name, path=key) from None
    if dtype.kind not in "iuf" or dtype.fields is not None or dtype.hasobject:
        kind = "object (Python objects, stored as a pickle: never loaded)" if dtype.hasobject \
            else shown(str(dtype), 40)
        raise ConfigError(f"expected numbers (an integer or float dtype), got dtype {kind}",
                          source=name, path=key)
    need, got = math.prod(shape) * dtype.itemsize, len(data) - stream.tell()
    if need != got:
        raise ConfigError(f"expected {need:,} bytes of data (shape {list(shape)}, {dtype.name}), "
                          f"got {got:,}", source=name, path=key)
    flat = np.frombuffer(data, dtype, math.prod(shape), offset=stream.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


def with_inputs_file(doc: Located, folder: Path) -> Located:
    """``doc`` with the arrays of its ``inputs_file`` in place of it (unchanged when it names
    none): a ``[T, input_size]`` array as ``inputs``, a ``[B, T, input_size]`` one as a
    ``batch`` of B sequences; a ``.npz``'s ``target`` or ``targets`` into its ``loss``. The file
    is resolved against ``folder`` as ``weights_file`` is; errors are at the key's line."""
    data = doc.data
    if not isinstance(data, dict) or "inputs_file" not in data:
        return doc
    for other in ("inputs", "batch"):
        if other in data:
            raise doc.error(("inputs_file",), f"give {other}{line_note(doc, other)} or "
                            f"inputs_file{line_note(doc, 'inputs_file')}, not both")
    what = "a numpy file (.npy or .npz)"
    file = named_file(doc, "inputs_file", folder, what, what)
    try:
        if file.suffix == ".npz":
            arrays = read_npz(file, DATA_KEYS)
            if "inputs" not in arrays:
                raise ConfigError("missing array 'inputs' (numpy.savez(F, inputs=x, ...)); an "
                                  ".npz for inputs_file holds inputs, and target or targets for "
                                  "the loss", source=str(file), path="inputs")
        else:
            arrays = {"inputs": read_npy(file, "inputs")}
        filled = _filled(data, arrays, str(file))
    except ConfigError as exc:
        raise _at_inputs_file(doc, exc) from None
    lines = {p: n for p, n in doc.lines.items() if p[:1] != ("inputs_file",)}
    return Located(filled, lines, doc.source)


def _filled(data: dict[str, Any], arrays: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    """``data`` with ``arrays`` where YAML would have written them."""
    inputs = arrays["inputs"]
    if inputs.ndim not in (2, 3):
        raise ConfigError(f"expected 2 dimensions [T, input_size] (or 3: [B, T, input_size] for a "
                          f"batch), got shape {list(inputs.shape)}" + (
                              "; for one feature per step save x.reshape(-1, 1)"
                              if inputs.ndim == 1 else ""), source=name, path="inputs")
    batch = inputs.ndim == 3
    targets = {k: arrays[k] for k in ("target", "targets") if k in arrays}
    out = {k: v for k, v in data.items() if k != "inputs_file"}
    if targets:
        loss = data.get("loss")
        if not isinstance(loss, dict):
            raise ConfigError(f"a {next(iter(targets))} needs the config's loss: {{type, "
                              "reduction}", source=name, path=next(iter(targets)))
        own = [k for k in ("target", "targets") if k in loss]
        if own:
            raise ConfigError(f"the config's loss gives {own[0]} too; give the targets in the "
                              "config or in this file, not both", source=name,
                              path=next(iter(targets)))
        for key, array in targets.items():
            if batch and (array.ndim == 0 or len(array) != len(inputs)):
                raise ConfigError(f"expected one {key} entry per sequence, {len(inputs)} (the "
                                  f"inputs' B), got shape {list(array.shape)}", source=name,
                                  path=key)
    if not batch:
        out["inputs"] = inputs.tolist()
        if targets:
            out["loss"] = {**data["loss"], **{k: a.tolist() for k, a in targets.items()}}
        return out
    out["batch"] = [{"inputs": x.tolist(), **{k: a[b].tolist() for k, a in targets.items()}}
                    for b, x in enumerate(inputs)]
    return out


def from_inputs_file(doc: Located, exc: ConfigError) -> ConfigError | None:
    """``exc``, raised building what :func:`with_inputs_file` put into ``doc``, named by the file
    and its array (``batch[1].inputs[0]`` is the file's ``inputs[1][0]``); ``None`` when it is
    about a key of the config's own."""
    data = doc.data
    if not isinstance(data, dict) or "inputs_file" not in data:
        return None
    loss = data.get("loss")
    own_targets = isinstance(loss, dict) and ("target" in loss or "targets" in loss)
    path = re.sub(r"^batch\[(\d+)\]\.(inputs|targets?)", r"\2[\1]", exc.path)
    path = path if own_targets else re.sub(r"^loss\.(targets?)", r"\1", path)
    if not re.match(r"(inputs|targets?)(\[|$)", path):
        return None
    return _at_inputs_file(doc, ConfigError(exc.message, path=path))


def _at_inputs_file(doc: Located, exc: ConfigError) -> ConfigError:
    """An error in the file a config's ``inputs_file`` names, at that line."""
    named = ConfigError(exc.message, source=str(doc.data["inputs_file"]), path=exc.path)
    return doc.error(("inputs_file",), str(named))
