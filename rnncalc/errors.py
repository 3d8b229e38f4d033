"""One error class for everything a user can get wrong, and the exit codes the CLI maps them to."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ConfigError", "ExitCode", "RnncalcError", "one_line"]


class ExitCode(IntEnum):
    """Exit codes of the ``rnncalc`` command; README lists them and scripts may rely on them."""

    OK = 0
    WRONG_ANSWERS = 1  # `rnncalc check`: the answers were read and some are wrong
    USAGE = 2  # command-line usage (click's own code for a bad option)
    INVALID_INPUT = 3  # a config, an answers file or an input that cannot be used
    INTERNAL = 4  # a bug in rnncalc: rerun with --traceback and report it


class RnncalcError(Exception):
    """Base of every error rnncalc reports to a user as one line."""

    exit_code = ExitCode.INVALID_INPUT


class ConfigError(RnncalcError):
    """Something in a config is wrong: where (file, line, field path) and what was expected.

    >>> str(ConfigError("expected shape [2, 2], got [2, 3]", source="lstm.yaml", line=12,
    ...                 path="weights.W_hf"))
    'lstm.yaml:12: weights.W_hf: expected shape [2, 2], got [2, 3]'
    """

    def __init__(
        self, message: str, *, source: str | None = None, line: int | None = None, path: str = ""
    ) -> None:
        self.message, self.source, self.line, self.path = message, source, line, path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (a YAML key may hold a line break): an error
    stays one line. ``one_line("a\nb") == "a\\nb"``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
