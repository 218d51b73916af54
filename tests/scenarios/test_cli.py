"""``python -m analysis scenario``: exit 2 on a bad scenario, the table on a good one."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.cli.main import main
from analysis.scenarios import RELIEF_COLUMNS, TABLE_COLUMNS


def test_unknown_signal_exits_2(synth_dir, tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\nshocks:\n  - signal: rainfall\n    shift: 3\n", encoding="utf-8")
    code = main(["scenario", "--data", str(synth_dir), "--as-of", "2024-06", "--scenario",
                 str(bad), "--out", str(tmp_path / "out.csv")])
    assert code == 2
    assert "unknown signal(s) ['rainfall']" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_bad_month_and_region_exit_2(synth_dir, tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("shocks:\n  - signal: demand_index_change\n    shift: -5\n"
                   "    regions: [atlantis]\n", encoding="utf-8")
    args = ["scenario", "--data", str(synth_dir), "--scenario", str(bad), "--out",
            str(tmp_path / "o.csv")]
    assert main([*args, "--as-of", "2024-06"]) == 2
    assert "unknown region" in capsys.readouterr().err
    assert main([*args, "--as-of", "2024-6"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err


@pytest.mark.slow
def test_writes_the_forecast_table(synth_dir, tmp_path, capsys):
    out = tmp_path / "forecast.csv"
    code = main(["scenario", "--data", str(synth_dir), "--as-of", "2024-06", "--scenario",
                 "regional_demand_shock", "--out", str(out), "--draws", "20"])
    assert code == 0
    assert "new overdue episodes" in capsys.readouterr().out
    t = pd.read_csv(out, keep_default_na=False)
    assert set(TABLE_COLUMNS) | set(RELIEF_COLUMNS) <= set(t.columns)
    assert set(t["scenario"]) == {"regional_demand_shock"}
    assert "loan_id" not in t.columns
    onsets = t[t["quantity"] == ""]
    assert len(onsets) == 21 and set(onsets["family"]) == {"economic", "management", "personal"}
