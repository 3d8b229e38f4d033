"""One error class for everything a user can get wrong, and the exit codes the CLI maps them to."""

from __future__ import annotations

import math
from enum import IntEnum

__all__ = [
    "MAX_MESSAGE", "MAX_PROBLEMS", "ConfigError", "ConfigProblems", "ExitCode", "RnncalcError",
    "Terminated", "listed", "one_line", "shown",
]

#: The longest message printed, in characters: a line of a terminal or two, never a screenful.
MAX_MESSAGE = 300
#: The most problems of one config printed, one line each; the rest are counted.
MAX_PROBLEMS = 20


class ExitCode(IntEnum):
    """Exit codes of the ``rnncalc`` command; README lists them and scripts may rely on them."""

    OK = 0
    WRONG_ANSWERS = 1  # `rnncalc check`: the answers were read and some are wrong
    USAGE = 2  # command-line usage (click's own code for a bad option)
    INVALID_INPUT = 3  # a config, an answers file or an input that cannot be used
    INTERNAL = 4  # a bug in rnncalc: rerun with --traceback and report it
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as a shell reports it
    TERMINATED = 143  # SIGTERM: 128 + 15


class RnncalcError(Exception):
    """Base of every error rnncalc reports to a user as one line."""

    exit_code = ExitCode.INVALID_INPUT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it ends as Ctrl-C does (workers ended, files
    whole) but with its own exit code, 143."""


class ConfigError(RnncalcError):
    """Something in a config is wrong: where (file, line, field path) and what was expected.

    >>> str(ConfigError("expected shape [2, 2], got [2, 3]", source="lstm.yaml", line=12,
    ...                 path="weights.W_hf"))
    'lstm.yaml:12: weights.W_hf: expected shape [2, 2], got [2, 3]'
    """

    def __init__(
        self, message: str, *, source: str | None = None, line: int | None = None, path: str = "",
        absent: bool = False,
    ) -> None:
        self.message, self.source, self.line, self.path = message, source, line, path
        self.absent = absent  # about a key not written: less specific than one written wrong
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(text)


class ConfigProblems(ConfigError):
    """Every problem found in a config, as a compiler lists them: one line each, the problems
    with a value written (in the order of their lines) before the keys not written at all, each
    once, at most :data:`MAX_PROBLEMS` lines and then how many more. Its ``message``,
    ``line`` and ``path`` are the first problem's.

    >>> print(ConfigProblems([ConfigError("missing required key 'inputs'", source="a.yaml",
    ...                                   path="inputs", absent=True),
    ...                       ConfigError("expected at least 1, got -2", source="a.yaml", line=2,
    ...                                   path="hidden_size")]))
    a.yaml:2: hidden_size: expected at least 1, got -2
    a.yaml: inputs: missing required key 'inputs'
    """

    def __init__(self, problems: list[ConfigError]) -> None:
        flat = [p for problem in problems
                for p in (problem.problems if isinstance(problem, ConfigProblems) else [problem])]
        order = sorted(range(len(flat)), key=lambda i: (
            flat[i].absent, flat[i].line if flat[i].line is not None else 1 << 62, i))
        seen: set[str] = set()
        self.problems: list[ConfigError] = []
        for i in order:
            line = ConfigError.__str__(flat[i])
            if line not in seen:  # found twice (by the schema, then by the shapes): said once
                seen.add(line)
                self.problems.append(flat[i])
        first = self.problems[0]
        super().__init__(first.message, source=first.source, line=first.line, path=first.path,
                         absent=first.absent)

    def __str__(self) -> str:
        lines = [ConfigError.__str__(p) for p in self.problems[:MAX_PROBLEMS]]
        more = len(self.problems) - MAX_PROBLEMS
        if more > 0:
            lines.append(f"{self.source or '<config>'}: and {more:,} more problems")
        return "\n".join(lines)


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (a YAML key may hold a line break), and cut
    to :data:`MAX_MESSAGE` characters: an error stays one short line. ``one_line("a\nb") ==
    "a\\nb"``."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) <= MAX_MESSAGE:
        return text
    tail = f" ... ({len(text):,} characters)"
    return text[: MAX_MESSAGE - len(tail)] + tail


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` for a message, elided past ``limit`` characters with its length given: a
    long key, label or number is never echoed whole (and an int of 5,000 digits, which Python
    will not even write out, is described).

    >>> shown("k" * 1000, 10)
    "'kkkkkk... (1,000 characters)"
    >>> shown(10**400)
    'a 401-digit number'
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        digits = len(str(abs(value))) if abs(value).bit_length() < 10_000 else \
            int(math.log10(abs(value))) + 1
        return f"{'a negative' if value < 0 else 'a'} {digits:,}-digit number"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[: max(limit - 4, 1)])[:-1] + f"... ({len(value):,} characters)"
    text = repr(value)
    if len(text) <= limit:
        return text
    return text[: max(limit - 4, 1)] + f"... ({len(text):,} characters)"


def listed(items: list[str], budget: int = 120) -> str:
    """``items`` joined with commas until ``budget`` characters, then how many more: a message
    names a few of many and counts the rest.

    >>> listed([f"k{i}" for i in range(90_000)], 20)
    'k0, k1, k2, k3, k4 and 89,995 more'
    """
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        if out and used + len(item) + 2 > budget:
            return ", ".join(out) + f" and {len(items) - i:,} more"
        out.append(item)
        used += len(item) + 2
    return ", ".join(out)
