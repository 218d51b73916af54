"""The cause and relief-effect pages in Chinese: figures, tables, narrative, notebooks.

Figures of :mod:`analysis.report.plots.causes` and :mod:`analysis.report.plots.effects` are drawn from
real results (the shared 4,000-loan synthetic book) in zh-CN and zh-TW: no glyph may be
missing, every title, axis label and legend entry must be Chinese; without a CJK font
they fall back to English with the visible note. The tables the two notebooks show must
have a title for every column, the narrative must come out in the language, and the
notebooks' code cells must hold no English sentence of their own.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.report.i18n import catalogue as i18n
from analysis.report.i18n import fonts
from analysis.report.plots import causes as pc
from analysis.report.plots import effects as pe
from analysis.report.text.causes import has_reporting, method_name, reporting_table, status_text
from analysis.report.text.display import TITLED_COLUMNS, display_codes
from analysis.report.text.effects import analysed_text, conclusions

ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")
NOTEBOOKS = ("02_overdue_causes.ipynb", "03_relief_effects.ipynb")


# ----------------------------------------------------------------------------- results
@pytest.fixture(scope="module")
def results(synth_book, synth_episodes, synth_dir) -> dict:
    """Everything notebooks 02 and 03 draw, on the shared synthetic book (small bootstrap)."""
    from analysis.causes import attribute, truth_comparison
    from analysis.effects.diagnostics import placebo
    from analysis.effects.estimators import estimate_effects
    from analysis.effects.losses import net_benefit
    from analysis.effects.survival import analyse_time_to_cure
    from analysis.report.context import read_truth

    att = attribute(synth_book, synth_episodes, n_boot=8, seed=1)
    truth = read_truth(synth_dir)
    # primary_family as targeting_recommend.with_cause adds it, from this attribution
    fam = att.per_episode[["loan_id", "start_month", "primary_family"]].astype({"loan_id": "string"})
    keys = synth_episodes[["loan_id", "start_month"]].astype({"loan_id": "string"})
    episodes = synth_episodes.assign(primary_family=keys.merge(
        fam, on=["loan_id", "start_month"], how="left")["primary_family"].to_numpy())
    by = ["cause_family", "borrower_type"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cure = estimate_effects(episodes, "cure", by=by)
        loss = estimate_effects(episodes, "loss_rate", by=by)
        surv = analyse_time_to_cure(episodes)
        pl = placebo(episodes)
        nb = net_benefit(episodes, by=by, nuisance=loss.nuisance)
    effects = pd.concat([cure.table, loss.table], ignore_index=True)
    return {"att": att, "comparison": truth_comparison(att, truth["episodes"]),
            "truth_effects": truth.get("effects"), "episodes": episodes, "cure": cure,
            "loss": loss, "effects": effects, "surv": surv, "placebo": pl, "nb": nb,
            "evalues": pd.concat([cure.evalues, loss.evalues], ignore_index=True)}


FIGURES = {
    "portfolio_shares": lambda r, t: pc.plot_portfolio_shares(r["att"], t=t),
    "segment_borrower_type": lambda r, t: pc.plot_segment_shares(r["att"], "borrower_type", t=t),
    "segment_region": lambda r, t: pc.plot_segment_shares(r["att"], "region", t=t),
    "trends": lambda r, t: pc.plot_trends(r["att"], t=t),
    "drivers": lambda r, t: pc.plot_drivers(r["att"], t=t),
    "calibration": lambda r, t: pc.plot_calibration(r["att"], t=t),
    "truth_comparison": lambda r, t: pc.plot_truth_comparison(r["comparison"], t=t),
    "forest": lambda r, t: pe.forest_plot(r["effects"], "cure", "ATT", truth=r["truth_effects"], t=t),
    "forest_family": lambda r, t: pe.forest_plot(r["effects"], "cure", "ATT",
                                                 segment_type="cause_family", t=t),
    "cure_curves": lambda r, t: pe.cure_curves(r["surv"].table, "ipw", horizon=12, t=t),
    "default_curves": lambda r, t: pe.cure_curves(r["surv"].table, "unweighted", event="default", t=t),
    "balance_att": lambda r, t: pe.balance_plot(r["cure"].balance, "ATT", t=t),
    "overlap": lambda r, t: pe.overlap_plot(r["cure"].nuisance.propensities(r["cure"].nuisance.x),
                                            r["episodes"].loc[r["cure"].nuisance.index, "measure"], t=t),
    "net_benefit": lambda r, t: pe.net_benefit_plot(r["nb"].table, "ATT", t=t),
    "net_benefit_family": lambda r, t: pe.net_benefit_plot(r["nb"].table, "ATT",
                                                           segment_type="cause_family", per_ead=True, t=t),
}


def _labels(fig) -> list[str]:
    """Titles, axis labels, legend entries and the suptitle of ``fig`` (no tick labels)."""
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        out += [ax.get_title(loc=loc) for loc in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            out += [x.get_text() for x in legend.get_texts()]
    return [s for s in out if s.strip()]


def _all_texts(fig) -> list[str]:
    return [x.get_text() for x in fig.findobj(lambda a: hasattr(a, "get_text"))]


# ----------------------------------------------------------------------------- figures
@pytest.mark.parametrize("language", ["zh-CN", "zh-TW"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_in_chinese_without_missing_glyphs(results, name, language):
    if fonts.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install -y fonts-wqy-microhei)")
    from analysis.report import style

    t = i18n.translator(language)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = FIGURES[name](results, t)
        png = style.figure_png(fig)
    assert png[:4] == b"\x89PNG"
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    labels = _labels(fig)
    assert labels, f"{name}: no title or labels"
    # Every title, axis label and legend entry is in the language (Han characters; the
    # first line of a title may be followed by "n = 1,234 <unit>").
    english = [s for s in labels if not HAN.search(s)]
    assert english == [], f"{name}: labels without Chinese: {english}"
    assert not any("Chinese font not installed" in s for s in _all_texts(fig))


@pytest.mark.parametrize("name", ["portfolio_shares", "forest", "cure_curves", "calibration"])
def test_figure_falls_back_to_english_with_a_note(results, name, monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda text=fonts.CJK_PROBE: None)
    fig = FIGURES[name](results, i18n.translator("zh-CN"))
    texts = _all_texts(fig)
    assert any("Chinese font not installed" in s for s in texts)
    assert not any(HAN.search(s) for s in texts if "Chinese font" not in s)


def test_english_figures_read_as_before(results):
    fig = FIGURES["forest"](results, None)
    title = fig.axes[0].get_title(loc="left") or fig.axes[0].get_title()
    assert title.startswith("Effect on cure within the horizon: ATT, AIPW vs no relief")
    assert "deferral" in [x.get_text() for x in fig.axes[0].get_yticklabels()]
    fig = FIGURES["portfolio_shares"](results, None)
    assert [x.get_text() for x in fig.axes[0].get_xticklabels()] == [
        "economic environment", "business management", "personal finances"]


def test_chinese_figure_names_categories(results):
    if fonts.cjk_font() is None:
        pytest.skip("no CJK font installed")
    fig = FIGURES["forest_family"](results, i18n.translator("zh-CN"))
    ticks = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    assert any(s.startswith("经济环境 | ") for s in ticks)
    assert {s.split(" | ")[1] for s in ticks} <= {"延期还款", "分期还款", "利息减免", "财务咨询"}
    fig = FIGURES["portfolio_shares"](results, i18n.translator("zh-TW"))
    assert [x.get_text() for x in fig.axes[0].get_xticklabels()] == ["經濟環境", "經營管理", "個人財務"]


# ----------------------------------------------------------------------------- tables
def _shown_tables(r: dict) -> dict[str, pd.DataFrame]:
    """The tables notebooks 02 and 03 pass to ``ctx.show`` (same selections)."""
    att, ev = r["att"], r["evalues"]
    trends = att.trends[(att.trends["method"] == att.method) & (att.trends["weight"] == "count")]
    return {
        "summary": att.summary(),
        "shares": att.shares(by="borrower_type").drop(columns=["segment_type", "method"]),
        "trends": trends.drop(columns=["method", "weight"]), "drivers": att.drivers,
        "agreement": att.agreement, "reporting": reporting_table(att), "selection": att.selection,
        "confusion": att.confusion,
        "comparison": r["comparison"], "effect_summary": r["cure"].summary(),
        "hazard_ratios": r["surv"].hazard_ratios, "overlap": r["cure"].overlap,
        "evalues": ev[(ev["method"] == "aipw") & (ev["segment_type"] == "all")].drop(
            columns=["segment_type", "segment", "method"]),
        "placebo": r["placebo"], "net_benefit": r["nb"].summary(),
        "expected_loss": r["nb"].expected_loss[r["nb"].expected_loss["segment_type"] == "all"],
    }


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW"])
def test_every_shown_column_has_a_title(results, language):
    t = i18n.translator(language)
    for name, df in _shown_tables(results).items():
        shown = i18n.translate_frame(display_codes(df, t), t)
        untitled = [c for c in shown.columns if not HAN.search(str(c)) and c != "is_suppressed"]
        assert untitled == [], f"{name}: columns without a {language} title: {untitled}"
        assert shown.columns.is_unique, name


def test_titled_columns_match_the_catalogue():
    area = yaml.safe_load((i18n.LOCALE_DIR / "en" / "causes_effects.yml").read_text("utf-8"))
    assert sorted(area["column"]) == sorted(TITLED_COLUMNS)


def test_display_codes_hand_made():
    df = pd.DataFrame({
        "outcome": ["cure", "loss_rate", "prev_dpd"], "method": ["aipw", "naive", "other"],
        "segment_type": ["cause_family", "borrower_type", "all"],
        "segment": ["economic", "individual", "all"], "measure": ["deferral"] * 3,
        "selected": [True, False, True], "model": ["shapley", "label_model", "x"],
        "reported_family": ["personal", np.nan, "management"], "n": [20, 30, 40]})
    zh = i18n.translator("zh-CN")
    out = i18n.translate_frame(display_codes(df, zh), zh)
    assert out["结局指标"].tolist() == ["治愈", "损失率", "逾期前一个月的逾期天数"]
    assert out["方法"].tolist() == ["双重稳健（AIPW）", "朴素差异", "other"]
    assert out["细分群体"].tolist() == ["经济环境", "个人", "全部"]
    assert out["细分维度"].tolist() == ["原因类别", "借款人类型", "全部贷款"]
    assert out["是否采用"].tolist() == ["是", "否", "是"]
    assert out["模型"].tolist() == ["逾期发生模型的 Shapley 分解", "标签模型", "x"]
    latent = display_codes(pd.DataFrame({"model": ["latent"]}), i18n.translator("zh-TW"))
    assert latent["model"].tolist() == ["潛在競爭原因模型"]
    assert out["报告的原因类别"].iloc[0] == "个人财务" and pd.isna(out["报告的原因类别"].iloc[1])
    assert out["纾困措施"].tolist() == ["延期还款"] * 3
    assert display_codes(df, i18n.translator("en")) is df  # English: shown as coded
    assert df["outcome"].iloc[0] == "cure"  # the input is not changed


def test_reporting_table_shown_and_suppressed(results):
    """The latent model's reporting table: fitted on the shared book (signals and reports),
    every column titled, and a family resting on fewer than min_cell expected episodes
    blanked by the count the notebook names (``n_episodes_est``)."""
    from analysis.report.privacy import for_display, suppress

    att = results["att"]
    assert has_reporting(att) and "latent" in set(att.agreement["model"])
    assert list(att.reporting["family"]) == ["economic", "management", "personal"]
    table = reporting_table(att)
    assert list(table.columns) == [
        "family", "report_rate", "report_rate_ci_low", "report_rate_ci_high",
        "share_named_economic", "share_named_management", "share_named_personal",
        "n_episodes_est"]
    assert (table["report_rate_ci_low"] <= table["report_rate"]).all()
    assert (table["report_rate"] <= table["report_rate_ci_high"]).all()
    np.testing.assert_allclose(table.filter(like="share_named_").sum(axis=1), 1.0)
    assert table["n_episodes_est"].sum() == pytest.approx(att.info["n_episodes"])
    small = table.assign(n_episodes_est=[3.4, 500.0, 600.0])
    shown = for_display(suppress(small, 10, n_col="n_episodes_est"), 10)
    assert shown["report_rate"].iloc[0] == "suppressed" and shown["n_episodes_est"].iloc[0] == "suppressed"
    assert shown["report_rate"].iloc[1] == small["report_rate"].iloc[1]


def test_combined_note_follows_the_method_used():
    class NoLatent:  # an Attribution without the latent model (no or too few reports)
        reporting = pd.DataFrame()

    zh = i18n.translator("zh-CN")
    assert not has_reporting(NoLatent()) and not has_reporting(object())
    assert reporting_table(NoLatent()).empty
    assert method_name(zh, "combined", note=True).startswith("潜在竞争原因模型")
    assert method_name(zh, "combined", note=True, latent=False).startswith("有报告原因时")
    en = i18n.translator("en")
    assert method_name(en, "combined", note=True, latent=False) == (
        "reported reason where given, else the better-calibrated model")
    assert method_name(en, "combined") == "combined"


def test_calibration_figure_shows_the_latent_model(results):
    fig = pc.plot_calibration(results["att"], t=i18n.translator("en"))
    legend = [x.get_text() for x in fig.axes[0].get_legend().get_texts()]
    assert "latent competing-causes model" in legend and "label model" in legend


@pytest.mark.parametrize("language", ["en", "zh-CN", "zh-TW"])
def test_page_text_describes_the_latent_model(language):
    """The intro, the agreement text and the caveats describe the combined method as the
    latent model, not the old rule (reported reason as it is, else the better model)."""
    cat = i18n.catalogue(language)
    intro, rep, cav = (cat[f"causes.text.{k}"] for k in ("intro", "reported_intro", "caveats"))
    latent = cat["causes.model.latent"]
    if language == "en":
        assert "latent competing-causes model" in intro and "missing not at random" in intro
        assert "`latent` row" in rep and "not with the true cause" in rep
        assert "each episode's own cause" in cav and "Who reports is selected" not in cav
    else:
        assert latent in intro and "50" in intro and latent in rep and "Shapley" in cav
        assert ("有选择" not in cav) and ("有選擇" not in cav)
    assert "causes_latent.py" in intro


# ----------------------------------------------------------------------------- narrative
def test_conclusions_in_each_language(results):
    r = results
    en = conclusions(r["effects"], r["nb"].table, r["evalues"])
    assert "Caveats" in en and "deferral" in en and "CNY per episode" in en
    zh = conclusions(r["effects"], r["nb"].table, r["evalues"], t=i18n.translator("zh-CN"))
    assert "注意事项" in zh and "延期还款" in zh and "个百分点" in zh and "元" in zh
    assert "deferral" not in zh and "points" not in zh and "Caveats" not in zh
    tw = conclusions(r["effects"], r["nb"].table, r["evalues"], t=i18n.translator("zh-TW"))
    assert "注意事項" in tw and "信賴區間" in tw and "延期還款" in tw


def test_conclusions_hand_made():
    eff = pd.DataFrame({
        "outcome": ["cure", "loss_rate"], "measure": ["deferral"] * 2, "estimand": ["ATT"] * 2,
        "segment_type": ["all"] * 2, "segment": ["all"] * 2, "method": ["aipw"] * 2,
        "estimate": [0.081, -0.02], "ci_low": [0.052, -0.05], "ci_high": [0.110, 0.01],
        "n_treated": [120, 120]})
    net = pd.DataFrame({"measure": ["deferral"], "estimand": ["ATT"], "segment_type": ["all"],
                        "net_benefit_cny": [1234.4], "ci_low": [-10.0], "ci_high": [2500.0]})
    en = conclusions(eff, net).splitlines()
    assert en[0] == "- **deferral** (120 episodes):"
    assert en[1] == ("  - cure rate +8.1 points (95% interval +5.2 to +11.0), clearly different "
                     "from no relief")
    assert en[2].startswith("  - loss rate -2.0 points (95% interval -5.0 to +1.0), not clearly")
    assert en[3] == "  - net benefit 1,234 CNY per episode (-10 to 2,500): it may or may not pay"
    zh = conclusions(eff, net, t=i18n.translator("zh-CN")).splitlines()
    assert zh[0] == "- **延期还款**（120 个逾期事件）："
    assert zh[1] == "  - 治愈率 +8.1 个百分点（95% 置信区间 +5.2 至 +11.0），与未采取措施有明显差异"


def test_status_and_analysed_text():
    class Att:  # the parts of an Attribution that status_text reads
        info = {"n_episodes": 1234, "n_labelled": 56}
        method = "combined"
        notes = ("An English note.",)

    zh = status_text(Att(), i18n.translator("zh-CN"))
    assert zh.startswith("共对 1,234 个逾期事件进行归因（其中 56 个") and "**综合法**" in zh
    assert "英文原文" in zh and "- An English note." in zh
    text = analysed_text({"cure": 716, "loss_rate": 700}, ["a", "a"], True, i18n.translator("zh-TW"))
    sep = i18n.catalogue("zh-TW").get("format.list_sep", ", ")
    assert text.startswith(f"分析的逾期事件：治癒 **716** 個{sep}損失率 **700** 個。")
    assert text.count("- a") == 1 and "歸因所得的主要原因類別" in text
    assert analysed_text({}, [], False, i18n.translator("en")).startswith(
        "No outcome could be analysed on this book. Episodes whose")


# ----------------------------------------------------------------------------- notebooks
def _code_cells(name: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
            and "parameters" not in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_no_english_of_its_own(name):
    """No markdown cells, no print, and no string literal that reads as English words:
    every heading, caption and sentence comes from the catalogue."""
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    assert [c for c in nb["cells"] if c["cell_type"] == "markdown"] == []
    words = re.compile(r"[A-Za-z]{2,}[ ,.:;]+[A-Za-z]{2,}")
    for src in _code_cells(name):
        tree = ast.parse(src)
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)]
        assert "print" not in calls, src
        literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                    and isinstance(n.value, str)]
        english = [s for s in literals if words.search(s) and not re.fullmatch(r"[a-z_.]+", s)]
        assert english == [], f"{name}: hard-coded text {english}"
    keys = set(re.findall(r"ctx\.t\(\s*\"([^\"]+)\"", "\n".join(_code_cells(name))))
    assert keys and keys <= set(i18n.catalogue("zh-TW"))
