"""``rnncalc check`` on a class: many answers files, points and partial credit from the grader,
jsonl, the CSV gradebook, Gradescope's results.json and the class summary.

The reference numbers are the seed's RNN (h_0 = [0.9866, 0.9051], ...; ../shared/seed/README.md)
or worked here with math; points are counted by hand from the policy."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from tests.conftest import CONFIGS

RNN = CONFIGS / "rnn_regression.yaml"
W_IH, W_HH, X = [[-1, 0, 0.5], [1, 0, -0.5]], [[0, -1], [0, -1]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def rnn_step(x: list[float], h: list[float]) -> list[float]:
    """The seed's RNN step worked in plain math (b_ih = b_hh = 1)."""
    return [math.tanh(sum(w * v for w, v in zip(W_IH[j], x, strict=True)) + 1
                      + sum(w * v for w, v in zip(W_HH[j], h, strict=True)) + 1) for j in range(2)]


def steps_text(*rows: str, student: str | None = None) -> str:
    head = f"student: {student}\n" if student else ""
    return head + "layers: [{layer: 0, directions: {forward: [" + ", ".join(rows) + "]}}]\n"


RIGHT = steps_text("{t: 0, h: [0.9866, 0.9051]}", "{t: 1, h: [0.0946, 0.9702]}",
                   "{t: 2, h: [-0.8996, 0.9983]}", student="ann")


def carried_text() -> str:
    """h_0[1] wrong (0.8000), and h_1 what the student's own h_0 gives: a carried error."""
    h1 = rnn_step(X[1], [0.9866, 0.8])
    assert round(h1[1], 4) != 0.9702  # it does differ from the right answer
    return steps_text("{t: 0, h: [0.9866, 0.8000]}", f"{{t: 1, h: [{h1[0]:.4f}, {h1[1]:.4f}]}}",
                      student="bob")


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    (tmp_path / "a_ann.yaml").write_text(RIGHT)
    (tmp_path / "b_bob.yaml").write_text(carried_text())
    (tmp_path / "c_bad.yaml").write_text(steps_text("{t: 7, h: [1]}"))
    return tmp_path


def records(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_seed_step_is_the_seeds():
    assert [round(v, 4) for v in rnn_step(X[0], [0, 0])] == [0.9866, 0.9051]


def test_jsonl_one_record_per_file_in_order_and_the_highest_exit_code(cli, klass):
    files = [str(klass / "c_bad.yaml"), str(klass / "a_ann.yaml"), str(klass / "b_bob.yaml")]
    result = cli("check", str(RNN), *files, "--format", "jsonl")
    assert result.exit_code == 3, result.stderr
    bad, ann, bob = records(result)
    assert [r["answers"] for r in (bad, ann, bob)] == files
    assert bad["exit_code"] == 3 and "no t 7" in bad["error"] and bad["line"] == 1
    # 6 pre + 6 h + y + 3 y_t = 16 numbers asked at 1 point; ann answered the 6 h, all right
    assert (ann["score"], ann["max_score"], ann["right"], ann["wrong"], ann["missing"]) == \
        (6, 16, 6, 0, 10)
    assert ann["student"] == "ann" and ann["exit_code"] == 0
    assert {i["name"]: i["mark"] for i in bob["items"]} == {
        "h_0[0]": "right", "h_0[1]": "wrong", "h_1[0]": "carried", "h_1[1]": "carried"}
    # carried gets full credit by default: 3 of the 4 answered
    assert (bob["score"], bob["carried"], bob["wrong"], bob["exit_code"]) == (3, 2, 1, 1)
    assert [i["score"] for i in bob["items"]] == [1, 0, 1, 1]


def test_a_folder_and_a_glob_are_its_yaml_files_sorted(cli, klass):
    by_folder = records(cli("check", str(RNN), str(klass), "-f", "jsonl"))
    by_glob = records(cli("check", str(RNN), str(klass / "*_*.yaml"), "-f", "jsonl"))
    names = [Path(r["answers"]).name for r in by_folder]
    assert names == ["a_ann.yaml", "b_bob.yaml", "c_bad.yaml"]
    assert [Path(r["answers"]).name for r in by_glob] == names


@pytest.mark.parametrize(("options", "bob"), [
    (("--carried", "half"), 2.0),  # 1 + 0 + 0.5 + 0.5
    (("--carried", "none"), 1),
    (("--points", "h:2", "--carried", "none"), 2),
    (("--points", "t=1:3", "--points", "t=0:0"), 6),  # h_0 is worth nothing, h_1 3 each
    (("--points", "t=1,h:5", "--points", "t=1:3"), 11),  # the more specific wins: 1 + 0 + 5 + 5
])
def test_points_and_carried_credit_from_the_command_line(cli, klass, options, bob):
    result = cli("check", str(RNN), str(klass / "b_bob.yaml"), "-f", "jsonl", *options)
    assert records(result)[0]["score"] == bob


def test_points_from_the_configs_grading_section(cli, klass, tmp_path):
    config = tmp_path / "graded.yaml"
    config.write_text(RNN.read_text() + "grading:\n  points: {default: 2, pre: 0}\n"
                      "  carried: half\n")
    rec = records(cli("check", str(config), str(klass / "b_bob.yaml"), "-f", "jsonl"))[0]
    # h (6 numbers) and y (4) at 2 points, pre at 0: 20; bob: 2 + 0 + 1 + 1
    assert (rec["score"], rec["max_score"]) == (4, 20)
    # the command line over the config: carried full
    rec = records(cli("check", str(config), str(klass / "b_bob.yaml"), "-f", "jsonl",
                      "--carried", "full"))[0]
    assert rec["score"] == 6


@pytest.mark.parametrize(("section", "message"), [
    ("grading: {carried: most}\n", "grading.carried: expected one of full, half, none"),
    ("grading: {points: {'gate=': 1}}\n", "grading.points.gate=: expected a quantity"),
    ("grading: {points: -1}\n", "grading.points: expected a number of points >= 0"),
    ("grading: {colour: red}\n", "grading.colour: no such key"),
    ("grading: {round: 13}\n", "grading.round: expected a whole number of decimals"),
])
def test_a_bad_grading_section_is_located(cli, klass, tmp_path, section, message):
    config = tmp_path / "graded.yaml"
    text = RNN.read_text() + section
    config.write_text(text)
    result = cli("check", str(config), str(klass / "a_ann.yaml"))
    assert result.exit_code == 3
    assert result.stderr.strip() == f"{config}:{text.count(chr(10))}: {message}" \
        or result.stderr.startswith(f"{config}:{text.count(chr(10))}: {message}")


def test_bad_points_option_is_a_usage_error(cli, klass):
    result = cli("check", str(RNN), str(klass / "a_ann.yaml"), "--points", "h:many")
    assert result.exit_code == 2 and "--points" in result.stderr


def test_the_students_tolerance_is_ignored(cli, tmp_path):
    """A file that says tolerance: 1 does not make 0.5 right for 0.9866."""
    answers = tmp_path / "a.yaml"
    answers.write_text("tolerance: 1\n" + steps_text("{t: 0, h: [0.5]}"))
    rec = records(cli("check", str(RNN), str(answers), "-f", "jsonl"))[0]
    assert rec["wrong"] == 1 and rec["score"] == 0


def test_csv_gradebook_one_row_per_student(cli, klass):
    result = cli("check", str(RNN), str(klass), "--format", "csv", "--carried", "half")
    assert result.exit_code == 3
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["student"] for r in rows] == ["ann", "bob", ""]
    assert (rows[0]["score"], rows[0]["max_score"]) == ("6", "16")
    assert (rows[1]["score"], rows[1]["carried"], rows[1]["wrong"]) == ("2", "2", "1")
    assert "no t 7" in rows[2]["error"]


def test_gradescope_results_json(cli, klass):
    result = cli("check", str(RNN), str(klass / "b_bob.yaml"), "--format", "gradescope",
                 "--points", "pre:0", "--points", "y:0")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["score"] == 3
    tests = {t["name"]: t for t in doc["tests"]}
    assert set(tests) == {f"h_{t}[{j}]" for t in range(3) for j in (0, 1)}  # pre, y: 0 points
    assert all(set(t) == {"name", "score", "max_score", "output", "visibility"}
               for t in doc["tests"])
    assert tests["h_0[1]"]["score"] == 0 and "expected 0.9051" in tests["h_0[1]"]["output"]
    assert tests["h_2[0]"]["output"] == "not answered"
    assert sum(t["max_score"] for t in doc["tests"]) == 6


def test_gradescope_and_json_take_one_file(cli, klass):
    result = cli("check", str(RNN), str(klass), "--format", "gradescope")
    assert result.exit_code == 2


def test_class_summary_table(cli, klass):
    result = cli("check", str(RNN), str(klass))
    assert result.exit_code == 3
    out = result.stdout
    assert "2 marked, 1 not" in out and "min 3, median 4.5, mean 4.5, max 6" in out
    # the quantities the class got wrong, most first: bob's h_0[1] new, h_1 carried
    tail = out.split("Where the class went wrong")[1].splitlines()[2:]
    assert [line.split()[:3] for line in tail] == [
        ["h_0[1]", "1", "0"], ["h_1[0]", "0", "1"], ["h_1[1]", "0", "1"]]
    assert "no t 7" in result.stderr


def test_the_exercise_is_computed_once_for_many_files(cli, klass, monkeypatch):
    import rnncalc.engine

    calls = []
    real = rnncalc.engine.run
    def counted(ex, round_to=None):
        calls.append(round_to)
        return real(ex, round_to=round_to)

    monkeypatch.setattr(rnncalc.engine, "run", counted)
    files = [str(klass / "a_ann.yaml")] * 20
    result = cli("check", str(RNN), *files, "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(records(result)) == 20
    assert calls == [None]  # right answers need no other run: the exact one, once
