"""The targeting page and the report chrome in the report language (issue #9, part B).

Hand-built rules and tables; the expected texts are written out in full, so a change of
the rendering or of the catalogue shows here.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis.report.i18n import catalogue as i18n
from analysis.report.i18n import fonts
from analysis.report.text import targeting as tt
from analysis.report.text.display import display_codes
from analysis.targeting.rules import BudgetRule, GridRule, Node, Split

ROOT = Path(__file__).resolve().parents[2]
EN, ZH, TW = (i18n.translator(lang) for lang in ("en", "zh-CN", "zh-TW"))
HAN = re.compile(r"[\u4e00-\u9fff]")

# if cause in {economic}: deferral; else: ead <= 50,000 -> none, else counselling
TREE = Node(split=Split("primary_family", "categorical", ("economic",)),
            left=Node(arm="deferral"),
            right=Node(split=Split("ead", "numeric", threshold=50000.0),
                       left=Node(arm="none"), right=Node(arm="counselling")))


def test_tree_rule_text_in_each_language():
    assert tt.rule_text(TREE, EN) == (
        "if attributed cause is economic environment:\n"
        "    → deferral\n"
        "else:\n"
        "    if exposure at the start of the episode (CNY) ≤ 50,000:\n"
        "        → no relief\n"
        "    else:\n"
        "        → financial counselling")
    assert tt.rule_text(TREE, ZH) == (
        "如果归因原因为经济环境：\n"
        "    → 措施：延期还款\n"
        "否则：\n"
        "    如果逾期起始风险敞口（元）不超过50,000：\n"
        "        → 措施：未采取措施\n"
        "    否则：\n"
        "        → 措施：财务咨询")
    tw = tt.rule_text(TREE, TW)
    assert "歸因原因為經濟環境" in tw and "暴險額" in tw and "財務諮詢" in tw


def test_one_line_merges_bounds_and_names_levels():
    tree = Node(split=Split("ead", "numeric", threshold=3000.0), left=Node(arm="none"),
                right=Node(split=Split("ead", "numeric", threshold=9000.0),
                           left=Node(arm="deferral"), right=Node(arm="instalment")))
    assert tt.rule_one_line(tree, ZH) == (
        "逾期起始风险敞口（元）不超过3,000 → 措施：未采取措施；"
        "逾期起始风险敞口（元）超过3,000且不超过9,000 → 措施：延期还款；"
        "逾期起始风险敞口（元）超过9,000 → 措施：分期还款")
    two = Split("borrower_type", "categorical", ("individual", "<NA>"))
    assert tt.split_text(two, "left", EN) == "borrower type is one of individual, missing"
    assert tt.split_text(two, "right", ZH) == "借款人类型不为个人、缺失中任一项"
    assert tt.split_text(Split("region", "categorical", ("east",)), "right", EN) == "region is not east"
    assert tt.rule_one_line(Node(arm="deferral"), ZH) == "延期还款"


def test_grid_rule_and_budget_rule():
    grid = GridRule(("primary_family", "borrower_type"),
                    (("economic", "individual", "deferral"),), default="none")
    assert tt.rule_text(grid, ZH).splitlines() == [
        "如果归因原因为经济环境且借款人类型为个人： → 措施：延期还款", "否则： → 措施：未采取措施"]
    assert tt.rule_one_line(grid, EN) == (
        "attributed cause is economic environment and borrower type is individual → deferral; "
        "any other cell → no relief")
    budget = BudgetRule(TREE, ("primary_family",), ((0, ("economic",), "deferral", 2.0),),
                        "ead", 0.005)
    assert tt.rule_one_line(budget, ZH) == (
        "预算约束下的学习规则（成本不超过风险敞口的 0.5%）：1 个组采取其措施，其余不采取措施")


def test_policy_frame_is_display_only():
    df = pd.DataFrame({"policy": ["current_practice", "all_rate_reduction", "learned",
                                  "learned_budget", "someone_elses"],
                       "vs": ["current_practice"] * 5, "rule": ["english text"] * 5,
                       "covered": [True, False, True, pd.NA, True]})
    out = tt.policy_frame(df, ZH, {"learned": TREE})
    assert tt.policy_frame(df, ZH)["rule"].iloc[2] == "见精准纾困页面所列规则"  # no rule object
    assert out["policy"].tolist() == ["现行做法", "一律利息减免", "学习所得规则",
                                      "预算约束下的学习规则", "someone_elses"]
    assert out["vs"].unique().tolist() == ["现行做法"]
    assert out["rule"].iloc[0] == "实际采取的措施"
    assert out["rule"].iloc[2].startswith("归因原因为经济环境 → 措施：延期还款；")
    assert out["rule"].iloc[4] == "someone_elses"  # unknown code, no rule object: as it is
    assert out["covered"].iloc[:2].tolist() == ["是", "否"]
    assert tt.policy_frame(df, EN)["covered"].tolist()[:2] == [True, False]  # English: as is
    assert df["policy"].iloc[0] == "current_practice" and df["rule"].iloc[0] == "english text"
    kinds = tt.policy_frame(pd.DataFrame({"budget_kind": ["ead", "treated"],
                                          "budget_share": [0.00125, 0.005]}), TW)
    assert kinds["budget_kind"].tolist() == ["成本佔暴險額比例", "採取措施的逾期事件佔比"]
    assert kinds["budget_share"].tolist() == ["0.125%", "0.500%"]


def test_sentences():
    gain = pd.DataFrame({"policy": ["learned", "learned_budget"], "vs": "current_practice",
                         "gain_per_episode_cny": [1234.4, -56.0], "ci_low": [-100.0, -80.0],
                         "ci_high": [2500.0, 10.0], "gain_total_cny": [123440.0, -5600.0],
                         "n_episodes": [100, 100]})
    zh = tt.gain_sentence(gain, 0.005, ZH)
    assert zh.startswith("学习所得规则将使每个逾期事件的净收益变化 **1,234 元**（95% 置信区间 -100 元 至 2,500 元）")
    assert "合计 **123,440 元**" in zh and "风险敞口的 0.5%" in zh and "变化 -56 元" in zh
    en = tt.gain_sentence(gain, 0.005, EN)
    assert "**CNY 1,234 per episode**" in en and "(0.5 % of EAD)" in en
    assert tt.compared_sentence(1234, ["deferral", "counselling"], ZH) == (
        "在 **1,234 个**观察期已结束的逾期事件上比较（参与比较的措施：延期还款、财务咨询）。")


# ----------------------------------------------------------------------------- figures
def _policy_inputs():
    table = pd.DataFrame({"policy": ["current_practice", "no_relief", "all_deferral", "learned"],
                          "value_net_benefit": [100.0, 0.0, 250.0, 300.0],
                          "ci_low": [50.0, 0.0, 100.0, 120.0], "ci_high": [150.0, 0.0, 400.0, 480.0],
                          "n_episodes": 500})
    cells = pd.DataFrame({"cause": ["economic", "management"],
                          "borrower_type": ["individual", "individual"],
                          "measure": ["deferral", "counselling"], "share": [0.8, 1.0],
                          "n_episodes": [120, 80]})
    curve = pd.DataFrame({"budget_kind": "ead", "budget_share": [0.0, 0.002, 0.004],
                          "value_net_benefit": [0.0, 150.0, 220.0], "ci_low": [0.0, 50.0, 90.0],
                          "ci_high": [0.0, 250.0, 350.0], "n_episodes": 500})
    return table, cells, curve


def _figures(t):
    from analysis.report.plots import targeting as pt

    table, cells, curve = _policy_inputs()
    return [pt.plot_policy_values(table, t=t), pt.plot_rule_grid(cells, t=t),
            pt.plot_budget_curve(curve, 300.0, t=t)]


def _texts(fig) -> list[str]:
    return [x.get_text() for x in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_targeting_figures_in_chinese_without_missing_glyphs():
    if fonts.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install -y fonts-wqy-microhei)")
    from analysis.report import style

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = _figures(ZH)
        for fig in figs:
            style.figure_png(fig)
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    texts = ["\n".join(_texts(f)) for f in figs]
    assert "一律延期还款" in texts[0] and "各策略相对于不采取措施的净收益" in texts[0]
    assert "经济环境" in texts[1] and "财务咨询" in texts[1] and "占单元格 80%" in texts[1]
    assert "预算约束下的学习规则" in texts[2]
    english = re.compile(r"\b(policy|episodes|budget|learned|cause|borrower|cell)\b", re.I)
    assert [s for t in texts for s in t.splitlines() if english.search(s)] == []


def test_targeting_figures_fall_back_to_english(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda text=fonts.CJK_PROBE: None)
    for fig in _figures(ZH):
        texts = _texts(fig)
        assert any("Chinese font not installed" in s for s in texts)
        assert not any(HAN.search(s) for s in texts if "Chinese font" not in s)


# ----------------------------------------------------------------------------- page chrome
def test_footer_tables_and_month_pages_in_chinese():
    from analysis.report import html as rh

    foot = rh.footer_html("r1", "2024-06", {"language": "zh-CN", "as_of": "2024-06",
                                            "data_dir": "/secret/path"}, "1.0")
    assert foot.startswith('<footer class="report-footer">报告月份 2024-06 · 运行编号 r1')
    assert "/secret/path" not in foot and "Reporting month" not in foot
    assert "Reporting month 2024-06" in rh.footer_html("r1", "2024-06", {}, "1.0")
    page = rh.tables_page("2024-06", [("kpis.csv", 12, ["metric", "value"])], language="zh-TW")
    assert '<html lang="zh-TW">' in page and "<h1>資料表，2024-06</h1>" in page
    assert "<th>檔案</th><th>列數</th><th>欄位</th>" in page and "Tidy CSV" not in page
    month = rh.month_link_page("2024-06", [("资产组合概览", "01.zh-CN.html")], ["kpis.csv"],
                               "zh-CN")
    assert "<h1>2024-06 报告</h1>" in month and 'href="../index.zh-CN.html">全部月份' in month


def _month(out: Path, name: str, langs: tuple[str, ...], run_id: str) -> None:
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "as_of": name,
                                                 "ended_at": "2024-07-01T10:00:00",
                                                 "parameters": {}}))
    for lang in langs:
        (folder / ("index.html" if lang == "en" else f"index.{lang}.html")).write_text("x")


def test_months_index_per_language_with_twins(tmp_path):
    from analysis.report.index import published_languages, write_months_index

    _month(tmp_path, "2024-05", ("en",), "a")
    _month(tmp_path, "2024-06", ("en", "zh-CN"), "b")
    assert published_languages(tmp_path) == ["en", "zh-CN"]
    write_months_index(tmp_path)
    en = (tmp_path / "index.html").read_text(encoding="utf-8")
    zh = (tmp_path / "index.zh-CN.html").read_text(encoding="utf-8")
    assert not (tmp_path / "index.zh-TW.html").exists()
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    assert 'href="index.zh-CN.html">简体中文' in en and 'href="index.html">English' in zh
    assert 'href="2024-06/index.zh-CN.html"' in zh  # the month's Chinese page
    assert 'href="2024-05/index.html"' in zh  # no Chinese page that month: the English one
    assert "<h1>逾期与纾困报告</h1>" in zh and "已发布月份" in zh and "全部贷款" in zh
    for word in ("Overdue and relief reports", "Published months", "all loans", "Rates are"):
        assert word not in zh and (word in en or word == "all loans")


def test_summary_block_caption_and_note_in_language():
    from analysis.report import tables as rt

    shown: list = []

    class Ctx:
        t = ZH
        min_cell = 10

        def show(self, df, *, n_col=None, caption=None, **kw):
            shown.append((df, caption))

    displayed: list = []
    import IPython.display as ipd

    orig = ipd.display
    ipd.display = lambda obj: displayed.append(obj)
    try:
        rt.summary_block(Ctx(), None, "effects")
        table = pd.DataFrame({"segment_type": ["all"] * 3 + ["region"], "segment": "x",
                              "method": ["aipw", "naive", "aipw", "aipw"],
                              "estimate": [0.1, 0.2, 0.3, 0.4]})
        rt.summary_block(Ctx(), table, "effects", max_rows=1, prefer={"method": ["aipw"]})
    finally:
        ipd.display = orig
    assert displayed[0].data == "*本次运行没有 `effects` 表：生成该表的页面未运行。*"
    df, caption = shown[0]
    assert df["estimate"].tolist() == [0.1] and "method" not in df.columns
    title = ZH.messages.get("column.method", "method")
    aipw = display_codes(pd.DataFrame({"method": ["aipw"]}), ZH)["method"].iloc[0]
    assert aipw != "aipw"  # the estimator is named in Chinese
    assert caption == f"纾困措施效果（全部贷款）（{title}：{aipw}）：显示前 1 行，共 2 行"
    rt.summary_block(Ctx(), pd.DataFrame({"policy": ["learned"], "rule": ["x -> deferral"],
                                          "value_net_benefit": [1.0]}), "targeting")
    rt.summary_block(Ctx(), pd.DataFrame({"method": ["combined"], "share": [0.5]}),
                     "attribution", prefer={"method": ["model", "combined"]})
    assert shown[2][1] == f"逾期原因归因（全部贷款）（{title}：综合法）"
    small = pd.DataFrame({"family": ["economic", "personal"], "share": [0.6, float("nan")],
                          "n_episodes": [50.0, float("nan")], "is_suppressed": [False, True]})
    rt.summary_block(Ctx(), small, "attribution")
    assert shown[3][0]["share"].tolist() == [0.6, "已隐藏"]
    assert shown[3][0]["n_episodes"].tolist()[1] == "已隐藏" and "is_suppressed" not in shown[3][0]
    df, caption = shown[1]
    assert caption == "纾困策略比较"
    assert df.iloc[0].tolist() == ["学习所得规则", "见精准纾困页面所列规则", 1.0]


# ----------------------------------------------------------------------------- notebook 04
def _english_sentences(source: str) -> list[str]:
    """String constants (f-string parts too) with four or more English words in a row."""
    words = re.compile(r"(?:\b[A-Za-z]{2,}\b[ ,;:]+){3}\b[A-Za-z]{2,}\b")
    texts = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.JoinedStr):  # f"...{x}...": placeholders read as a word
            texts.append("".join(v.value if isinstance(v, ast.Constant) else "value"
                                 for v in n.values))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            texts.append(n.value)
    return [s for s in texts if words.search(s)]


def test_notebook_04_has_no_hard_coded_sentences():
    cells = json.loads((ROOT / "notebooks" / "04_targeting.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in cells["cells"]
            if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])]
    found = [s for src in code for s in _english_sentences(src)]
    assert found == []
    assert _english_sentences('x = f"Compared on {n} episodes whose window"') != []


def test_sample_note_in_each_language():
    from analysis.report.text.sample import with_sample_note

    d = dict(sampled=True, n_sample_loans=200_000, n_loans=10_000_000, fraction=0.02,
             n_sample_episodes=30_000, n_episodes=1_500_000, se_inflation=7.07)
    assert with_sample_note({"sampled": False}) == ""
    assert "200,000 of 10,000,000 loans (2.0 %" in with_sample_note(d) and "7.1 times" in with_sample_note(d)
    zh = with_sample_note(d, i18n.translator("zh-CN"))
    assert "抽样" in zh and "2.0%" in zh and "7.1 倍" in zh
