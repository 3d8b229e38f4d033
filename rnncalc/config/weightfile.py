"""Weights from a PyTorch ``state_dict`` file: ``torch.save(torch.nn.LSTM(3, 2).state_dict(), F)``.

The file is read with ``torch.load(..., weights_only=True)``, which unpickles tensors and plain
containers only: a pickle that would build any other object (and so could run code) is refused
before anything in it runs. The tensors become the config's ``weights`` under their state_dict
names (``weight_ih_l0``, ...), so they pass the same shape checks as weights written in YAML.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from rnncalc.errors import ConfigError
from rnncalc.limits import max_config_bytes, max_values

__all__ = ["read_weights"]


def read_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state_dict in ``path`` as ``{name: nested lists of numbers}``.

    A common module prefix (``rnn.weight_ih_l0`` from a model's own state_dict) is dropped.
    """
    name, file = str(path), Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "no such file"
        raise ConfigError(f"{what}; expected a PyTorch state_dict file (.pt)", source=name)
    limit = 8 * max_values() + max_config_bytes()  # a float64 per number, and room for the rest
    if file.stat().st_size > limit:
        raise ConfigError(
            f"{file.stat().st_size:,} bytes, larger than the limit of {limit:,} (8 bytes for each "
            "of RNNCALC_MAX_VALUES numbers, plus RNNCALC_MAX_CONFIG_BYTES); raise them to load it",
            source=name,
        )
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; one line is ours
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _reason(exc)
        what = ("refused: it holds Python objects other than tensors, which could run code"
                if "GLOBAL" in reason else "not a PyTorch state_dict file (torch.save)")
        raise ConfigError(
            f"{what}; nothing in it was run (torch.load weights_only=True: {reason})", source=name
        ) from None
    except Exception as exc:  # torch.load of arbitrary bytes raises many kinds of error
        raise ConfigError(
            f"not a PyTorch state_dict file (torch.save): {type(exc).__name__}: {_reason(exc)}",
            source=name,
        ) from None
    if not isinstance(state, dict) or not state:
        raise ConfigError(
            f"expected a state_dict (a mapping of names to tensors), got {type(state).__name__}"
            + (" (empty)" if isinstance(state, dict) else ""), source=name
        )
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


def _reason(exc: BaseException) -> str:
    """The informative part of an error message that may span many lines (torch.load's do)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"(Unsupported|Trying to load).*?(?=\.\s|\.$|\n|$)", text)
    if found:  # the weights-only unpickler's own reason: "Unsupported global: GLOBAL io.open ..."
        return found[0].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else repr(exc)
