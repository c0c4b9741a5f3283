"""Model analysis: where trained models fail, side by side: by slice of sentences, phrase by phrase
on the parse trees, and from a confusion cell to its sentences.

The figures are sentiment_core.analysis.evaluation.report's (the `analyze` command's), cached per run
checkpoint, treebank and split in dashboard/resources.py; tables are analysis.slices'; charts
dashboard/charts/analysis.py's; the confusion drill-down is dashboard/components/confusion_drill.py.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.charts import analysis as charts
from dashboard.components import run_choice
from dashboard.components.confusion_drill import confusion_drill
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from dashboard.components.run_labels import run_label
from sentiment_core.errors import InferenceError
from dashboard.views.playground_sections.runs import offered_runs
from sentiment_core.analysis.inference import model_choice
from sentiment_core.analysis.evaluation.slices import overall_side_by_side, slices_side_by_side
from sentiment_core.runs.store import RunError

MAX_RUNS = 4  # runs analysed at once: each costs a pass over every phrase of the split
K = "analysis_"




def pick_runs(runs: list) -> list:
    """Up to MAX_RUNS runs; the page opens on the best by dev accuracy (model_choice), a run just trained or
    the run a link names, and says why under the selector."""
    by_name = {r.name: r for r in runs}
    choice = model_choice.default_run(runs)
    wanted = run_choice.override(runs, K + "runs")
    if wanted is not None:
        st.session_state[K + "runs"] = [wanted]
    elif K + "runs" in st.session_state:  # a deleted run leaves the choice quietly
        st.session_state[K + "runs"] = [n for n in st.session_state[K + "runs"] if n in by_name][:MAX_RUNS]
    else:
        st.session_state[K + "runs"] = [choice.run.name]
    runs_col, split_col = st.columns([3, 1])
    chosen = runs_col.multiselect("Runs", list(by_name), key=K + "runs", max_selections=MAX_RUNS,
                                  format_func=lambda n: run_label(by_name[n]), placeholder="choose up to 4 runs",
                                  help=f"Finished runs with a saved model, and the shipped default; at most "
                                       f"{MAX_RUNS} at once. The page opens on the best by dev accuracy on the "
                                       "whole dev split.")
    split_col.radio("Split", ("dev", "test"), key=K + "split", horizontal=True,
                    help="The sentences to analyse. Tune on dev; look at test only for the final figure.")
    if len(chosen) == 1:
        run_choice.explain_choice(by_name[chosen[0]], choice, run_choice.why_chosen(K + "runs", chosen[0], choice))
    return [by_name[n] for n in chosen]


def analyse(runs: list, corpus, split: str) -> dict:
    """{run name: analysis} for the runs whose model loads; a run that fails is said and left out."""
    analyses = {}
    for run in runs:
        try:
            analyses[run.name] = resources.run_analysis(run.path, corpus, split)
        except (RunError, InferenceError, OSError, ValueError) as err:
            st.error(f"Run {escape_markdown(run.name)} could not be analysed: {user_message(err)}")
    return analyses


def label_count_note(runs: list, analyses: dict) -> None:
    labels = {name: result["labels"] for name, result in analyses.items()}
    if len(set(labels.values())) > 1:
        listed = ", ".join(f"{escape_markdown(name)} ({count} classes)" for name, count in labels.items())
        st.warning(f"These runs were trained with different label counts: {listed}. Their figures are not like "
                   "for like: a 2-class run leaves the neutral sentences out, and fewer classes are easier "
                   "to get right.")


def percent_table(rows: list[dict], key: str) -> None:
    """A table whose 0..1 figures show as percentages (67.4%), blanks as a dash."""
    frame = pd.DataFrame(rows)
    figures = [c for c in frame.columns if c.startswith(("accuracy", "macro-F1", "recall"))]
    counts = [c for c in frame.columns if c.startswith(("count", "sentences"))]
    styled = frame.style.format("{:.1%}", subset=figures, na_rep="–").format("{:,}", subset=counts)
    st.dataframe(styled, hide_index=True, width="stretch", key=key)


def overall_section(analyses: dict, split: str) -> None:
    st.subheader("Overall")
    percent_table(overall_side_by_side({name: a["overall"] for name, a in analyses.items()}), K + "overall")
    st.caption(f"Every {split} sentence, as `python -m sentiment_core evaluate RUN --split {split}` scores it. "
               "Macro-F1 averages the classes' F1, so a model that never answers neutral scores low even "
               "when its accuracy looks fine; the recall columns show which class it gives up on.")


def slices_section(analyses: dict, colours: dict, split: str) -> None:
    st.subheader("By slice of sentences")
    metric = st.radio("Bars show", ("accuracy", "macro-F1"), key=K + "metric", horizontal=True)
    by_run = {name: a["slices"] for name, a in analyses.items()}
    title = f"{metric[:1].upper()}{metric[1:]} by slice"
    st.plotly_chart(charts.slices_chart(by_run, colours, metric, title), key=K + "slices_chart", width="stretch")
    percent_table(slices_side_by_side(by_run), K + "slices")
    st.caption(f"A sentence can be in several slices (negation, contrast, unknown words); the length buckets "
               f"split the {split} sentences with no overlap. Small slices swing by chance: read the count.")


def phrases_section(analyses: dict, colours: dict) -> None:
    st.subheader("Phrase by phrase, on the parse trees")
    shown = {name: a["phrases"] for name, a in analyses.items() if a.get("phrases")}
    if not shown:
        st.info("No labelled phrases in this split.")
        return
    st.caption("Every node of every parse tree of the split has a human label; the model reads each phrase "
               "on its own. Short phrases are mostly neutral single words; the root (depth 0) is the "
               "whole sentence. "
               + " · ".join(f"{escape_markdown(n)}: {p['accuracy']:.1%} of {p['count']:,} phrases"
                            for n, p in shown.items()))
    length_col, depth_col = st.columns(2)
    length_col.plotly_chart(charts.phrase_chart({n: p["by_length"] for n, p in shown.items()}, colours,
                                                "Accuracy by phrase length", "phrase length (tokens)"),
                            key=K + "phrase_length", width="stretch")
    depth_col.plotly_chart(charts.phrase_chart({n: p["by_depth"] for n, p in shown.items()}, colours,
                                               "Accuracy by depth in the tree", "depth (root 0)"),
                           key=K + "phrase_depth", width="stretch")


def drill_section(runs: list, corpus, split: str) -> None:
    st.subheader("From a confusion cell to its sentences")
    by_name = {r.name: r for r in runs}
    name = runs[0].name
    if len(runs) > 1:
        name = st.selectbox("Run", list(by_name), key=K + "drill_run", format_func=lambda n: run_label(by_name[n]))
    confusion_drill(by_name[name].path, name, corpus, split, key=K + "confusion")


st.title("Model analysis")
st.caption("Where a trained model is wrong, and on what: accuracy by slice of sentences (negation, contrast, "
           "length, unknown words), on every phrase of the parse trees, and the sentences behind each cell "
           "of the confusion matrix. The same figures on the command line: "
           "`python -m sentiment_core analyze RUN --split dev`.")
corpus = resources.require_corpus()
root = resources.runs_root()
offered = offered_runs(root)  # public mode: the visitor's own runs (everyone's in class mode), then the shipped
if not offered:
    st.info("There is no trained model to analyse yet: train one on the **Training runner** page (the quick "
            "preset is the shortest).")
    st.stop()
chosen = pick_runs(offered)
split = st.session_state[K + "split"]
if not chosen:
    st.info("Choose one or more runs above.")
    st.stop()
analyses = analyse(chosen, corpus, split)
if not analyses:
    st.stop()
colours = resources.run_colour_map(root)
label_count_note(chosen, analyses)
overall_section(analyses, split)
slices_section(analyses, colours, split)
phrases_section(analyses, colours)
drill_section([r for r in chosen if r.name in analyses], corpus, split)
