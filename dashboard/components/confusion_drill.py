"""A confusion matrix whose cells lead to their sentences (the analysis and training pages).

The matrix is a grid of buttons, not a plotly heatmap: in this Streamlit a heatmap's on_select
returns no clicked cell (streamlit/streamlit issues 8760 and 15042), while a button is a widget
a test can find by key and click. Clicking cell (true X, predicted Y) lists those sentences with
the model's probabilities, the surest first, each linking to its parse tree in the explorer and to
the playground, both with the run (`run=NAME`). The scoring is analysis.confusion's (cached in
dashboard/resources.py); this module only draws.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence
from urllib.parse import quote, urlencode

import streamlit as st

from dashboard import resources
from dashboard.escape import escape_markdown
from dashboard.charts.confusion import grid_css
from dashboard.messages import user_message
from sentiment_core.analysis.evaluation.confusion import ScoredSentence, cell_sentences, confusion_counts, in_slice
from sentiment_core.errors import InferenceError
from sentiment_core.analysis.evaluation.slices import SENTENCE_SLICES
from sentiment_core.runs.store import RunError

MAX_LISTED = 50           # sentences listed for one cell (the count above the list is always complete)
ALL_SENTENCES = "all sentences"
LABEL_WIDTH = 76          # px: the true-class column of the grid


def explorer_link(split: str, index: int, run_name: str) -> str:
    """The explorer showing sentence `index` of `split` (its position in corpus.sentences[split]) with the run."""
    return "explorer?" + urlencode({"split": split, "index": index, "run": run_name}, quote_via=quote)


def playground_link(text: str, run_name: str) -> str:
    """The playground with `text` in its sentence box and the run that scored it answering (the playground reads
    `text` and `run`: a link carries the run it was about)."""
    return "playground?" + urlencode({"text": text, "run": run_name}, quote_via=quote)


def cell_table(sentences: Sequence[ScoredSentence], class_names: Sequence[str], split: str, run_name: str) -> str:
    """The sentences as a markdown table: text with its links, one probability per class (the predicted one bold).

    The links follow the text in the same cell, so on a phone they show without scrolling the table sideways.
    """
    head = "| # | sentence | " + " | ".join(escape_markdown(n) for n in class_names) + " |"
    lines = [head, "|---:|---|" + "---:|" * len(class_names)]
    for number, s in enumerate(sentences, 1):
        shares = [f"**{p:.1%}**" if c == s.predicted else f"{p:.1%}" for c, p in enumerate(s.probabilities)]
        links = (f"[parse tree]({explorer_link(split, s.index, run_name)}) · "
                 f"[playground]({playground_link(s.text, run_name)})")
        lines.append(f"| {number} | {escape_markdown(s.text)} — {links} | " + " | ".join(shares) + " |")
    return "\n".join(lines)


def _choose(state_key: str, cell: tuple[int, int]) -> None:
    st.session_state[state_key] = cell


def cell_grid(counts: Sequence[Sequence[int]], class_names: Sequence[str], key: str) -> tuple[int, int] | None:
    """The matrix as buttons (count and share of the true class's row); returns the chosen cell, if any."""
    state_key = f"{key}_cell"
    chosen = st.session_state.get(state_key)
    st.html(grid_css(key, counts, LABEL_WIDTH))  # each cell shaded by its row share, every cell as wide (issue 22)
    # Rows of horizontal containers, not st.columns: columns keep a 128 px minimum each, too wide for a
    # 3- or 5-class grid on a phone; here the label has a fixed width and the cells share the rest.
    header = st.container(horizontal=True, gap="xsmall", wrap=False, key=f"{key}_grid_head")
    header.caption("true ↓ predicted →", width=LABEL_WIDTH)
    for name in class_names:
        header.markdown(f"**{escape_markdown(name)}**", width="stretch", text_alignment="center")
    for i, true_name in enumerate(class_names):
        row = st.container(horizontal=True, gap="xsmall", wrap=False, vertical_alignment="center",
                           key=f"{key}_grid_{i}")
        row.markdown(f"**{escape_markdown(true_name)}**", width=LABEL_WIDTH)
        total = sum(counts[i])
        for j in range(len(class_names)):
            count = counts[i][j]
            share = count / total if total else 0.0
            row.button(f"{count:,} · {share:.0%}", key=f"{key}_cell_{i}_{j}", width="stretch", wrap=True,
                       type="primary" if chosen == (i, j) else "secondary", disabled=count == 0,
                       on_click=_choose, args=(state_key, (i, j)),
                       help=f"{count:,} {true_name} sentences predicted {class_names[j]} "
                            f"({share:.1%} of the {total:,} {true_name} sentences): click to list them")
    return tuple(chosen) if chosen else None


def show_cell(sentences: Sequence[ScoredSentence], class_names: Sequence[str], cell: tuple[int, int], split: str,
              run_name: str, slice_name: str | None) -> None:
    true, predicted = cell
    listed = cell_sentences(sentences, true, predicted)
    where = f" ({escape_markdown(slice_name)})" if slice_name else ""
    verdict = "right" if true == predicted else "wrong"
    st.markdown(f"**{len(listed):,}** {escape_markdown(class_names[true])} {split} sentences{where} predicted "
                f"**{escape_markdown(class_names[predicted])}** ({verdict}), the model's surest answers first:")
    if not listed:
        st.info("No sentence falls in this cell here: pick another cell or slice.")
        return
    st.markdown(cell_table(listed[:MAX_LISTED], class_names, split, run_name))
    if len(listed) > MAX_LISTED:
        st.caption(f"The {MAX_LISTED} surest of {len(listed):,}. The explorer lists every sentence of the split.")


def confusion_drill(run_dir: Path, run_name: str, corpus, split: str, key: str, limit: int | None = None,
                    slice_picker: bool = True) -> None:
    """A run's confusion matrix on `split` (its first `limit` sentences; optionally one slice) whose cells list
    their sentences."""
    if corpus is None:
        st.caption(resources.needs_treebank_note("Listing the sentences behind the confusion matrix"))
        return
    try:
        scored = resources.scored_sentences(Path(run_dir), corpus, split, limit)
    except (RunError, InferenceError, OSError, ValueError) as err:
        st.error(f"The run's sentences could not be scored: {user_message(err)}")
        return
    slice_name = None
    if slice_picker:
        names = [ALL_SENTENCES, *(piece.name for piece in SENTENCE_SLICES)]
        choice = st.selectbox("Sentences", names, key=f"{key}_slice",
                              help="The matrix of one slice: negation, contrast, length, unknown words.")
        slice_name = None if choice == ALL_SENTENCES else choice
    sentences = in_slice(scored.sentences, slice_name)
    class_names = list(scored.class_names)
    st.caption(f"Confusion matrix of {len(sentences):,} {split} sentences: rows are the true class, columns the "
               "predicted one (count · share of the row). Click a cell to list its sentences.")
    cell = cell_grid(confusion_counts(sentences, len(class_names)), class_names, key)
    if cell is not None and max(cell) < len(class_names):
        show_cell(sentences, class_names, cell, split, run_name, slice_name)
