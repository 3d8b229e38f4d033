"""The ahead-compiled schema checker is the one SCHEMA compiles to, and schema.json is SCHEMA
(regenerate both if this fails: ``python -m rnncalc.config.schema``)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import config, scaffold
from rnncalc.config import _schema_check, schema
from rnncalc.config._schema_runtime import JsonSchemaValuesException
from rnncalc.config.schema import (
    _GENERATED,
    SCHEMA,
    SCHEMA_FILE,
    checker_source,
    schema_text,
    surely_fits,
)
from rnncalc.config.yamlsafe import Huge, load_yaml

ROOT = Path(__file__).resolve().parent.parent


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


# --- surely_fits: the usual config checked without the generated checker, never more leniently

_CONFIGS = sorted((ROOT / "configs").rglob("*.yaml")) + sorted(
    (ROOT / "rnncalc" / "exercises").glob("*.yaml"))


def _data(path):
    return load_yaml(path.read_text(), str(path)).data


def _passes(data) -> bool:
    try:
        _schema_check.validate(copy.deepcopy(data))
    except JsonSchemaValuesException:
        return False
    return True


@pytest.mark.parametrize("path", _CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_checked_without_the_generated_checker(path, monkeypatch):
    def generated(data):
        raise AssertionError(f"the generated checker was asked about {path.name}")

    monkeypatch.setattr(schema, "_errors", generated)
    config.check(config.read_document(path), path.parent)


def _names(schema, out):
    """Every property name and enum value SCHEMA mentions: keys and strings to draw."""
    if isinstance(schema, dict):
        out.update(schema.get("properties", {}))
        out.update(v for v in schema.get("enum", ()) if isinstance(v, str))
        for sub in schema.values():
            _names(sub, out)
    elif isinstance(schema, list):
        for sub in schema:
            _names(sub, out)
    return out


_WORDS = st.sampled_from(sorted(_names(SCHEMA, {"name", "alpha", "beta", "W_ih", "x", ""})))
_SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | _WORDS
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_WORDS, inner, max_size=4), max_leaves=12)


def _places(data, path=()):
    """Every path into ``data``: where a value may be replaced or a key added."""
    yield path
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        yield from _places(value, (*path, key))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CONFIGS), st.data())
def test_surely_fits_only_what_the_checker_passes(path, draw):
    """A config changed at one place (a key set, a value replaced, a key added, an item
    dropped), or anything at all: what surely_fits takes, the generated checker passes."""
    data = _data(path)
    place = draw.draw(st.sampled_from(list(_places(data))))
    parent = data
    for key in place[:-1]:
        parent = parent[key]
    how = draw.draw(st.sampled_from(["set", "replace", "add", "drop"]))
    if how == "set":  # a config key, to anything
        data[draw.draw(st.sampled_from(sorted(SCHEMA["properties"])))] = draw.draw(
            st.integers(-2, 2) | st.floats(-1, 1) | _VALUES)
    elif place and how == "replace":
        parent[place[-1]] = draw.draw(_VALUES)
    elif how == "add":
        target = parent[place[-1]] if place else parent
        if isinstance(target, dict):
            target[draw.draw(_WORDS)] = draw.draw(_VALUES)
        elif isinstance(target, list):
            target.append(draw.draw(_VALUES))
    elif place:
        parent.pop(place[-1])
    for value in (data, draw.draw(_VALUES)):
        if surely_fits(value, SCHEMA):
            assert _passes(value), value


@pytest.mark.parametrize(("value", "schema"), [
    (True, {"type": "number"}), (2.0, {"type": "integer"}), (Huge("9" * 400), {"type": "number"}),
    (1, {"maximum": 0}), ((1, 2), {"type": "array"}),
    ({"a": 1}, {"oneOf": [{"required": ["a"]}, {"type": "string"}]}),
])
def test_in_doubt_surely_fits_leaves_it_to_the_checker(value, schema):
    """A keyword it does not know, a number of another type: left to the generated checker."""
    assert not surely_fits(value, schema)
