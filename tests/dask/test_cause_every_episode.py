"""Cause families for every episode of a sampled Dask book (issue #15).

The session's 4,000-loan synthetic book (seed 7, signals and reported reasons) on the Dask
engine, forced to sample half of its loans (``MODEL_MAX_LOANS`` = 2,000): the attribution
is fitted on the sample, and its fitted models give every other episode its family from
the inputs the pass collected (:func:`analysis.dask.report_pass.episode_inputs`).
"""

from __future__ import annotations

import pandas as pd
import pytest

import analysis.causes
from analysis.definitions import FAMILIES

AS_OF = "2024-06"
pytestmark = pytest.mark.skipif(
    not hasattr(analysis.causes, "attribute_episodes"),
    reason="needs analysis.causes.attribute_episodes (the fitted attribution applied to "
           "other episodes)")


@pytest.fixture(scope="module")
def sampled_ctx(synth_dir, cluster, tmp_path_factory):
    from analysis.dask import report_pass
    from analysis.report.context import open_context

    tmp = tmp_path_factory.mktemp("cause_every_episode")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_pass, "MODEL_MAX_LOANS", 2_000)
        mp.setenv("OVERDUE_RELIEF_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("OVERDUE_RELIEF_SCHEDULER", cluster.scheduler.address)
        ctx = open_context(str(synth_dir), AS_OF, engine="dask", tables_dir=str(tmp / "t"))
        yield ctx


def test_every_episode_gets_a_family_and_the_sample_keeps_its_own(sampled_ctx):
    ctx = sampled_ctx
    assert ctx.sampling["sampled"] and len(ctx.book_episodes) < len(ctx.episodes)
    episodes, note = ctx.with_cause()
    assert note == "" and len(episodes) == len(ctx.episodes)
    assert episodes["primary_family"].isin(FAMILIES).all()  # every episode, none missing
    # the sample's episodes: exactly the families of the attribution fitted on them
    att = analysis.causes.attribute(ctx.book, ctx.book_episodes, definitions=ctx.definitions,
                                    n_boot=0, min_cell=ctx.min_cell)
    keys = ["loan_id", "start_month"]
    own = att.per_episode[[*keys, "primary_family"]].astype({"loan_id": str})
    got = episodes[[*keys, "primary_family"]].astype({"loan_id": str}).merge(
        own, on=keys, suffixes=("", "_fit"))
    assert len(got) == len(ctx.book_episodes)
    assert (got["primary_family"] == got["primary_family_fit"]).all()
    # and the fitted models reproduce the sample's probabilities from the pass's inputs
    ins = ctx.episode_inputs
    inside = ins["loan_id"].isin(ctx.book.loans["loan_id"]).to_numpy()
    again = analysis.causes.attribute_episodes(att.scorer, ins[inside],
                                               ins.loc[inside, "reported_family"])
    pd.testing.assert_frame_equal(again.reset_index(drop=True),
                                  att.per_episode.reset_index(drop=True), check_dtype=False,
                                  rtol=1e-9)


def test_outside_families_follow_the_book(sampled_ctx, synth_dir):
    """Outside the sample the families are those of the same models: their mix is close to
    the sample's (an equal-probability sample), and a reported reason is believed as in
    the sample (the latent model's posterior)."""
    episodes, _ = sampled_ctx.with_cause()
    inside = episodes["loan_id"].isin(sampled_ctx.book.loans["loan_id"])
    a = episodes.loc[inside, "primary_family"].value_counts(normalize=True)
    b = episodes.loc[~inside, "primary_family"].value_counts(normalize=True)
    assert (a.reindex(FAMILIES).fillna(0) - b.reindex(FAMILIES).fillna(0)).abs().max() < 0.1
