"""Issue 12 (Trust II): graders run students' files, so nothing may hang, leak, overwrite or be
gamed. One section per class of the issue, each with hostile inputs of its own; the bounded fuzz
test of every class together is in ``tests/test_fuzz.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rnncalc.errors import MAX_MESSAGE, ExitCode
from tests.conftest import CONFIGS

RNN = str(CONFIGS / "rnn_regression.yaml")  # h_0 = [0.98661..., 0.90514...]
LSTM = str(CONFIGS / "lstm.yaml")
WRONG_H0 = "layers: [{layer: 0, directions: {forward: [{t: 0, h: [0.5, 0.5]}]}}]\n"


def one_error(result, code: int = ExitCode.INVALID_INPUT) -> str:
    """The one short line on stderr of a refused run, after checking its code and shape."""
    assert result.exit_code == code, (result.exit_code, result.stdout[:500], result.stderr[:500])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[:2000]
    assert len(lines[0]) <= MAX_MESSAGE + 1, lines[0]
    return lines[0]


def write(tmp_path: Path, text: str | bytes, name: str = "answers.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# ----------------------------------------------------------------------------- grading can be gamed


@pytest.mark.parametrize("tolerance", ["10", "1e300", ".inf", ".nan", "-1", "-.inf", "1e999"])
def test_answers_file_tolerance_never_marks_a_wrong_answer_right(cli, tmp_path, tolerance):
    """h_0 = 0.5 is wrong whatever tolerance the student writes: exit 1 (a finite one, shown as
    not used) or exit 3 at its line (a tolerance that is no tolerance)."""
    path = write(tmp_path, f"# mine\ntolerance: {tolerance}\n{WRONG_H0}")
    result = cli("check", RNN, path)
    if tolerance in ("10", "1e300"):
        assert result.exit_code == ExitCode.WRONG_ANSWERS, result.stdout
        assert "tolerance" in result.stdout and "is not used" in result.stdout
    else:
        assert f"{path}:2: tolerance: expected a finite number >= 0" in one_error(result)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "-0.5", "NaN"])
def test_command_line_tolerance_must_be_finite_and_not_negative(cli, tmp_path, value):
    result = cli("check", RNN, write(tmp_path, WRONG_H0), "--tolerance", value)
    assert result.exit_code == ExitCode.USAGE, result.stdout
    assert "--tolerance" in result.stderr and "finite number >= 0" in result.stderr


def test_command_line_tolerance_still_marks(cli, tmp_path):
    path = write(tmp_path, "layers: [{layer: 0, directions: {forward: [{t: 0, h: [0.986]}]}}]\n")
    assert cli("check", RNN, path, "--tolerance", "0.001").exit_code == ExitCode.OK
    assert cli("check", RNN, path, "--tolerance", "0").exit_code == ExitCode.WRONG_ANSWERS
    assert cli("check", RNN, path).exit_code == ExitCode.WRONG_ANSWERS  # 0.986 != 0.987


# ----------------------------------------------------------------------------- hangs and memory


@pytest.fixture
def endless_fifo(tmp_path):
    """A FIFO that a thread fills with ``a: 1`` lines for as long as someone reads it."""
    import os
    import threading

    path = tmp_path / "endless.yaml"
    os.mkfifo(path)

    def fill() -> None:
        try:
            with open(path, "wb") as f:
                while True:
                    f.write(b"a: 1\n" * 4096)
        except OSError:  # the reader went away: the test is over
            pass

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    yield str(path)
    if thread.is_alive():  # never opened by the command: open it once to let the writer go
        with open(path, "rb") as f:
            f.read(1)
    thread.join(5)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_refused_after_the_limit(cli):
    assert "/dev/zero: larger than the limit of 4,194,304 bytes" in one_error(
        cli("check", RNN, "/dev/zero"))
    assert "/dev/zero: larger than the limit of 1,048,576 bytes" in one_error(
        cli("rnn", "-c", "/dev/zero"))


def test_an_endless_fifo_is_refused_after_the_limit(cli, endless_fifo):
    assert "went on past it" in one_error(cli("check", RNN, endless_fifo))


def test_an_endless_fifo_config_is_refused_by_validate(cli, endless_fifo):
    assert "went on past it" in one_error(cli("validate", endless_fifo))


def test_a_large_answers_file_is_refused_unread(cli, tmp_path):
    path = tmp_path / "answers.yaml"
    with open(path, "wb") as f:  # sparse: 5 MB that are never read
        f.truncate(5 * 2**20)
    assert one_error(cli("check", RNN, str(path))) == (
        f"{path}: 5,242,880 bytes, larger than the limit of 4,194,304 bytes, far more than any "
        "answers file")


def test_a_weight_file_that_inflates_past_the_limit_is_refused_uninflated(cli, tmp_path,
                                                                          monkeypatch):
    """A zip (what torch.save writes) of 3 MB of zeros is a few kilobytes: its central directory
    says what it inflates to, and that is checked before torch reads a byte of it."""
    import zipfile

    monkeypatch.setenv("RNNCALC_MAX_VALUES", "100000")  # limit: 800,000 + 1 MiB
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", bytes(3 * 2**20))
    assert path.stat().st_size < 10_000
    message = one_error(cli("rnn", "-w", str(path)))
    assert message.startswith(f"{path}: inflates to 3,145,728 bytes (a zip archive of 1 members)")
    # what torch.save writes is within it, and runs
    import torch

    good = tmp_path / "good.pt"
    torch.save(torch.nn.RNN(3, 2).state_dict(), good)
    assert cli("rnn", "-w", str(good)).exit_code == 0


# ----------------------------------------------------------------------------- paths and contents


@pytest.mark.parametrize("content", [b"SECRET=hunter2\n", b"PK\x03\x04SECRET=hunter2",
                                     b"\x80\x04\x95SECRET=hunter2", b"SECRET" * 1000])
def test_a_weight_file_is_never_quoted(cli, tmp_path, content):
    path = write(tmp_path, content, "secret.pt")
    message = one_error(cli("rnn", "-w", path))
    assert "SECRET" not in message and "hunter" not in message and "83" not in message
    assert message.startswith(f"{path}: not a PyTorch state_dict file")


def test_a_state_dict_with_integer_keys_names_them(cli, tmp_path):
    import torch

    path = tmp_path / "ints.pt"
    torch.save({0: torch.zeros(2, 3), 1: torch.zeros(2, 2), 2: torch.zeros(2),
                3: torch.zeros(2)}, path)
    assert one_error(cli("rnn", "-w", str(path))) == (
        f"{path}: expected state_dict names (weight_ih_l0, ...) as keys, got 4 that are not "
        "names: 0, 1, 2, ...")


def test_nan_in_a_state_dict_is_named_by_the_files_own_key(cli, tmp_path):
    import torch

    state = torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True).double().state_dict()
    state["weight_hh_l1_reverse"][1][0] = float("nan")
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    assert one_error(cli("lstm", "-w", str(path))) == (
        f"{path}: weights.weight_hh_l1_reverse[1][0]: expected a finite number, got nan")


# ------------------------------------------------------------------------ messages that mislead


def test_a_symlink_loop_is_not_a_missing_file(cli, tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    loop = str(tmp_path / "a.yaml")
    for result in (cli("rnn", "-c", loop), cli("check", RNN, loop), cli("validate", loop)):
        assert one_error(result) == f"{loop}: a symbolic link loop (the link points, in the " \
            "end, at itself)"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_without_a_mark_is_named(cli, tmp_path, codec):
    path = write(tmp_path, Path(RNN).read_text().encode(codec), "ex.yaml")
    message = one_error(cli("rnn", "-c", path))
    assert message.startswith(f"{path}:1: not UTF-8 text: it holds NUL bytes")
    assert "UTF-16 or UTF-32 without a byte-order mark" in message


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-8-sig"])
def test_utf16_with_a_mark_is_read(cli, tmp_path, codec):
    path = write(tmp_path, Path(RNN).read_text().encode(codec), "ex.yaml")
    assert cli("rnn", "-c", path, "-f", "json").stdout == cli("rnn", "-c", RNN, "-f", "json").stdout


def test_a_non_utf8_answers_file_has_a_line_number(cli, tmp_path):
    path = write(tmp_path, b"# mine\nlayers:\n  # caf\xe9\n  []\n")
    assert one_error(cli("check", RNN, path)) == f"{path}:3: not UTF-8 text (byte 0xe9 at " \
        "offset 22)"


# ----------------------------------------------------------------------------- YAML 1.1 surprises


@pytest.mark.parametrize(("written", "read"), [
    ("010", 10), ("0010.5", 10.5), ("1:30", "1:30"), ("1:30.5", "1:30.5"), ("1_000", "1_000"),
    ("on", "on"), ("off", "off"), ("yes", "yes"), ("No", "No"), ("y", "y"), ("0b11", "0b11"),
    ("1e-3", 0.001), ("+2", 2), ("0x1f", 31), ("0o17", 15), ("true", True), ("FALSE", False),
    ("~", None), ("2001-12-14", "2001-12-14"), (".5", 0.5), ("-.inf", float("-inf")),
])
def test_scalars_mean_what_they_look_like(written, read):
    """YAML 1.2's core schema: PyYAML's 1.1 reads 010 as 8, 1:30 as 90, on/yes as True."""
    from rnncalc.config.yamlsafe import load_yaml

    data = load_yaml(f"a: {written}\n{written}: 1\n", "ex.yaml").data
    assert data["a"] == read and type(data["a"]) is type(read)
    assert written in data  # a key is a name, as written


def test_a_key_on_is_the_key_on_not_true(cli, tmp_path):
    path = write(tmp_path, Path(RNN).read_text() + "on: 1\n", "ex.yaml")
    message = one_error(cli("rnn", "-c", path))
    assert message.startswith(f"{path}:") and ": on: unknown key 'on'" in message


def test_a_leading_zero_is_decimal_and_a_sexagesimal_is_not_a_number(cli, tmp_path):
    text = Path(RNN).read_text()
    assert "[4, 5, 6]" in text
    ten = write(tmp_path, text.replace("[4, 5, 6]", "[4, 010, 6]"), "ten.yaml")
    also = write(tmp_path, text.replace("[4, 5, 6]", "[4, 10, 6]"), "also.yaml")
    assert cli("rnn", "-c", ten, "-f", "json").stdout == cli("rnn", "-c", also, "-f", "json").stdout
    clock = write(tmp_path, text.replace("[4, 5, 6]", "[4, 1:30, 6]"), "clock.yaml")
    assert one_error(cli("rnn", "-c", clock)).endswith("inputs[1][1]: expected a number, "
                                                      "got '1:30'")


def test_answers_read_by_the_same_rules(cli, tmp_path):
    """h_0[1] = 0.98661: an answer 0.9866 written as 00.9866 is still 0.9866, not octal."""
    path = write(tmp_path, "layers: [{layer: 0, directions: {forward: [{t: 0, h: [00.9866]}]}}]\n")
    assert cli("check", RNN, path).exit_code == ExitCode.OK


# ----------------------------------------------------------------------------- unbounded messages


def test_many_unknown_keys_name_a_few_and_count_the_rest(cli, tmp_path):
    path = write(tmp_path, Path(RNN).read_text() + "".join(f"k{i}: 1\n" for i in range(90_000)),
                 "ex.yaml")
    message = one_error(cli("validate", path))
    assert "unknown key 'k0'; unknown key 'k1'; unknown key 'k2' and 89,997 more unknown keys" \
        in message


@pytest.mark.parametrize("where", ["key", "value", "title-number", "label"])
def test_long_keys_values_and_numbers_are_elided_with_their_length(cli, tmp_path, where):
    long = "x" * 5000
    digits = "7" * 5000
    text = Path(RNN).read_text()
    text = {"key": text + f"{long}: 1\n",
            "value": text.replace("nonlinearity: tanh", f"nonlinearity: {long}"),
            "title-number": text.replace("[4, 5, 6]", f"[4, {digits}, 6]"),
            "label": text + f"extra: [{digits}]\n"}[where]
    assert text != Path(RNN).read_text()
    message = one_error(cli("rnn", "-c", write(tmp_path, text, "ex.yaml")))
    assert long[:300] not in message and digits[:300] not in message


def test_a_parse_of_a_megabyte_config_is_linear(tmp_path):
    """A 1 MB config within the limit is read in well under a second's worth of allocations:
    tracemalloc's peak stays a small multiple of the text (PyYAML's composer: 60x)."""
    import tracemalloc

    from rnncalc.config.yamlsafe import load_yaml

    row = "  - [-0.25, 0.5, 1, -1.75, 0.125, 2, -3, 0.75]\n"
    text = "cell: rnn\ninputs:\n" + row * (1_000_000 // len(row))
    tracemalloc.start()
    try:
        doc = load_yaml(text, "big.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(doc.data["inputs"]) == 1_000_000 // len(row)
    assert doc.line_of(("inputs", 7, 3)) == 3 + 7
    assert peak < 20 * len(text), f"peak {peak / 2**20:.1f} MiB for {len(text) / 2**20:.1f} MiB"
