"""The message catalogue (complete, used, consistent placeholders) and CJK figures."""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.report.i18n import catalogue as i18n
from analysis.report.i18n import fonts
from analysis.report.text import kpis as kt

ROOT = Path(__file__).resolve().parents[2]
OTHER = [lang for lang in i18n.LANGUAGES if lang != "en" and (i18n.LOCALE_DIR / f"{lang}.yml").exists()]
# Keys reached by composition rather than literally: T.category(kind, code) and
# translate_frame's column titles.
DYNAMIC_PREFIXES = ("category.", "column.", "kpi.")


def _sources() -> str:
    parts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "analysis").rglob("*.py"))]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        parts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(parts)


def test_zh_cn_catalogue_exists():
    assert "zh-CN" in OTHER


@pytest.mark.parametrize("language", OTHER)
def test_every_key_translated(language):
    en, other = i18n.catalogue("en"), i18n.catalogue(language)
    assert sorted(set(en) - set(other)) == [], f"untranslated in {language}"
    assert sorted(set(other) - set(en)) == [], f"keys in {language} but not in en"
    assert [k for k, v in other.items() if not v.strip()] == []


@pytest.mark.parametrize("language", OTHER)
def test_placeholders_identical(language):
    en, other = i18n.catalogue("en"), i18n.catalogue(language)
    bad = {k: (i18n.placeholders(en[k]), i18n.placeholders(other[k]))
           for k in en if i18n.placeholders(en[k]) != i18n.placeholders(other[k])}
    assert bad == {}


def test_chinese_values_are_chinese():
    zh = i18n.catalogue("zh-CN")
    han = re.compile(r"[\u4e00-\u9fff]")
    latin_only = [k for k, v in zh.items() if not han.search(v)
                  and not k.startswith("format.") and k not in ("column.n", "narrative.sentence_end")]
    assert latin_only == []


def test_every_key_is_used():
    src = _sources()
    unused = [k for k in i18n.catalogue("en")
              if not k.startswith(DYNAMIC_PREFIXES) and f'"{k}"' not in src]
    assert unused == [], "catalogue keys nothing uses"
    kinds = {k.split(".")[1] for k in i18n.catalogue("en") if k.startswith("category.")}
    assert kinds == set(i18n.CATEGORY_KINDS)
    cols = [k.split(".", 1)[1] for k in i18n.catalogue("en") if k.startswith("column.")]
    assert [c for c in cols if f'"{c}"' not in src] == []


def test_literal_keys_in_code_exist():
    """Every t("...")/T("...") key written in code is in the catalogue."""
    src = _sources()
    used = set(re.findall(r"\bt\(\s*\"([a-z_]+\.[a-z0-9_.+-]+)\"", src, flags=re.I))
    assert sorted(used - set(i18n.catalogue("en"))) == []


def test_terms_and_formats():
    en, zh = i18n.translator("en"), i18n.translator("zh-CN")
    assert [zh.category("family", f) for f in ("economic", "management", "personal")] == [
        "经济环境", "经营管理", "个人财务"]
    assert [zh.category("measure", m) for m in
            ("none", "deferral", "instalment", "rate_reduction", "counselling", "settlement")] == [
        "未采取措施", "延期还款", "分期还款", "利息减免", "财务咨询", "和解"]
    assert [zh.category("loan_category", c) for c in
            ("normal", "special_mention", "substandard", "doubtful", "loss")] == [
        "正常", "关注", "次级", "可疑", "损失"]
    assert zh.category("borrower_type", "sole_proprietor") == "个体工商户"
    assert zh.category("metric", "redefault_rate") == "再违约率"
    assert zh.category("borrower_type", "unknown_code") == "unknown_code"
    assert en.pct(0.1234) == "12.3 %" and zh.pct(0.1234) == "12.3%"
    assert en.pct(np.nan) == "suppressed" and zh.pct(None) == "已隐藏"
    assert en.money(12345.6) == "CNY 12,346" and zh.money(12345.6) == "12,346 元"
    assert en.month(pd.Timestamp("2024-06-30")) == "2024-06"
    assert zh.month("2024-06-30") == "2024年06月"
    assert en.points(-0.021) == "-2.1 points"
    s = en.effect_sentence("deferral", "economically hit borrowers", 0.081, 0.052, 0.110, 6)
    assert s == ("Deferral raised the 6-month cure rate by 8.1 points (95% CI 5.2 to 11.0) "
                 "among economically hit borrowers.")
    z = zh.effect_sentence("deferral", zh.category("family", "economic"), 0.081, 0.052, 0.11, 6)
    assert "延期还款" in z and "8.1" in z and "经济环境" in z
    assert "includes zero" in en.effect_sentence("counselling", "all", 0.01, -0.02, 0.04, 6)
    with pytest.raises(KeyError):
        en("heading.no_such_key")
    with pytest.raises(KeyError):
        en.category("colour", "red")


def test_unknown_language():
    with pytest.raises(ParameterError, match="fr"):
        i18n.translator("fr")


def test_translate_frame_display_only():
    df = pd.DataFrame({"segment_type": ["borrower_type", "region"],
                       "segment": ["micro_enterprise", "east"],
                       "measure": ["deferral", np.nan], "n": [12, 30]})
    out = i18n.translate_frame(df, i18n.translator("zh-CN"))
    measure = i18n.catalogue("zh-CN").get("column.measure", "measure")  # titled or not
    assert list(out.columns) == ["细分维度", "细分群体", measure, "样本数"]
    assert out["细分群体"].tolist() == ["小微企业", "east"]
    assert out[measure].iloc[0] == "延期还款" and pd.isna(out[measure].iloc[1])
    assert df["measure"].iloc[0] == "deferral"  # the input is not changed


def test_figure_renders_chinese_without_missing_glyphs():
    font = fonts.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install -y fonts-wqy-microhei)")
    from analysis.report import style
    from analysis.report.plots import portfolio as pp

    t = i18n.translator("zh-CN").for_figures()
    assert not t.fallback and t.language == "zh-CN"
    mix = pd.DataFrame({"segment_type": ["borrower_type"] * 3,
                        "segment": ["micro_enterprise", "sole_proprietor", "individual"],
                        "n_loans": [50, 40, 30], "share_balance": [0.5, 0.3, 0.2]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = pp.plot_mix(mix, t=i18n.translator("zh-CN"))
        png = style.figure_png(fig)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == []
    assert png[:4] == b"\x89PNG"
    texts = [x.get_text() for x in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("小微企业" in s for s in texts)


def test_missing_glyph_is_detected(monkeypatch):
    """The check above would see boxes: DejaVu alone warns on Han characters."""
    import matplotlib
    from matplotlib.figure import Figure

    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["DejaVu Sans"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure()
        fig.text(0.5, 0.5, "逾期")
        fig.savefig(io.BytesIO(), format="png")
    assert any("missing from" in str(w.message) for w in caught)


def test_fallback_without_cjk_font(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda text=fonts.CJK_PROBE: None)
    t = i18n.translator("zh-CN").for_figures()
    assert t.language == "en" and t.fallback
    from analysis.report.plots import portfolio as pp

    mix = pd.DataFrame({"segment_type": ["borrower_type"], "segment": ["individual"],
                        "n_loans": [50], "share_balance": [1.0]})
    fig = pp.plot_mix(mix, t=i18n.translator("zh-CN"))
    texts = [x.get_text() for x in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("Chinese font not installed" in s for s in texts)
    assert not any(re.search(r"[\u4e00-\u9fff]", s) for s in texts if "Chinese font" not in s)


def test_kpi_keys_match_report_tables():
    keys = {k.split(".", 1)[1] for k in i18n.catalogue("en") if k.startswith("kpi.")}
    assert keys == set(kt.KPI_LABELS)
    assert all(i18n.catalogue("en")[f"kpi.{m}"] == label for m, (label, _) in kt.KPI_LABELS.items())


def test_headline_and_kpi_table_in_chinese():
    kpis = pd.DataFrame({
        "metric": ["n_loans_active", "balance_active", "overdue_rate_balance", "cure_rate",
                   "default_rate", "cure_rate"],
        "segment_type": ["all"] * 5 + ["borrower_type"],
        "segment": ["all"] * 5 + ["micro_enterprise"],
        "value": [1200, 3.4e6, 0.052, 0.61, np.nan, 0.5], "n": [1200, 1200, 1200, 300, 300, 40]})
    zh = i18n.translator("zh-CN")
    s = kt.headline_sentences(kpis, zh, "2024-06")
    assert s[0] == "截至2024年06月末，在贷贷款 1,200 笔，余额 3,400,000 元。"
    assert s[1] == "逾期（1 天以上）余额占比 5.2%。"
    assert s[2] == "治愈率和违约率已隐藏：结局已知的逾期事件过少。"
    en = kt.headline_sentences(kpis, i18n.translator("en"), "2024-06")
    assert en[0] == "At the end of 2024-06 the book held 1,200 active loans with a balance of CNY 3,400,000."
    table = kt.kpi_table(kpis, zh)
    assert list(table.columns) == ["指标名称", "数值", "样本数"]
    assert "逾期事件治愈率" in table["指标名称"].tolist()
    wide = kt.kpi_table(kpis, zh, "borrower_type")
    assert "小微企业" in wide.columns


def test_refresh_sees_each_published_language(tmp_path):
    from analysis.report.refresh import is_up_to_date

    month = tmp_path / "2024-06"
    month.mkdir()
    info = {"status": "ok", "input_fingerprint": "abc",
            "parameters": {"as_of": "2024-06", "language": "zh-CN", "data_dir": "/x"}}
    (month / "run.json").write_text(json.dumps(info))
    assert is_up_to_date(tmp_path, "2024-06", "abc", {"as_of": "2024-06", "language": "zh-CN"})
    assert not is_up_to_date(tmp_path, "2024-06", "abc", {"as_of": "2024-06", "language": "en"})
    (month / "index.html").write_text("<html lang=\"en\"></html>")
    assert is_up_to_date(tmp_path, "2024-06", "abc", {"as_of": "2024-06", "language": "en"})
    assert not is_up_to_date(tmp_path, "2024-06", "abd", {"as_of": "2024-06", "language": "en"})


def test_cli_language_list():
    import argparse

    from analysis.cli.report import parse_languages

    assert parse_languages("en,zh-CN") == ("en", "zh-CN")
    assert parse_languages("zh-TW") == ("zh-TW",)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_languages("en,fr")
