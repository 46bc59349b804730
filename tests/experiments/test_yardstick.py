"""The plain Keras yardstick script (experiments.yardstick) runs every run of a config."""

from experiments import yardstick


def test_the_yardstick_trains_and_scores_every_run(tiny_raw, write_config, capsys):
    tiny_raw["seeds"] = [0, 1]
    tiny_raw["train"]["patience"] = 1
    assert yardstick.main([str(write_config(tiny_raw))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "max seed=0", "avg seed=0", "max seed=1", "avg seed=1"]
    assert all("test acc 0." in line and "consistency" in line for line in lines[:-1])
    assert lines[-1].startswith("4 runs in ")


def test_the_yardstick_wants_one_config(capsys):
    assert yardstick.main([]) == 2
    assert "usage" in capsys.readouterr().err
