"""Home: three ways in for a newcomer (learn, experiment, try), then the setup below them.

The ways in come first, so they are above the fold on a laptop and on a phone; the treebank
(and how to get it), the runs and the list of every page follow in a "Setup and status" section.
In public mode (settings.is_public: a hosted demo) the treebank is the operator's: no download,
upload or folder choice, and the page names no server path.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple, Sequence

import streamlit as st

from dashboard import resources
from dashboard.escape import escape_markdown
from dashboard.messages import shown_path, user_message
from sentiment_core import settings
from sentiment_core.runs.listing import list_runs
from sentiment_core.runs.store import RunError
from sentiment_core.data.treebank import (SST_URL, TreebankError, download_treebank, has_treebank, install_treebank_folder,
                                          install_treebank_zip, locate_treebank, not_found_message, scan_treebank)

FLASH = "home_flash"  # session_state key: a success message to show after the rerun an install triggers


class WayIn(NamedTuple):
    """One of the home page's three cards: a page (its file, as app.PAGES names it) and what you get there."""
    key: str
    page: str
    label: str
    icon: str
    line: str
    query: dict | None = None


WAYS_IN = (
    WayIn("home_way_learn", "views/walkthrough.py", "Learn: the walkthrough", ":material/school:",
          "How an RNN reads a sentence word by word and learns, one step at a time, with live code."),
    WayIn("home_way_experiment", "views/training.py", "Experiment: train a model", ":material/model_training:",
          "The quick preset trains a small GRU (the page estimates how long from this server's own runs); "
          "watch its loss fall and accuracy rise.",
          {"preset": "quick"}),
    WayIn("home_way_try", "views/playground.py", "Try: the playground", ":material/chat:",
          "Type a sentence and see a trained model read it: its verdict and the words that mattered."),
)


def render(pages: Sequence) -> None:
    st.title("RNN Sentiment Lab")
    st.markdown("How a recurrent neural network reads a movie review one word at a time and decides whether it "
                "is positive, negative or neutral. Where do you want to start?")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    show_ways_in(WAYS_IN)

    st.header("Setup and status", anchor="setup")
    st.markdown(
        "Everything here runs on the **Stanford Sentiment Treebank** (SST): about 11,800 movie-review sentences "
        "in which every phrase of every parse tree carries a sentiment label.")
    st.subheader("The treebank")
    state = resources.treebank_state()
    if settings.is_public():
        show_public_treebank(state)
    elif state.folder is None:
        show_missing_treebank(state)
    else:
        show_treebank(state)

    st.subheader("Training runs")
    show_runs(resources.runs_root())

    st.subheader("Every page")
    for page in pages:
        link, note = st.columns([1, 3])
        with link:
            st.page_link(page)
        note.caption(page.help or "")


def show_ways_in(ways: Sequence[WayIn]) -> None:
    """Three cards side by side (stacked on a phone): a link each, and one line on what you get."""
    for column, way in zip(st.columns(len(ways)), ways):
        with column.container(border=True, key=way.key):
            st.page_link(way.page, label=way.label, icon=way.icon, query_params=way.query)
            st.caption(way.line)


def show_public_treebank(state: resources.TreebankState) -> None:
    """A hosted demo: the operator's treebank, its figures, nothing a visitor could change."""
    if state.folder is None:
        if state.problem:
            st.error(user_message(state.problem))
        st.warning(NOT_SET_UP)
        return
    corpus = read_corpus(state)
    if corpus is None:
        st.warning(NOT_SET_UP)
        return
    st.success("The operator of this demo has set up the treebank; every page reads this copy.")
    show_figures(corpus)


NOT_SET_UP = ("This demo is not set up yet: its operator has not installed the Stanford Sentiment Treebank, so "
              "the pages that need it cannot open. (Operator: set SST_DIR to the treebank's folder, or run "
              "`python -m sentiment_core data --install trainDevTestTrees_PTB.zip`.)")


def read_corpus(state: resources.TreebankState):
    """The corpus of the treebank in use, or None after saying why it could not be read."""
    try:
        return resources.corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {shown_path(state.folder)} could not be read: {user_message(err)}")
        return None


def show_treebank(state: resources.TreebankState) -> None:
    corpus = read_corpus(state)
    if corpus is None:
        get_treebank_options(expanded=True)
        return
    st.success(f"Treebank found in {shown_path(state.folder)} (chosen by {escape_markdown(state.origin)}).")
    show_figures(corpus)
    if st.session_state.get(resources.SESSION_TREEBANK):
        st.button("Stop using this folder", key="forget_folder", on_click=resources.use_folder_for_session,
                  args=(None,), help="Go back to $SST_DIR or the data folder.")
    with st.expander("Install another copy of the treebank"):
        get_treebank_options()


def show_figures(corpus) -> None:
    summary = resources.data_summary(corpus)
    columns = st.columns(4)
    for column, split in zip(columns, ("train", "dev", "test")):
        column.metric(f"{split} sentences", f"{summary['splits'][split]['examples']:,}")
    columns[3].metric("vocabulary (min_freq 1)", f"{summary['vocab_size']:,}",
                      help="Distinct training tokens plus the 4 specials, as `python -m sentiment_core data` counts.")
    st.dataframe(
        [{"split": split, "sentences": s["examples"], "tokens": s["tokens"], "mean length": s["mean_length"],
          "max length": s["max_length"], **s["labels"]} for split, s in summary["splits"].items()],
        hide_index=True)


def show_missing_treebank(state: resources.TreebankState) -> None:
    if state.problem:  # an explicit folder ($SST_DIR) that lacks the files: the user asked for it
        st.error(f"{user_message(state.problem)} Fix or unset {state.origin}, or install the treebank below and "
                 "the app will use it for this session.")
    else:
        st.warning("The Stanford Sentiment Treebank is not installed yet (looked in "
                   f"{shown_path(resources.install_dir())}). "
                   "Get it in one of the three ways below; the pages that need it will work right after.")
    get_treebank_options(expanded=True)


def get_treebank_options(expanded: bool = False) -> None:
    target = resources.install_dir()
    download, upload, folder = st.tabs(["Download", "Upload the zip", "Use a folder"])
    with download:
        st.write(f"Download `{SST_URL}`, check it and install it into {shown_path(target)}.")
        if st.button("Download the treebank", key="download_treebank", type="primary" if expanded else "secondary"):
            run_download(target)
    with upload:
        st.write("Already have `trainDevTestTrees_PTB.zip`? Upload it; it is checked before anything is installed.")
        uploaded = st.file_uploader("trainDevTestTrees_PTB.zip", type="zip", key="treebank_zip")
        if st.button("Install the uploaded zip", key="install_zip", disabled=uploaded is None):
            install_upload(uploaded, target)
    with folder:
        st.write("A folder holding `train.txt`, `dev.txt` and `test.txt` (or a `trees/` folder with them).")
        path = st.text_input("Folder", key="treebank_folder_path", placeholder="/path/to/trainDevTestTrees_PTB/trees")
        copy_col, use_col = st.columns(2)
        if copy_col.button(f"Copy it into {shown_path(target)}", key="copy_folder"):
            install_folder(path, target)
        if use_col.button("Use it for this session", key="use_folder"):
            use_folder(path)


def run_download(target: Path) -> None:
    bar = st.progress(0.0, text="Connecting...")
    shown = [-1]

    def report(done: int, total: int | None) -> None:
        if total:
            percent = int(100 * done / total)
            if percent != shown[0]:  # one redraw per percent, not per 64 KB chunk
                shown[0] = percent
                bar.progress(min(done / total, 1.0), text=f"{done / 1e6:.2f} of {total / 1e6:.2f} MB")
        else:
            bar.progress(0.0, text=f"{done / 1e6:.2f} MB (the server did not say how much)")

    try:
        installed = download_treebank(target, progress=report)
    except TreebankError as err:
        bar.empty()
        st.error(f"{user_message(err)} {user_message(not_found_message(target))} Or upload the zip, or use a "
                 "folder (the other tabs).")
        return
    finish_install(installed, f"Downloaded and installed the treebank into {shown_path(installed)}.")


def install_upload(uploaded, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", prefix=".sst-upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(uploaded.getbuffer())
        with st.spinner("Checking and installing the zip..."):
            # errors name the upload by its own file name, never by the temporary path
            installed = install_treebank_zip(Path(name), target, display_name=uploaded.name)
    except (TreebankError, OSError) as err:
        st.error(f"{escape_markdown(uploaded.name)} was not installed: {user_message(err)}")
        return
    finally:
        Path(name).unlink(missing_ok=True)
    finish_install(installed, f"Installed the treebank from {escape_markdown(uploaded.name)} into "
                              f"{shown_path(installed)}.")


def install_folder(path: str, target: Path) -> None:
    source = _folder_from(path)
    if source is None:
        return
    try:
        with st.spinner("Checking and copying the split files..."):
            installed = install_treebank_folder(source, target)
    except (TreebankError, OSError) as err:
        st.error(f"Nothing was copied: {user_message(err)}")
        return
    finish_install(installed, f"Copied the treebank from {shown_path(source)} into {shown_path(installed)}.")


def use_folder(path: str) -> None:
    """Read the treebank from a folder for this session, once every split in it has parsed."""
    source = _folder_from(path)
    if source is None:
        return
    if not has_treebank(source):
        st.error(f"{shown_path(source)} does not hold train.txt, dev.txt and test.txt (directly or in a trees/ "
                 "folder). Check the path.")
        return
    try:
        folder = locate_treebank(source, env={})
        with st.spinner("Checking the split files..."):
            scan_treebank(folder)  # bounded: each file's size and line length are checked before parsing
    except (TreebankError, OSError) as err:
        st.error(f"The folder was not used: {user_message(err)}")
        return
    resources.use_folder_for_session(folder)
    st.session_state[FLASH] = f"This session reads the treebank from {shown_path(folder)}."
    st.rerun()


def _folder_from(path: str) -> Path | None:
    if not path.strip():
        st.error("Type the path of a folder first.")
        return None
    return Path(path.strip()).expanduser()


def finish_install(installed: Path, message: str) -> None:
    if resources.treebank_state().folder is None:  # $SST_DIR points elsewhere: use the new copy this session
        resources.use_folder_for_session(installed)
    st.session_state[FLASH] = message
    st.rerun()


def show_runs(root: Path) -> None:
    try:
        runs = list_runs(root)
    except (RunError, OSError) as err:
        st.error(f"The runs in {shown_path(root)} could not be listed: {user_message(err)}")
        return
    if not runs:
        st.info(f"No training runs yet (runs are saved as folders under {shown_path(root)}).")
        return
    st.dataframe(
        [{key: row[key] for key in ("name", "state", "cell", "labels", "epoch", "epochs", "best_dev_accuracy",
                                    "test_accuracy", "message")}
         for row in (run.summary() for run in runs)],
        hide_index=True,
        column_config={"best_dev_accuracy": st.column_config.NumberColumn("best dev accuracy", format="percent"),
                       "test_accuracy": st.column_config.NumberColumn("test accuracy", format="percent")})
