"""Dataset explorer: sentences and phrases, search and filters, label charts, parse trees, hard cases."""
from __future__ import annotations

import random

import streamlit as st

from dashboard import resources
from dashboard.charts import data as charts
from dashboard.components import model_tree
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from sentiment_core.analysis.exploration import explore
from sentiment_core.data.treebank import SPLITS
from sentiment_core.data.text import LABEL_COUNTS, label_scheme

MAX_TABLE_ROWS = 5_000  # more rows than anyone scrolls; the count above the table is always complete
TREE_ROW = "explorer_tree_row"
SCHEME_NAMES = {2: "2: positive / negative", 3: "3: + neutral", 5: "5: very negative ... very positive"}

st.title("Dataset explorer")
corpus = resources.require_corpus()

split_col, labels_col, level_col = st.columns(3)
split_choice = split_col.radio("Split", ("all", *SPLITS), horizontal=True, key="explorer_split")
labels = labels_col.radio("Label scheme", LABEL_COUNTS, index=1, horizontal=True, key="explorer_labels",
                          format_func=SCHEME_NAMES.get,
                          help="2 classes drop the neutral sentences; 5 keeps the treebank's own labels.")
level = level_col.radio("Level", ("sentences", "phrases"), horizontal=True, key="explorer_level",
                        help="Phrases: every distinct labelled phrase of the training trees.")
phrases = level == "phrases"
splits = tuple(SPLITS) if split_choice == "all" else (split_choice,)
if phrases and splits != ("train",):
    st.caption("Phrases are listed for the training split; dev and test rows stay whole sentences "
               "(models are evaluated on sentences).")
scheme = label_scheme(labels)
rows = resources.example_rows(corpus, labels, splits, phrases)

search_col, mode_col = st.columns([3, 1])
query = search_col.text_input("Search", key="explorer_search", placeholder="e.g. not funny   or   ^the .* film$")
mode = mode_col.radio("Search for", explore.SEARCH_MODES, horizontal=True, key="explorer_search_mode",
                      format_func={"words": "all these words", "regex": "regular expression"}.get)
filter_col, length_col = st.columns([3, 2])
chosen_names = filter_col.multiselect("Labels", scheme.class_names, default=list(scheme.class_names),
                                      key=f"explorer_label_filter_{labels}")
longest = max((row.length for row in rows), default=1)
length_range = length_col.slider("Length (tokens)", 1, max(longest, 2), (1, max(longest, 2)),
                                 key=f"explorer_length_{longest}")

try:
    matches = explore.compile_search(query, mode)
except explore.SearchError as err:
    st.error(f"{user_message(err)} The table below ignores the search until then.")
    matches = None
wanted = [scheme.class_names.index(name) for name in chosen_names]
filtered = explore.filter_rows(rows, matches, wanted, length_range)
unit = "rows" if phrases and len(splits) > 1 else level
st.markdown(f"**{len(filtered):,}** of {len(rows):,} {unit} match.")

table_tab, charts_tab, tree_tab, hard_tab = st.tabs(["Table", "Charts", "Sentence tree", "Hard cases"],
                                                    default="Sentence tree" if model_tree.has_link() else None)


def _pick_table_row() -> None:
    selected = st.session_state["explorer_table"].selection.rows
    if selected:
        st.session_state[TREE_ROW] = selected[0]


def _pick_random_row(count: int) -> None:
    st.session_state[TREE_ROW] = random.randrange(count)


with table_tab:
    if not filtered:
        st.info(f"No {unit} match these filters. Clear the search, pick more labels or widen the length range.")
    else:
        shown = filtered[:MAX_TABLE_ROWS]
        st.dataframe(
            # the label first: on a phone the long text column scrolls the others out of view
            {"label": [scheme.class_names[r.label] for r in shown], "text": [r.text for r in shown],
             "length": [r.length for r in shown], "split": [r.split for r in shown],
             "sentence": [r.index for r in shown]},
            hide_index=True, key="explorer_table", on_select=_pick_table_row, selection_mode="single-row",
            column_config={"sentence": st.column_config.NumberColumn(
                help="the sentence's position in its split file, counting from 0")})
        st.caption(("Click a row to see its parse tree in the Sentence tree tab. "
                    + (f"Showing the first {MAX_TABLE_ROWS:,} matches; narrow the filters to see others. "
                       if len(filtered) > MAX_TABLE_ROWS else "")
                    + ("Phrases are shown as their (lowercased) tokens." if phrases else "")))

with charts_tab:
    st.plotly_chart(charts.label_distribution_chart(resources.split_label_counts(corpus, labels, phrases),
                                                    scheme.class_names), key="chart_labels")
    st.caption("Whole splits" + (" (train as phrases, dev and test as sentences)." if phrases else "."))
    if filtered:
        st.plotly_chart(charts.length_histogram_chart([r.length for r in filtered], [r.label for r in filtered],
                                                      scheme.class_names, unit=unit), key="chart_lengths")
        st.caption("The rows that match the filters above.")
    st.plotly_chart(charts.label_share_by_length_chart(resources.phrase_label_shares(corpus, labels),
                                                       scheme.class_names), key="chart_phrase_shares")
    st.caption("Short phrases are mostly neutral: single words and pairs rarely carry sentiment on their own; "
               "longer phrases take sides.")

with tree_tab:
    # A link (?split=test&index=123, optionally &run=NAME) opens one sentence; else the table's chosen row.
    linked = model_tree.linked_sentence(corpus)
    if linked is None and not filtered:
        st.info("No row matches the filters, so there is no tree to show.")
    else:
        if linked is not None:
            tree_split, tree_index = linked
            tokens, fine, text = corpus.sentences[tree_split][tree_index]
            st.button("Back to the table's rows", key="explorer_unlink", on_click=model_tree.forget_link)
            st.markdown(f"**{explore.FINE_LABEL_NAMES[fine]}** (treebank label {fine}) · {tree_split} sentence "
                        f"{tree_index} · {len(tokens)} tokens")
        else:
            if st.session_state.get(TREE_ROW, 0) >= len(filtered):
                st.session_state[TREE_ROW] = 0  # the filters shrank the table under the chosen row
            pick_col, random_col = st.columns([3, 1])
            position = pick_col.number_input(f"Row of the matching table (0 to {len(filtered) - 1:,})", 0,
                                             len(filtered) - 1, key=TREE_ROW)
            random_col.button("Random example", key="explorer_random", on_click=_pick_random_row,
                              args=(len(filtered),))
            row = filtered[position]
            tree_split, tree_index, text = row.split, row.index, row.text
            st.markdown(f"**{scheme.class_names[row.label]}** · {row.split} sentence {row.index} · "
                        f"{row.length} tokens")
            if phrases and row.split == "train":
                st.caption("This phrase is part of the training sentence drawn below.")
        st.markdown(f"> {escape_markdown(text)}")
        st.plotly_chart(charts.parse_tree_chart(resources.tree_layout(corpus, tree_split, tree_index),
                                                explore.FINE_LABEL_NAMES), key="chart_tree")
        st.caption("Colours are the treebank's own five labels; hover a node to read its phrase.")
        st.subheader("A model on this tree")
        tree_run = model_tree.pick_model_run("explorer_tree_run", st.query_params.get(model_tree.QUERY_RUN))
        if tree_run is not None:
            model_tree.show_model_tree(tree_run, tree_split, tree_index, "explorer_model_tree")

with hard_tab:
    st.markdown(f"> *{explore.TUTORIAL_EXAMPLE}*\n\n{explore.TUTORIAL_EXAMPLE_NOTE}")
    hard = resources.hard_cases(corpus, labels, splits)
    st.plotly_chart(charts.hard_cases_chart(hard, scheme.class_names), key="chart_hard_cases")
    st.caption(f"Sentences of {', '.join(splits)} with a negation word ({', '.join(explore.NEGATION_WORDS)}) "
               f"or a contrast word ({', '.join(explore.CONTRAST_WORDS)}); a sentence with both counts in both. "
               "Search for these words in the table to read them.")
    st.dataframe(
        [{"group": name, "sentences": group["rows"],
          **{cls: f"{share:.1%}" for cls, share in zip(scheme.class_names, group["shares"])}}
         for name, group in hard.items()], hide_index=True)
    neither_nor = explore.filter_rows(resources.example_rows(corpus, labels, splits),
                                      explore.compile_search("neither nor", "words"))
    st.markdown(f"**Sentences of {', '.join(splits)} with both 'neither' and 'nor'** ({len(neither_nor):,}):")
    if neither_nor:
        st.dataframe({"label": [scheme.class_names[r.label] for r in neither_nor],
                      "text": [r.text for r in neither_nor],
                      "split": [r.split for r in neither_nor]}, hide_index=True)
