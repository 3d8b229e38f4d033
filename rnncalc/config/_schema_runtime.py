"""What the generated checker (``_schema_check.py``) imports, without fastjsonschema or decimal.

fastjsonschema's exceptions, with the same names, attributes and messages as in
``fastjsonschema.exceptions``: importing those imports the ``fastjsonschema`` package, that is its
whole schema compiler and ``json`` (~8 ms of every ``rnncalc validate``), for two small classes.

And :class:`Decimal`, for the checker's ``isinstance(value, (int, float, Decimal))``: importing
decimal costs ~4 ms, while a value can only be a ``decimal.Decimal`` once decimal is imported.

The checker is compiled ahead precisely so that validating needs none of that
(:func:`rnncalc.config.schema.checker_source`).
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["Decimal", "JsonSchemaValueException", "JsonSchemaValuesException"]

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
    """Every error at once: what our checker raises (generated with ``fast_fail=False``: a
    config's every problem is reported, not the first)."""

    def __init__(self, errors: list[JsonSchemaValueException]) -> None:
        self.message = "; ".join(error.message for error in errors)
        super().__init__(self.message)
        self.errors = errors


class _DecimalType(type):
    def __instancecheck__(cls, value: Any) -> bool:
        decimal = sys.modules.get("decimal")
        return decimal is not None and isinstance(value, decimal.Decimal)


class Decimal(metaclass=_DecimalType):
    """``isinstance(value, Decimal)`` is ``isinstance(value, decimal.Decimal)``, decimal unimported
    until something else imports it (and with it, the first Decimal)."""
