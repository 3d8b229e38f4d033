"""The ahead-compiled schema checker is the one SCHEMA compiles to, and schema.json is SCHEMA
(regenerate both if this fails: ``python -m rnncalc.config.schema``)."""

from __future__ import annotations

from rnncalc import scaffold
from rnncalc.config.schema import _GENERATED, SCHEMA_FILE, checker_source, schema_text


def test_generated_checker_is_current():
    assert _GENERATED.read_text() == checker_source()


def test_schema_json_is_current():
    assert SCHEMA_FILE.read_text() == schema_text()
    assert scaffold.schema_json() == schema_text()  # the file rnncalc init and schema read
