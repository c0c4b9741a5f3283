"""Watch it learn, sentence by sentence: the probe sentences at each epoch, on a slider.

The trainer scores a fixed set of sentences (negation, contrast) at every epoch end and keeps
them in metrics.jsonl (sentiment_core.training.sentence_probes); this section shows them at
the epoch the slider names and how each moved since the epoch before. It redraws with the
live panel, so a run in progress gains a slider stop at each epoch end.
"""
from __future__ import annotations

import html
from typing import Sequence

import streamlit as st

from dashboard import theme
from dashboard.views.training_form import K
from sentiment_core.runs.metrics import RunMetrics
from sentiment_core.training.sentence_probes import probe_changes

SLIDER = K + "probe_epoch"
TABLE_CLASS = "probe-table"
TABLE_STYLE = (f"<style>.{TABLE_CLASS}-frame{{overflow-x:auto}} .{TABLE_CLASS}{{border-collapse:collapse;width:100%;"
               f"font-size:0.9rem}} .{TABLE_CLASS} td,.{TABLE_CLASS} th{{padding:4px 8px;border-bottom:1px solid "
               f"#e6e6e6;text-align:left;vertical-align:top}} .{TABLE_CLASS} td.p{{white-space:nowrap;"
               f"font-variant-numeric:tabular-nums}}</style>")


def epoch_label(epoch: int) -> str:
    return "before training" if epoch == 0 else f"after epoch {epoch}"


def probe_section(metrics: RunMetrics, class_names: Sequence[str], run_name: str) -> None:
    """The slider over epochs and the probe table at the chosen one (nothing if the run has no probes)."""
    history = metrics.sentence_probe_history()
    if not history:
        return
    st.markdown("#### Watch it learn, sentence by sentence")
    st.caption("A fixed set of sentences with negation and contrast, scored at the end of every epoch. "
               "Move the slider to see how the model read them then; arrows show the change since the "
               "epoch before (in percentage points).")
    epochs = sorted(history)
    if len(epochs) > 1:
        epoch = epoch_slider(epochs, run_name)
    else:
        epoch = epochs[0]
        st.caption(f"Only {epoch_label(epoch)} so far: the slider appears with the next epoch.")
    rows = probe_changes(history, epoch, class_names)
    st.markdown(probe_table_html(rows, class_names, epoch), unsafe_allow_html=True)


def epoch_slider(epochs: list[int], run_name: str) -> int:
    """The slider over `epochs`; it follows each new epoch of a live run until the visitor moves it.

    A keyed select_slider keeps its value when its options grow, so it stayed at "after epoch 1"
    while a run went on to epoch 3 (issue 22). Setting its value through session state was not
    enough on a loaded machine: a poll the browser sent before it had the new value carried the
    old one back, and the table fell back an epoch for seconds (seen in Chromium at load 16 on 2
    cores). So the choice lives in session state of its own, and the widget is keyed by the number
    of epochs too: a new epoch is a new widget, and a late answer of the old one is only a late
    answer. The choice follows the latest epoch until the visitor picks an earlier one, and again
    once they pick the latest. The run's name in the keys: another run's position never carries over.
    """
    base = f"{SLIDER}_{run_name}"
    choice, follows = base + "_choice", base + "_follows"
    if st.session_state.get(follows, True) or st.session_state.get(choice) not in epochs:
        st.session_state[choice] = epochs[-1]
    key = f"{base}_{len(epochs)}"

    def moved(latest: int, widget: str) -> None:
        picked = st.session_state[widget]
        st.session_state[follows] = picked == latest
        st.session_state[choice] = picked

    with st.container(key=base):  # the CSS class st-key-<base> stays while the widget's key changes
        return st.select_slider("Epoch", options=epochs, value=st.session_state[choice], key=key,
                                format_func=epoch_label, on_change=moved, args=(epochs[-1], key))


def probe_table_html(rows: Sequence[dict], class_names: Sequence[str], epoch: int) -> str:
    """An HTML table (real text, so a browser test can read it): sentence, prediction, each class's share.

    Sentences come from a file an operator wrote: every text is escaped.
    """
    colours = dict(zip(class_names, theme.class_colours(class_names)))
    head = "".join(f"<th>{html.escape(name)}</th>" for name in class_names)
    body = []
    for row in rows:
        chip = _chip(row["predicted"], colours)
        was = f"<br><small>was {html.escape(row['was'])}</small>" if row["was"] else ""
        cells = "".join(f"<td class='p'>{_share(p, row['change'][i] if row['change'] else None)}</td>"
                        for i, p in enumerate(row["probabilities"]))
        body.append(f"<tr><td>{html.escape(row['text'])}</td><td>{chip}{was}</td>{cells}</tr>")
    return (f"{TABLE_STYLE}<div class='{TABLE_CLASS}-frame'><table class='{TABLE_CLASS}' data-epoch='{epoch}'>"
            f"<caption style='caption-side:top;text-align:left'>{html.escape(epoch_label(epoch))}</caption>"
            f"<thead><tr><th>sentence</th><th>prediction</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _chip(label: str, colours: dict) -> str:
    colour = colours.get(label, theme.BASELINE_COLOUR)
    return (f"<span style='background:{colour};color:#fff;border-radius:4px;padding:1px 6px;"
            f"white-space:nowrap'>{html.escape(label)}</span>")


def _share(probability: float, change: float | None) -> str:
    """62.1% with its move since the previous epoch: ▲ 8.4 / ▼ 3.0 / = (under 0.05 points)."""
    shown = f"{probability:.1%}"
    if change is None:
        return shown
    points = change * 100
    arrow = "=" if abs(points) < 0.05 else (f"▲ {points:.1f}" if points > 0 else f"▼ {-points:.1f}")
    return f"{shown} <small style='color:{theme.NOTE_COLOUR}'>{arrow}</small>"
