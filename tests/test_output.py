"""Output that loses nothing: ``--output`` is atomic, and a reader that goes away is no error."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from rnncalc import output
from rnncalc.errors import RnncalcError
from tests.conftest import CONFIGS, ROOT
from tests.test_errors import one_line

EARLIER = "the earlier result, which must survive\n"


@pytest.fixture
def earlier(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(EARLIER)
    path.chmod(0o640)
    return path


def only(path):
    """The files in ``path``'s directory: a leftover temporary file would show here."""
    return sorted(p.name for p in path.parent.iterdir())


def test_a_failure_halfway_leaves_the_earlier_file_whole(earlier, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", disk_full)  # after the text went to the temp file
    with pytest.raises(RnncalcError, match=f"{earlier}: cannot write: No space left on device"):
        output.write_result("x" * 100_000, earlier)
    assert earlier.read_text() == EARLIER and only(earlier) == ["result.json"]


def test_an_interrupt_halfway_leaves_the_earlier_file_whole(earlier, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_result("new", earlier)
    assert earlier.read_text() == EARLIER and only(earlier) == ["result.json"]


def test_a_bad_config_leaves_the_earlier_file_whole(cli, earlier, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [[1, 2]]\nweights: {W_ih: [[1]], W_hh: [[1]]}\n")
    assert one_line(cli("rnn", "-c", str(bad), "-o", str(earlier))).startswith(f"{bad}:")
    assert earlier.read_text() == EARLIER and sorted(only(earlier)) == ["bad.yaml", "result.json"]


def test_output_replaces_the_file_keeping_its_permissions(cli, earlier):
    config = str(CONFIGS / "lstm.yaml")
    result = cli("lstm", "-c", config, "-f", "json", "-o", str(earlier))
    assert result.exit_code == 0 and result.stdout == ""
    assert earlier.read_text() == cli("lstm", "-c", config, "-f", "json").stdout
    assert earlier.stat().st_mode & 0o777 == 0o640 and only(earlier) == ["result.json"]


def test_a_new_file_gets_the_usual_permissions_not_the_temp_files(cli, tmp_path):
    path = tmp_path / "new.txt"
    umask = os.umask(0o022)
    try:
        assert cli("rnn", "-o", str(path)).exit_code == 0
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone would leave 0o600


def test_output_into_a_missing_directory_or_onto_a_directory(cli, tmp_path):
    missing = tmp_path / "no" / "such" / "out.txt"
    assert one_line(cli("rnn", "-o", str(missing))) == (
        f"{missing}: cannot write: No such file or directory")
    assert one_line(cli("rnn", "-o", str(tmp_path))) == (
        f"{tmp_path}: is a directory; --output needs a file path")


@pytest.fixture(scope="module")
def long_config(tmp_path_factory):
    """Far more output than a pipe holds (64 KiB), so the writer meets the closed pipe."""
    text = (CONFIGS / "rnn_regression.yaml").read_text()
    path = tmp_path_factory.mktemp("long") / "long.yaml"
    path.write_text(text.replace("  - [7, 8, 9]   # x_2\n", "  - [7, 8, 9]\n" * 1000))
    return path


def test_a_closed_pipe_ends_quietly(long_config):
    """``rnncalc ... | head -1``: the reader leaves after one line; no traceback, exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnncalc", "rnn", "-c", str(long_config), "-f", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, stderr
    assert stderr == ""


def test_a_closed_pipe_in_a_shell_pipeline(long_config):
    shell = (f"{sys.executable} -m rnncalc rnn -c {long_config} -s | head -1; "
             "echo \"status ${PIPESTATUS[0]}\" >&2")
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.stdout.startswith("Seed RNN") and done.stdout.count("\n") == 1
    assert done.stderr == "status 0\n"
