import gc

from kefu.shared import collector


def test_tuning_freezes_what_the_process_built_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    try:
        collector.tune()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (collector.YOUNG, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
