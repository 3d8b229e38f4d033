"""The errors the generated checker (``_schema_check.py``) raises: fastjsonschema's, defined here.

The same names, attributes and messages as ``fastjsonschema.exceptions``. Importing those imports
the ``fastjsonschema`` package, that is its whole schema compiler and ``json`` (~8 ms of every
``rnncalc validate``), for two small classes; the checker is compiled ahead precisely so that
validating needs none of it (:func:`rnncalc.config.schema.checker_source`).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["JsonSchemaValueException", "JsonSchemaValuesException"]

_SPLIT = re.compile(r"[\.\[\]]+")


class JsonSchemaValueException(ValueError):
    """A value that breaks the schema: the ``message``, the ``value``, its ``name``
    (``data.head.W[0]``) and ``path`` (``["data", "head", "W", "0"]``), the ``definition`` it
    breaks, the ``rule`` (``"type"``) and that rule's ``rule_definition``."""

    def __init__(self, message: str, value: Any = None, name: str | None = None,
                 definition: Any = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.definition = definition
        self.rule = rule

    @property
    def path(self) -> list[str]:
        return [item for item in _SPLIT.split(self.name or "") if item != ""]

    @property
    def rule_definition(self) -> Any:
        if not self.rule or not self.definition:
            return None
        return self.definition.get(self.rule)


class JsonSchemaValuesException(ValueError):
    """Every error at once: raised only by a checker generated with ``fast_fail=False`` (ours
    stops at the first), but imported by every checker."""

    def __init__(self, errors: list[JsonSchemaValueException]) -> None:
        self.message = "; ".join(error.message for error in errors)
        super().__init__(self.message)
        self.errors = errors
