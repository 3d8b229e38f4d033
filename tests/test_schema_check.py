"""The ahead-compiled schema checker is the one SCHEMA compiles to, and schema.json is SCHEMA
(regenerate both if this fails: ``python -m rnncalc.config.schema``)."""

from __future__ import annotations

import copy
from decimal import Decimal

import fastjsonschema
import pytest

from rnncalc import scaffold
from rnncalc.config import _schema_check
from rnncalc.config._schema_runtime import JsonSchemaValuesException
from rnncalc.config.schema import (
    _GENERATED,
    SCHEMA,
    SCHEMA_FILE,
    checker_source,
    schema_text,
)


def test_generated_checker_is_current():
    assert _GENERATED.read_text() == checker_source()


def test_schema_json_is_current():
    assert SCHEMA_FILE.read_text() == schema_text()
    assert scaffold.schema_json() == schema_text()  # the file rnncalc init and schema read


@pytest.fixture(scope="module")
def compiled():
    return fastjsonschema.compile(SCHEMA, use_default=False, fast_fail=False)


BAD = [
    [],
    {"inputs": [[1]]},
    {"inputs": [[1]], "weights": {}, "wieghts": {}},
    {"inputs": [[1]], "weights": {}, "cell": "lstmm"},
    {"inputs": [["a"]], "weights": {}},
    {"inputs": [], "weights": {}},
    {"inputs": [[1]], "weights": {}, "hidden_size": 0},
    {"inputs": [[1]], "weights": {"W_ih": "x"}},
    {"inputs": [[1]], "weights": {}, "head": {"task": "regression"}},
    {"inputs": [[1]], "weights": {}, "activations": {"gate": {"name": "relu", "alpha": True}}},
    # the checker's Decimal stands in for decimal.Decimal (a dict given to rnncalc.load)
    {"inputs": [[1]], "weights": {}, "clip": Decimal("-1")},
    {"inputs": [[Decimal("1.5")]], "weights": {}, "hidden_size": Decimal("2")},
]


@pytest.mark.parametrize("data", BAD)
def test_checker_errors_say_what_fastjsonschemas_say(compiled, data):
    """The generated checker raises rnncalc's copy of fastjsonschema's exception (so that checking
    a config imports no fastjsonschema), with every error, each with everything fastjsonschema's
    would carry."""
    with pytest.raises(fastjsonschema.JsonSchemaValuesException) as theirs:
        compiled(copy.deepcopy(data))
    with pytest.raises(JsonSchemaValuesException) as ours:
        _schema_check.validate(copy.deepcopy(data))
    assert len(ours.value.errors) == len(theirs.value.errors) >= 1
    for mine, its in zip(ours.value.errors, theirs.value.errors, strict=True):
        for attr in ("message", "value", "name", "path", "definition", "rule", "rule_definition"):
            assert getattr(mine, attr) == getattr(its, attr), attr
        assert str(mine) == str(its)
        assert isinstance(mine, ValueError)
    assert str(ours.value) == str(theirs.value)


def test_checker_takes_decimals_as_fastjsonschemas_does(compiled):
    data = {"inputs": [[Decimal("1.5")]], "weights": {"W_ih": [[Decimal(1)]]},
            "clip": Decimal("0.5"), "head": {"task": "regression", "W": [[1]], "b": Decimal(0)}}
    compiled(copy.deepcopy(data))
    _schema_check.validate(copy.deepcopy(data))
