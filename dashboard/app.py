"""The dashboard's entry point and router: `streamlit run dashboard/app.py`."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
import torch

# `streamlit run` puts dashboard/ on sys.path; the pages import `dashboard.*`, so add the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import guard, style  # noqa: E402  (needs the path above)
from dashboard.views import home  # noqa: E402

# One intra-op thread per request: the models are small, and with several visitors (and a training
# run) sharing the cores, torch's default thread pool makes every request wait on the others.
torch.set_num_threads(1)

guard.hide_error_details()  # public mode: no traceback, type or path, whatever fails
st.set_page_config(page_title="RNN Sentiment Lab", page_icon=":material/psychology:", layout="wide")
style.inject()  # the phone rules (dashboard/style.py), on every page

# The pages after Home, in menu order: one st.Page per page (a file under dashboard/, a title, an icon,
# and `help`, the line the home page shows beside its link). To add a page, add one entry here.
PAGES = [
    st.Page("views/explorer.py", title="Dataset explorer", icon=":material/table_view:",
            help="Browse sentences and phrases, filter and search them, see label charts and parse trees."),
    st.Page("views/vocabulary.py", title="Vocabulary", icon=":material/abc:",
            help="Tokens to indices: vocabulary size, Zipf's law, coverage, polarised words and padding."),
    st.Page("views/walkthrough.py", title="Walkthrough: how an RNN learns", icon=":material/school:",
            help="The lesson, with live code: the recurrent cell, unrolling, backpropagation through time, "
                 "vanishing and exploding gradients, truncation, text to tensors, exercises."),
    st.Page("views/training.py", title="Training runner", icon=":material/model_training:",
            help="Train a model in the background: settings or presets, live loss and accuracy curves, gradient "
                 "flow, stop and resume, results with confusion matrix, compare runs."),
    st.Page("views/analysis.py", title="Model analysis", icon=":material/troubleshoot:",
            help="Where trained models fail, side by side: accuracy by slice (negation, contrast, length, unknown "
                 "words), on every phrase of the parse trees, and the sentences behind each confusion cell."),
    st.Page("views/playground.py", title="Playground", icon=":material/chat:",
            help="Type a sentence and watch a trained model read it: the prediction token by token, which words "
                 "mattered, the hidden state and gates, two runs side by side, many sentences at once."),
]


def show_home() -> None:
    home.render(PAGES)


# run_page: an unexpected exception on any page becomes one sentence for the visitor and a log line
guard.run_page(st.navigation([st.Page(show_home, title="Home", icon=":material/home:", default=True), *PAGES]))
