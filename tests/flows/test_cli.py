"""The command line's own rules, checked without starting Prefect."""

from __future__ import annotations

import pytest

from flows.cli import main


@pytest.mark.parametrize("value", ["0", "21", "-3"])
def test_max_clips_out_of_range_is_rejected_with_exit_2(value, capsys) -> None:
    assert main(["run", "x.mp4", "--max-clips", value]) == 2
    assert f"--max-clips {value}" in capsys.readouterr().err


def test_unknown_aspect_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "x.mp4", "--aspect", "4:3"])
    assert exit_.value.code == 2
    assert "4:3" in capsys.readouterr().err


def test_sample_minutes_out_of_range(capsys) -> None:
    assert main(["sample", "--minutes", "0", "--out", "x.mp4"]) == 2
    assert "--minutes" in capsys.readouterr().err
