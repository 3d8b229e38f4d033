"""``rnncalc exercise --students/--variants`` and ``check`` of a class where everyone had their
own numbers. Each student's expected answers are computed here with torch.nn.RNN from that
student's config; the variant seed with hashlib, as documented."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
import yaml


def write_class(cli, tmp_path: Path, roster: str, name: str = "class", *extra: str) -> Path:
    (tmp_path / "roster.csv").write_text(roster)
    out = tmp_path / name
    result = cli("exercise", "rnn", "--seed", "11", "--students", str(tmp_path / "roster.csv"),
                 "-d", str(out), *extra)
    assert result.exit_code == 0, result.stderr
    return out


def hidden_states(config: Path) -> list[list[float]]:
    """h_t of the config's RNN by torch.nn.RNN (per-gate weight names of rnncalc exercise)."""
    doc = yaml.safe_load(config.read_text())
    w = doc["weights"]
    rnn = torch.nn.RNN(len(doc["inputs"][0]), len(w["W_hh"]), dtype=torch.float64)
    with torch.no_grad():
        for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
            getattr(rnn, ("weight_" if name[0] == "W" else "bias_") + name[2:] + "_l0").copy_(
                torch.tensor(w[name], dtype=torch.float64))
        out, _ = rnn(torch.tensor(doc["inputs"], dtype=torch.float64))
    return out.tolist()


def answers_for(student: str, h: list[list[float]]) -> str:
    rows = ", ".join(f"{{t: {t}, h: [{', '.join(f'{v:.4f}' for v in row)}]}}"
                     for t, row in enumerate(h))
    return f"student: {student}\nlayers: [{{layer: 0, directions: {{forward: [{rows}]}}}}]\n"


def test_each_student_has_a_folder_with_config_sheet_key_and_blank_answers(cli, tmp_path):
    out = write_class(cli, tmp_path, "name,id\nAnn,s1\nBob,s2\n")
    for s in ("s1", "s2"):
        assert sorted(p.name for p in (out / s).iterdir()) == [
            "answers.yaml", "exercise.yaml", "key.md", "sheet.md"]
        assert yaml.safe_load((out / s / "answers.yaml").read_text())["student"] == s
        assert f"(student {s})" in (out / s / "exercise.yaml").read_text()
    assert hidden_states(out / "s1" / "exercise.yaml") != \
        hidden_states(out / "s2" / "exercise.yaml")


def test_numbers_from_the_seed_and_the_id_by_sha256(cli, tmp_path):
    out = write_class(cli, tmp_path, "id\ns1\n")
    seed = int.from_bytes(hashlib.sha256(b"rnncalc:11:s1").digest()[:6], "big")
    alone = cli("exercise", "rnn", "--seed", str(seed))
    assert alone.exit_code == 0
    mine = yaml.safe_load((out / "s1" / "exercise.yaml").read_text())
    theirs = yaml.safe_load(alone.stdout)
    assert {k: v for k, v in mine.items() if k != "title"} == \
        {k: v for k, v in theirs.items() if k != "title"}


def test_same_id_same_numbers_whatever_the_roster(cli, tmp_path):
    a = write_class(cli, tmp_path, "id\ns1\ns2\n", "a")
    b = write_class(cli, tmp_path, "id\nzed\ns2\n", "b")
    assert (a / "s2" / "exercise.yaml").read_bytes() == (b / "s2" / "exercise.yaml").read_bytes()
    assert (a / "s2" / "key.md").read_bytes() == (b / "s2" / "key.md").read_bytes()


def test_variants_n_are_ids_1_to_n(cli, tmp_path):
    result = cli("exercise", "gru", "--seed", "3", "--variants", "3", "-d", str(tmp_path / "v"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["1", "2", "3"]


def test_check_marks_each_file_against_its_own_variant(cli, tmp_path):
    out = write_class(cli, tmp_path, "id\ns1\ns2\ns3\n")
    subs = tmp_path / "subs"
    subs.mkdir()
    for s in ("s1", "s2"):
        (subs / f"{s}.yaml").write_text(answers_for(s, hidden_states(out / s / "exercise.yaml")))
    # s3 hands in s1's numbers under their own id: wrong for them
    (subs / "s3.yaml").write_text(answers_for("s3", hidden_states(out / "s1" / "exercise.yaml")))
    (subs / "x_anon.yaml").write_text("layers: []\n")
    (subs / "y_ghost.yaml").write_text("student: ghost\n")
    result = cli("check", str(out), str(subs), "-f", "jsonl", "--points", "pre:0")
    recs = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 3
    assert [(r.get("student"), r.get("score"), r.get("max_score")) for r in recs[:2]] == \
        [("s1", 6, 6), ("s2", 6, 6)]
    assert recs[2]["student"] == "s3" and recs[2]["wrong"] >= 4
    assert "no student: id" in recs[3]["error"] and recs[3]["exit_code"] == 3
    assert "no variant for student 'ghost'" in recs[4]["error"]


@pytest.mark.parametrize(("roster", "message"), [
    ("id\ns1\ns1\n", "roster.csv:3: column id: student 's1' given twice (lines 2 and 3)"),
    ("id\n../x\n", "roster.csv:2: column id: expected a student id of letters"),
    ("id\n", "roster.csv:1: no students"),
    ("", "roster.csv:1: expected a header row"),
])
def test_a_bad_roster_is_located(cli, tmp_path, roster, message):
    (tmp_path / "roster.csv").write_text(roster)
    result = cli("exercise", "rnn", "--students", str(tmp_path / "roster.csv"), "-d",
                 str(tmp_path / "c"))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"{tmp_path / 'roster.csv'}"[:-len("roster.csv")] + message)


def test_students_need_an_out_dir(cli, tmp_path):
    assert cli("exercise", "rnn", "--variants", "2").exit_code == 2
