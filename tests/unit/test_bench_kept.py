"""A bench run's directory goes after a run that worked and stays after one that failed."""

from pathlib import Path

import pytest

from kefu.bench import kept_if_failed


def test_a_run_that_worked_leaves_nothing_behind(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with kept_if_failed(str(run)) as path:
        (Path(path) / "router.log").write_text("ok")
    assert not run.exists()


def test_a_run_that_failed_keeps_its_logs_and_says_where(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(TimeoutError), kept_if_failed(str(run)) as path:
        (Path(path) / "router.log").write_text("slow")
        raise TimeoutError
    assert (run / "router.log").read_text() == "slow"
    assert str(run) in capsys.readouterr().err
