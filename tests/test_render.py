"""Table output against golden files, 80 columns, colour off.

The golden files (``tests/__snapshots__/test_render/*.txt``) were checked by hand against the seed's
printed figures, and each test also asserts those figures appear, so a golden file cannot drift
away from the seed unnoticed. Regenerate after a deliberate layout change with
``python -m pytest tests/test_render.py --snapshot-update`` and read the diff.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture
def golden(snapshot):
    return snapshot.use_extension(TextSnapshot)


CASES = {
    "rnn": (["rnn"], ["[0.9866, 0.9051]", "[0.0946, 0.9702]", "[-0.8996, 0.9983]", "0.9983"]),
    "rnn_step_by_step": (["rnn", "--step-by-step"], ["[2.5000, 1.5000]", "[0.9866, 0.9051]"]),
    "rnn_labeling": (["rnn", "--task", "labeling"],
                     ["[0.4796, 0.5204]", "[0.7059, 0.2941]", "[0.8697, 0.1303]"]),
    "rnn_bidirectional": (["rnn", "--bidirectional"],
                          ["[-0.4621, 0.9998]", "[0.9114, 0.4899]", "[4.2931]", "[3.0290]",
                           "[1.6363]", "[2.5000]"]),
    "lstm_step_by_step": (["lstm", "--step-by-step"],
                          ["[0.5000, -2.5000]", "[2.5000, -0.5000]", "[-0.5000, -0.5000]",
                           "[4.5000, -2.5000]", "[-0.2769, -0.0027]"]),
}


@pytest.mark.parametrize("name", CASES)
def test_table_golden(cli, golden, name):
    args, seed_figures = CASES[name]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    for figure in seed_figures:
        assert figure in result.stdout, figure
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "\x1b[" not in result.stdout
    assert result.stdout == golden
