"""A variant of an exercise per student: the same kind of exercise, each student's own numbers.

A student's numbers come from :func:`variant_seed` of the exercise's seed and the student's id, a
SHA-256 (not Python's ``hash()``, which changes from run to run), so the same seed and id give the
same exercise on any machine, in any order of the roster:

>>> variant_seed(7, "s1234")
96382343809909
>>> variant_seed(7, "s1234") == variant_seed(7, "s1234") != variant_seed(7, "s1235")
True

``rnncalc exercise CELL --students roster.csv -d class/`` writes ``class/ID/``: the config
(``exercise.yaml``), the sheet, the key and a blank ``answers.yaml`` whose ``student: ID`` tells
``rnncalc check class/ ...`` which variant to mark each answers file against.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from rnncalc.errors import ConfigError, RnncalcError
from rnncalc.generate import Spec, write_exercise

__all__ = ["read_roster", "variant_seed", "write_variants"]

#: Roster columns that hold the student's id, tried in this order; else the first column.
ID_COLUMNS = ("id", "student_id", "student", "sis_id", "username", "email")


def variant_seed(seed: int, student: str) -> int:
    """The seed of ``student``'s variant: 48 bits of SHA-256 of ``"rnncalc:SEED:ID"``."""
    digest = hashlib.sha256(f"rnncalc:{seed}:{student}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV, in its order: the column named ``id`` (or student_id,
    student, sis_id, username, email; any case), else the first; a header row is required."""
    from rnncalc.grading import _safe_id

    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=name) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (offset {exc.start})", source=name) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(c.strip() for c in rows[0]):
        raise ConfigError("expected a header row (id,name,...) and one row per student, got an "
                          "empty file", source=name, line=1)
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(c) for c in ID_COLUMNS if c in header), 0)
    ids: list[str] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        student = row[column].strip() if column < len(row) else ""
        where = f"column {rows[0][column].strip() or column + 1}"
        if not _safe_id(student):
            raise ConfigError(f"{where}: expected a student id of letters, digits and ._@- "
                              f"(it names a folder), got {student!r}", source=name, line=line)
        if student in seen:
            raise ConfigError(f"{where}: student {student!r} given twice (lines {seen[student]} "
                              f"and {line})", source=name, line=line)
        seen[student] = line
        ids.append(student)
    if not ids:
        raise ConfigError("no students: the header row alone", source=name, line=1)
    return ids


def write_variants(spec: Spec, students: list[str], out_dir: Path, fmt: str = "markdown", *,
                   explain: bool = False) -> Iterator[Path]:
    """Write each student's config, sheet, key and blank answers into ``out_dir/ID/``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RnncalcError(f"{out_dir}: not a directory; --out-dir needs a directory")
    for student in students:
        own = replace(spec, seed=variant_seed(spec.seed, student))
        folder = out_dir / student
        yield from write_exercise(own, folder, fmt, explain=explain, student=student)
