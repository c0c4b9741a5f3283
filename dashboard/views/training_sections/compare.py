"""Comparing runs: results first (accuracy, macro F1, each class's recall), then any per-epoch metric
overlaid, the batch loss with adjustable smoothing, and the settings last.

Each run has one colour on every chart and every page (resources.run_colour_map: every run the
server knows), so choosing a subset never recolours a run (and never uses train/dev's blue/orange).
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.charts.comparison import batch_loss_overlay, overlay_chart
from dashboard.escape import escape_markdown
from dashboard.views.training_form import K
from sentiment_core.analysis.evaluation.run_progress import smooth
from sentiment_core.runs import jobs
from sentiment_core.runs.comparison import comparison_row, epoch_metric_names, metric_title, results_row, settings_only
from sentiment_core.runs.store import RunNotFound

DEFAULT_SMOOTHING = 0.9


def compare_section(views: list[jobs.JobView], references_for: Callable[[int], tuple[list, str | None]]) -> None:
    """`references_for(labels)`: (reference lines, note) for an accuracy chart of that label scheme."""
    names = [v.name for v in views]
    if K + "compare" in st.session_state:  # a deleted run leaves the choice quietly
        st.session_state[K + "compare"] = [n for n in st.session_state[K + "compare"] if n in names]
    chosen = st.multiselect("Runs to compare", names, key=K + "compare", placeholder="choose two or more runs")
    if not chosen:
        st.caption("Choose runs to see their results side by side, overlay any per-epoch measure and their "
                   "training loss, and list their settings.")
        return
    colours = resources.run_colour_map(resources.runs_root())
    by_name = {v.name: v for v in views}
    runs = {}
    for name in chosen:
        try:
            runs[name] = resources.run_metrics(by_name[name].path)
        except (RunNotFound, KeyError):
            st.warning(f"The run {escape_markdown(name)} was deleted.")
    settings_rows = [comparison_row(by_name[name]) for name in runs]
    st.markdown("##### Results of the best checkpoints")
    results_table([results_row(name, by_name[name].status.get("results")) for name in runs], key=K + "compare_results")
    curves = {name: metrics.epoch_rows() for name, metrics in runs.items()}
    schemes = {row["labels"] for row in settings_rows}
    if len(schemes) == 1 and None not in schemes:
        references, note = references_for(schemes.pop())
    else:
        references, note = [], "The runs use different label schemes, so no reference lines are drawn."
    metrics_names = epoch_metric_names(curves)
    if metrics_names:
        metric = st.selectbox("Per-epoch measure", metrics_names, key=K + "compare_metric", format_func=metric_title)
        st.plotly_chart(overlay_chart(curves, metric, colours, references), key=K + "overlay", width="stretch")
        if note and metric.endswith("accuracy"):
            st.caption(note)
    weight = st.slider("Smoothing of the batch loss", 0.0, 0.99, DEFAULT_SMOOTHING, 0.01, key=K + "compare_smoothing",
                       help="The weight of the moving average (as in TensorBoard): 0 draws every batch's loss, "
                            "0.99 a very smooth line.")
    losses = {name: (m.positions, smooth(m.losses, weight)) for name, m in runs.items() if m.losses}
    if losses:
        st.plotly_chart(batch_loss_overlay(losses, colours), key=K + "compare_batch_loss", width="stretch")
    st.markdown("##### Settings")
    st.dataframe(pd.DataFrame([settings_only(row) for row in settings_rows]), hide_index=True, width="stretch")


def results_table(rows: list[dict], key: str) -> None:
    """Best checkpoints' accuracy, macro F1 and recall per class, a row per run (no results: blanks)."""
    table = pd.DataFrame(rows)
    shares = [c for c in table.columns if c.endswith("accuracy") or " recall " in c]
    table[shares] = table[shares].astype(float) * 100  # shown as 67.4%: one decimal, as on every page
    formats = {c: st.column_config.NumberColumn(format="%.1f%%") for c in shares}
    formats.update({c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c.endswith("macro F1")})
    st.dataframe(table, hide_index=True, width="stretch", column_config=formats, key=key)
    st.caption("Recall per class: the share of each class's sentences the run gets right. A run can score "
               "well on accuracy while almost never answering a rarer class (often neutral); macro F1 "
               "weighs every class equally.")
