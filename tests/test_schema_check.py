"""The ahead-compiled schema checker is the one SCHEMA compiles to (regenerate it if this fails:
``python -m rnncalc.config.schema``)."""

from __future__ import annotations

from rnncalc.config.schema import _GENERATED, checker_source


def test_generated_checker_is_current():
    assert _GENERATED.read_text() == checker_source()
