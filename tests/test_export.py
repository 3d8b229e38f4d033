"""``rnncalc export``: Moodle GIFT, Moodle XML and a PrairieLearn question folder. Each parses
(GIFT by a strict reading of its numerical-question syntax written here, XML by the standard
library's parser, PrairieLearn's info.json against the rules of its infoQuestion schema, restated
here), and every number in it is the trace's (the seed's h_t checked against torch.nn.RNN too)."""

from __future__ import annotations

import json
import re
import runpy
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import torch

import rnncalc
from rnncalc.answers import lookup
from tests.conftest import CONFIGS

RNN = CONFIGS / "rnn_regression.yaml"
GRAD = CONFIGS / "rnn_grad.yaml"


def truth(config: Path, grad: bool = False) -> dict:
    trace = rnncalc.run(rnncalc.load(str(config)))
    doc = trace.to_dict()
    if grad:
        from rnncalc.bptt import backprop

        doc["grad"] = backprop(trace).to_dict()
    return doc


def path_key(path: str) -> tuple:
    """``layers[layer=0].directions.forward[t=1].h[0]`` -> the answers key."""
    key: list = []
    for quoted, name, index in re.findall(r'\["([^"]+)"\]|([^.\[\]]+)|\[([^\]]+)\]', path):
        key.append(quoted or name or (int(index) if index.isdigit() else index))
    return tuple(key)


def seed_rnn() -> tuple[torch.nn.RNN, torch.Tensor]:
    """The seed's RNN (../shared/seed/README.md) as torch.nn.RNN, and its output."""
    rnn = torch.nn.RNN(3, 2, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor([[-1, 0, 0.5], [1, 0, -0.5]]))
        rnn.weight_hh_l0.copy_(torch.tensor([[0, -1], [0, -1]]))
        rnn.bias_ih_l0.fill_(1)
        rnn.bias_hh_l0.fill_(1)
    out, _ = rnn(torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=torch.float64))
    return rnn, out


def seed_h() -> list[list[float]]:
    return seed_rnn()[1].tolist()


# ----------------------------------------------------------------------------- GIFT

GIFT_SPECIAL = set("~=#{}:")


def unescaped(text: str) -> str:
    """GIFT text with its escapes undone; an unescaped special character is an error."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            out.append(text[i + 1])
            i += 2
            continue
        assert text[i] not in GIFT_SPECIAL, f"unescaped {text[i]!r} in {text!r}"
        out.append(text[i])
        i += 1
    return "".join(out)


def parse_gift(text: str) -> list[dict]:
    """Questions of a GIFT file of numerical questions: {title, text, value, tolerance, path}."""
    questions, path = [], None
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        body = [ln for ln in lines if not ln.startswith("//")]
        comments = [ln[2:].strip() for ln in lines if ln.startswith("//")]
        if body and body[0].startswith("$CATEGORY:"):
            continue
        if not body:
            continue
        assert len(body) == 1, block
        m = re.fullmatch(r"::((?:\\.|[^:\\])*)::(\[html\])?((?:\\.|[^{\\])*)"
                         r"\{#([-+0-9.eE]+):([0-9.eE+-]+)\}", body[0])
        assert m, body[0]
        path = comments[-1].split()[0]
        questions.append({"title": unescaped(m.group(1)), "text": unescaped(m.group(3)),
                          "value": float(m.group(4)), "tolerance": float(m.group(5)),
                          "path": path})
    return questions


def test_gift_parses_and_every_number_is_the_traces(cli):
    result = cli("export", str(RNN), "--to", "gift")
    assert result.exit_code == 0, result.stderr
    qs = parse_gift(result.stdout)
    doc = truth(RNN)
    # asked: pre and h at 3 steps x 2 units, y, and y_t at 3 steps
    assert len(qs) == 12 + 1 + 3
    for q in qs:
        assert q["value"] == lookup(doc, path_key(q["path"])), q
        assert q["tolerance"] == 5e-05 and "= ? (to 4 decimals)" in q["text"]
    h = {q["title"]: q["value"] for q in qs if q["title"].startswith("h_")}
    for t, row in enumerate(seed_h()):
        for j, v in enumerate(row):
            assert h[f"h_{t}[{j}]"] == pytest.approx(v, abs=1e-12)


# ----------------------------------------------------------------------------- Moodle XML


def test_moodle_xml_parses_and_every_number_is_the_traces(cli, tmp_path):
    out = tmp_path / "quiz.xml"
    result = cli("export", str(GRAD), "--to", "moodle-xml", "--grad", "--decimals", "3",
                 "-o", str(out))
    assert result.exit_code == 0, result.stderr
    root = ET.parse(out).getroot()
    assert root.tag == "quiz"
    questions = root.findall("question")
    assert questions[0].get("type") == "category"
    numerical = [q for q in questions if q.get("type") == "numerical"]
    assert len(numerical) == len(questions) - 1 > 50
    doc = truth(GRAD, grad=True)
    for q in numerical:
        assert q.findtext("name/text") and "(to 3 decimals)" in q.findtext("questiontext/text")
        answer = q.find("answer")
        assert answer.get("fraction") == "100"
        assert float(answer.findtext("tolerance")) == 0.0005
        assert float(answer.findtext("text")) == lookup(doc, path_key(q.findtext("idnumber")))
    names = [q.findtext("name/text") for q in numerical]
    assert "loss" in names and "weight_hh_l0[0,1]" in names


def test_the_configs_points_and_tolerance_are_the_questions(cli, tmp_path):
    config = tmp_path / "graded.yaml"
    config.write_text(RNN.read_text() + "grading: {points: {pre: 0, h: 2}, tolerance: 0.001}\n")
    root = ET.fromstring(cli("export", str(config), "--to", "moodle-xml").stdout)
    numerical = root.findall("question[@type='numerical']")
    assert not any(q.findtext("name/text").startswith("pre ") for q in numerical)
    grades = {q.findtext("name/text"): q.findtext("defaultgrade") for q in numerical}
    assert grades["h_0[0]"] == "2" and grades["y[0]"] == "1"
    assert {q.findtext("answer/tolerance") for q in numerical} == {"0.001"}


# ----------------------------------------------------------------------------- PrairieLearn

#: The rules of PrairieLearn's infoQuestion schema that a question folder meets, restated.
INFO_QUESTION = {
    "type": "object",
    "required": ["uuid", "type", "title", "topic"],
    "additionalProperties": False,
    "properties": {
        "uuid": {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                 "[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "type": {"enum": ["Calculation", "MultipleChoice", "Checkbox", "File",
                          "MultipleTrueFalse", "v3"]},
        "title": {"type": "string"}, "topic": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "singleVariant": {"type": "boolean"}, "partialCredit": {"type": "boolean"},
        "showCorrectAnswer": {"type": "boolean"},
    },
}


class Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        if tag == "pl-number-input":
            self.inputs.append(dict(attrs))

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()


def test_prairielearn_folder(cli, tmp_path):
    out = tmp_path / "q"
    result = cli("export", str(GRAD), "--to", "prairielearn", "--grad", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["info.json", "question.html", "server.py"]
    info = json.loads((out / "info.json").read_text())
    jsonschema.validate(info, INFO_QUESTION)
    assert info["type"] == "v3"
    # the same exercise, the same uuid
    again = tmp_path / "again"
    cli("export", str(GRAD), "--to", "prairielearn", "--grad", "-o", str(again))
    assert json.loads((again / "info.json").read_text())["uuid"] == info["uuid"]

    parser = Inputs()
    parser.feed((out / "question.html").read_text())
    assert parser.open == []
    names = [i["answers-name"] for i in parser.inputs]
    assert len(names) == len(set(names)) > 50
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names)
    assert all(i["comparison"] == "relabs" and float(i["atol"]) == 5e-05 for i in parser.inputs)

    server_text = (out / "server.py").read_text()
    assert "import" not in server_text  # the platform's grader has no torch, no rnncalc
    server = runpy.run_path(str(out / "server.py"))
    data: dict = {"correct_answers": {}}
    server["generate"](data)
    assert set(data["correct_answers"]) == set(names)
    doc = truth(GRAD, grad=True)
    for name, _, path, value in server["QUANTITIES"]:
        assert data["correct_answers"][name] == value == lookup(doc, path_key(path))


def test_prairielearn_needs_a_folder(cli):
    assert cli("export", str(RNN), "--to", "prairielearn").exit_code == 2


# ----------------------------------------------------------------------------- Canvas QTI

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


def qti_fields(node) -> dict[str, str]:
    return {f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
            for f in node.iter(f"{QTI}qtimetadatafield")}


def test_qti_package_parses_and_every_number_is_the_traces(cli, tmp_path):
    import zipfile

    out = tmp_path / "quiz.zip"
    result = cli("export", str(GRAD), "--to", "qti", "--grad", "--decimals", "3",
                 "-o", str(out))
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(out) as z:
        files = {name: z.read(name) for name in z.namelist()}
    manifest = ET.fromstring(files.pop("imsmanifest.xml"))
    assert manifest.tag == f"{CP}manifest"
    (resource,) = manifest.iter(f"{CP}resource")
    assert resource.get("type") == "imsqti_xmlv1p2"
    href = resource.find(f"{CP}file").get("href")
    assert list(files) == [href]  # the manifest names the one assessment, and nothing else
    root = ET.fromstring(files[href])
    assert root.tag == f"{QTI}questestinterop"
    items = list(root.iter(f"{QTI}item"))
    assert len(items) == len({i.get("ident") for i in items}) > 50
    doc = truth(GRAD, grad=True)
    for item in items:
        fields = qti_fields(item.find(f"{QTI}itemmetadata"))
        assert fields["question_type"] == "numerical_question"
        assert fields["points_possible"] == "1"
        assert "(to 3 decimals)" in item.findtext(f".//{QTI}mattext")
        value = lookup(doc, path_key(fields["rnncalc_path"]))
        condition = item.find(f".//{QTI}respcondition/{QTI}conditionvar/{QTI}or")
        assert float(condition.findtext(f"{QTI}varequal")) == value, fields
        low = float(condition.findtext(f"{QTI}and/{QTI}vargte"))
        high = float(condition.findtext(f"{QTI}and/{QTI}varlte"))
        assert low == pytest.approx(value - 0.0005, abs=1e-15)
        assert high == pytest.approx(value + 0.0005, abs=1e-15)
    names = [i.get("title") for i in items]
    assert "loss" in names and "weight_hh_l0[0,1]" in names
    # the same exercise, the same package, byte for byte
    again = tmp_path / "again.zip"
    cli("export", str(GRAD), "--to", "qti", "--grad", "--decimals", "3", "-o", str(again))
    assert again.read_bytes() == out.read_bytes()


def test_qti_needs_a_file(cli):
    assert cli("export", str(RNN), "--to", "qti").exit_code == 2
