"""``rnncalc run`` and ``rnncalc validate``: many configs in one call, in order, errors kept apart.

Figures are checked against the seed's printed numbers (../shared/seed/README.md) and against
``torch.nn`` modules; a record of ``run`` must also be exactly what the single-config command
prints for that config, with its path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnncalc.steps import parse_steps, shown
from tests.conftest import CONFIGS

SEED_RNN_H = [[0.9866, 0.9051], [0.0946, 0.9702], [-0.8996, 0.9983]]
BAD = "cell: lstm\ninputs: [[1, 2]]\nwieghts: {}\n"  # misspelt key on line 3


def r4(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]


@pytest.fixture
def classroom(tmp_path: Path) -> list[str]:
    """Six configs of three cells, one invalid in the middle, one missing at the end."""
    names = ["rnn_regression", "lstm", "gru", "rnn_bidirectional"]
    paths = []
    for i, name in enumerate(names):
        target = tmp_path / f"{i}_{name}.yaml"
        shutil.copy(CONFIGS / f"{name}.yaml", target)
        paths.append(str(target))
    bad = tmp_path / "2a_bad.yaml"
    bad.write_text(BAD)
    paths.insert(2, str(bad))
    paths.append(str(tmp_path / "missing.yaml"))
    return paths


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_one_record_per_config_in_input_order(cli, classroom):
    result = cli("run", *classroom, "--format", "jsonl")
    assert result.exit_code == 3, result.stderr
    records = jsonl(result.stdout)
    assert [r["path"] for r in records] == classroom
    assert [r.get("cell") for r in records] == ["rnn", "lstm", None, "gru", "rnn", None]
    bad, missing = records[2], records[5]
    assert bad["exit_code"] == 3 and bad["line"] == 3 and bad["field"] == "wieghts"
    assert bad["error"].startswith(f"{classroom[2]}:3: wieghts: unknown key")
    assert "no such file" in missing["error"] and missing["line"] is None
    assert r4(records[0]["head"]["y"]) == [0.9983]  # the seed's figures
    assert [r4(s["h"]) for s in records[0]["layers"][0]["directions"]["forward"]] == SEED_RNN_H
    assert round(records[4]["head"]["y"][0], 4) == 2.5  # seed bidirectional final output


@pytest.mark.parametrize("index", [0, 1, 3])
def test_a_record_is_the_single_command_output_with_its_path(cli, classroom, index):
    record = jsonl(cli("run", *classroom, "-f", "jsonl").stdout)[index]
    cell = record["cell"]
    single = cli(cell, "--config", classroom[index], "--format", "json")
    assert single.exit_code == 0, single.stderr
    assert record == {"path": classroom[index], **json.loads(single.stdout)}


def test_lstm_record_against_torch(cli, tmp_path):
    torch.manual_seed(3)
    module = torch.nn.LSTM(2, 3, dtype=torch.float64)
    x = torch.randn(25, 2, dtype=torch.float64)
    config = {"cell": "lstm", "inputs": x.tolist(),
              "weights": {k: v.tolist() for k, v in module.state_dict().items()}}
    path = tmp_path / "long.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    (record,) = jsonl(cli("run", str(path), "-f", "jsonl").stdout)
    out, (_, c_n) = module(x)
    torch.testing.assert_close(torch.tensor(record["output"], dtype=torch.float64), out.detach(),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.tensor(record["c_n"], dtype=torch.float64), c_n.detach(),
                               rtol=0, atol=1e-12)


def test_all_valid_exits_0(cli):
    result = cli("run", str(CONFIGS / "lstm.yaml"), str(CONFIGS / "gru.yaml"), "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""  # no progress bar in a pipe


def test_tables_one_after_another_errors_on_stderr(cli, classroom):
    result = cli("run", *classroom)
    assert result.exit_code == 3
    headers = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [f"==> {p} <==" for i, p in enumerate(classroom) if i not in (2, 5)]
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"{classroom[2]}:3: wieghts:")
    assert errors[1].startswith(f"{classroom[5]}: no such file")
    assert "Traceback" not in result.stderr


def test_stdin(cli):
    text = (CONFIGS / "lstm.yaml").read_text()
    result = cli("run", "-", str(CONFIGS / "gru.yaml"), "-f", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    first, second = jsonl(result.stdout)
    assert first["path"] == "-" and first["cell"] == "lstm"
    assert second["cell"] == "gru"


def test_bad_stdin_is_an_error_record(cli):
    result = cli("run", "-", "-f", "jsonl", input="cell: [unclosed\n")
    assert result.exit_code == 3
    (record,) = jsonl(result.stdout)
    assert record["path"] == "-" and record["error"].startswith("<stdin>:")


def test_directories_and_globs_expand_sorted(cli, tmp_path):
    for name in ("b", "a", "c"):
        shutil.copy(CONFIGS / "rnn_hidden.yaml", tmp_path / f"{name}.yaml")
    (tmp_path / "notes.txt").write_text("not a config")
    by_dir = jsonl(cli("run", str(tmp_path), "-f", "jsonl").stdout)
    assert [Path(r["path"]).name for r in by_dir] == ["a.yaml", "b.yaml", "c.yaml"]
    by_glob = jsonl(cli("run", str(tmp_path / "[bc].yaml"), "-f", "jsonl").stdout)
    assert [Path(r["path"]).name for r in by_glob] == ["b.yaml", "c.yaml"]
    nothing = cli("run", str(tmp_path / "z*.yaml"), "-f", "jsonl")
    assert nothing.exit_code == 3 and "no such file" in jsonl(nothing.stdout)[0]["error"]


def test_a_directory_without_configs_is_reported_not_skipped(cli, tmp_path):
    """`rnncalc run class/` whose configs sit in subfolders: an error, not an empty exit 0."""
    (tmp_path / "class" / "ann").mkdir(parents=True)
    shutil.copy(CONFIGS / "rnn_hidden.yaml", tmp_path / "class" / "ann" / "ex.yaml")
    folder = str(tmp_path / "class")
    result = cli("run", folder, "-f", "jsonl")
    assert result.exit_code == 3
    (record,) = jsonl(result.stdout)
    assert record["path"] == folder and "subfolders are not searched" in record["error"]
    result = cli("validate", folder)
    assert result.exit_code == 3 and result.stderr.startswith(f"{folder}: no config")
    assert result.stderr.count("\n") == 1


def test_jobs_keep_input_order(cli, classroom):
    sources = classroom * 3
    one = cli("run", *sources, "-f", "jsonl")
    two = cli("run", *sources, "-f", "jsonl", "--jobs", "2")
    assert two.exit_code == one.exit_code == 3
    assert two.stdout == one.stdout


def test_output_file(cli, classroom, tmp_path):
    target = tmp_path / "out.jsonl"
    result = cli("run", *classroom, "-f", "jsonl", "-o", str(target))
    assert result.exit_code == 3 and result.stdout == ""
    assert [r["path"] for r in jsonl(target.read_text())] == classroom


def test_dtype_override(cli):
    (record,) = jsonl(cli("run", str(CONFIGS / "lstm.yaml"), "-f", "jsonl",
                          "--dtype", "float32").stdout)
    assert record["dtype"] == "float32"


def test_validate(cli, classroom):
    ok = cli("validate", *(classroom[i] for i in (0, 1, 3, 4)))
    assert ok.exit_code == 0 and ok.stdout == "" and ok.stderr == ""
    bad = cli("validate", *classroom)
    assert bad.exit_code == 3
    lines = bad.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{classroom[2]}:3: wieghts:")
    assert cli("validate", "-", input=BAD).stderr.startswith("<stdin>:3: wieghts:")


# --- step selection -------------------------------------------------------------------------


def test_parse_steps():
    assert parse_steps("all") is None
    assert parse_steps("0:3,-2:") == [slice(0, 3), slice(-2, None)]
    assert parse_steps("4, -1") == [slice(4, 5), slice(-1, None)]
    assert parse_steps("1:9:3") == [slice(1, 9, 3)]  # a stride, as Python slices take
    for bad in ("", "x", "1:2:3:4", "::0", "0:3,,1"):
        with pytest.raises(ValueError):
            parse_steps(bad)


def test_shown_marks_gaps():
    assert shown(range(10), "0:2,-2:") == [0, 1, None, 8, 9]
    assert shown(range(10), "3") == [None, 3, None]
    assert shown(range(5)) == [0, 1, 2, 3, 4]  # short: everything
    long = shown(range(1000))
    assert long == [0, 1, 2, 3, 4, None, 995, 996, 997, 998, 999]
    assert shown([3, 2, 1, 0], "0") == [None, 3]  # backward: rows in the order computed


def _long_config(tmp_path: Path, steps: int) -> str:
    path = tmp_path / "long.yaml"
    rows = [[round(0.01 * t, 2)] for t in range(steps)]
    path.write_text(json.dumps({"cell": "rnn", "inputs": rows, "weights": {
        "W_ih": [[0.5]], "W_hh": [[0.25]]}}))
    return str(path)


def test_long_table_shows_a_selection_json_everything(cli, tmp_path):
    path = _long_config(tmp_path, 200)
    table = cli("rnn", "-c", path)
    assert table.exit_code == 0, table.stderr
    ts = [line.split()[0] for line in table.stdout.splitlines()
          if line.strip() and line.split()[0] in {str(t) for t in range(200)} | {"⋮"}]
    assert ts == ["0", "1", "2", "3", "4", "⋮", "195", "196", "197", "198", "199"]
    assert "190 steps not shown" in table.stdout
    every = cli("rnn", "-c", path, "--steps", "all")
    assert "⋮" not in every.stdout and " 100 " in every.stdout
    chosen = cli("run", path, "--steps", "10:12,-1:")
    assert " 10 " in chosen.stdout and " 11 " in chosen.stdout and " 12 " not in chosen.stdout
    (record,) = jsonl(cli("run", path, "-f", "jsonl").stdout)
    assert len(record["layers"][0]["directions"]["forward"]) == 200


def test_a_config_without_cell_names_the_field_cell(cli, tmp_path):
    path = tmp_path / "nocell.yaml"
    path.write_text("title: no cell\ninputs: [[1]]\nweights: {W_ih: [[1]], W_hh: [[1]]}\n")
    result = cli("run", str(path), "--format", "jsonl")
    assert result.exit_code == 3, result.stderr
    (record,) = jsonl(result.stdout)
    assert record["field"] == "cell" and record["line"] == 1
    # every cell of the registry (the message once listed three, IndRNN missing)
    assert record["error"].startswith(f"{path}:1: cell: missing key 'cell' (rnn, lstm, gru, "
                                      "indrnn)")


@pytest.mark.parametrize(("text", "field", "start"), [
    ("cell: rnn\nweights: {W_ih: [[1]], W_hh: [[1]]}\n", "inputs", "inputs: missing required key"),
    ("cell: rnn\ninputs: [[1]]\n", "weights", "weights: missing required key 'weights'"),
    ("cell: rnn\ninputs: [[1]]\nweights: {W_ih: [[1]], W_hh: [[1]]}\nhead:\n  W: [[1]]\n",
     "head.task", "head.task: missing required key 'task'"),
])
def test_a_missing_key_is_the_field_of_its_record(cli, tmp_path, text, field, start):
    path = tmp_path / "missing.yaml"
    path.write_text(text)
    (record,) = jsonl(cli("run", str(path), "--format", "jsonl").stdout)
    assert record["field"] == field and record["exit_code"] == 3
    assert record["error"].split(": ", 1)[1].startswith(start), record["error"]


def test_bad_steps_is_a_usage_error(cli):
    result = cli("rnn", "--steps", "1:x")
    assert result.exit_code == 2


@pytest.mark.parametrize("spec", ["100", "40", "-41", "50:60", "5:3"])
def test_steps_that_pick_no_step_of_the_run_is_a_usage_error(cli, tmp_path, spec):
    path = _long_config(tmp_path, 40)
    for args in (["rnn", "-c", path], ["run", path]):
        result = cli(*args, "--steps", spec)
        assert result.exit_code == 2 and result.stdout == "", result.stdout
        assert result.stderr == (f"{path}: --steps: {spec!r} picks none of this run's 40 steps "
                                 "(positions 0 to 39, or -40 to -1 from the end)\n")


def test_steps_that_pick_some_steps_may_run_past_the_end(cli, tmp_path):
    result = cli("rnn", "-c", _long_config(tmp_path, 40), "--steps", "38:100")
    assert result.exit_code == 0 and " 39 " in result.stdout and " 37 " not in result.stdout


def test_jobs_auto_starts_workers_only_for_enough_work(tmp_path, monkeypatch):
    """By default one process: a few hundred seed-sized configs are done before workers start;
    from about 1.5 s of work (1000 seed configs as JSON; 300 as tables, five times the work
    each) one worker per idle core, none when other work has the cores."""
    from rnncalc import jobs

    size = (CONFIGS / "lstm.yaml").stat().st_size  # 653 bytes: 1.3 ms of estimated work
    few, class_ = [str(CONFIGS / "lstm.yaml")] * 300, [str(CONFIGS / "lstm.yaml")] * 3000
    work = size * jobs.SECONDS_PER_BYTE
    assert 300 * work < jobs.PARALLEL_FROM < 3000 * work
    assert jobs.choose_jobs(few, None, cores=2, idle=2.0) == 1
    assert jobs.choose_jobs(few, None, cores=2, idle=2.0,
                            per_byte=jobs.Job("table").per_byte) == 2
    assert jobs.choose_jobs(class_, None, cores=2, idle=1.9) == 2
    assert jobs.choose_jobs(class_, None, cores=2, idle=2 - 7.0) == 1  # load 7: no idle core
    assert jobs.choose_jobs(class_, None, cores=2, idle=1.2) == 1  # one idle core: one process
    assert jobs.choose_jobs(class_, None, cores=8, idle=3.6) == 4
    assert jobs.choose_jobs(class_, None, cores=1, idle=1.0) == 1
    assert jobs.choose_jobs(["-", "missing.yaml"], None, cores=2, idle=2.0) == 1
    assert jobs.choose_jobs(few, 3, cores=2) == 3
    assert jobs.choose_jobs(few, 0, cores=2) == 2


@pytest.mark.parametrize("value", ["two", "-1", "1.5", ""])
def test_jobs_must_be_auto_or_a_number(cli, value):
    result = cli("run", str(CONFIGS / "lstm.yaml"), "--jobs", value)
    assert result.exit_code == 2
    assert "expected auto or a number" in result.stderr


def test_ending_the_workers_prints_no_traceback_from_the_pools_thread(monkeypatch):
    """Ending a run's workers, the pool's manager thread marks the futures ``map`` has already
    cancelled as failed, and Python 3.11 raises InvalidStateError there: about one signal in
    six to ``run --jobs 2`` printed its traceback above "terminated". That one is kept quiet;
    any other error of a thread still reaches the hook that was there (here, a recorder)."""
    import threading
    from concurrent.futures import InvalidStateError

    from rnncalc import jobs

    seen: list[type[BaseException] | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_type))
    jobs._quiet_manager_thread()

    def raising(exc: BaseException) -> None:
        def run() -> None:
            raise exc
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()

    raising(InvalidStateError("CANCELLED: <Future state=cancelled>"))
    raising(ValueError("another error"))
    assert seen == [ValueError]
