"""Home: what the app is for, the treebank (and how to get it), the runs, links to every page."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import streamlit as st

from dashboard import resources
from sentiment_core.training.store import RunError, list_runs
from sentiment_core.data.treebank import (SST_URL, TreebankError, download_treebank, has_treebank, install_treebank_folder,
                                install_treebank_zip, not_found_message)

FLASH = "home_flash"  # session_state key: a success message to show after the rerun an install triggers


def render(pages: Sequence) -> None:
    st.title("RNN Sentiment Lab")
    st.markdown(
        "Learn how a recurrent neural network reads a sentence one word at a time and decides whether "
        "it is positive, negative or neutral. Everything here runs on the **Stanford Sentiment Treebank** "
        "(SST): about 11,800 movie-review sentences in which every phrase of every parse tree carries a "
        "sentiment label. Look at the data and the vocabulary first, then train models and watch them learn.")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))

    st.header("The treebank")
    state = resources.treebank_state()
    if state.folder is None:
        show_missing_treebank(state)
    else:
        show_treebank(state)

    st.header("Training runs")
    show_runs(resources.runs_root())

    st.header("Pages")
    for page in pages:
        link, note = st.columns([1, 3])
        with link:
            st.page_link(page)
        note.caption(page.help or "")


def show_treebank(state: resources.TreebankState) -> None:
    try:
        corpus = resources.corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {state.folder} could not be read: {err}")
        get_treebank_options(expanded=True)
        return
    summary = resources.data_summary(corpus)
    st.success(f"Treebank found in `{state.folder}` (chosen by {state.origin}).")
    columns = st.columns(4)
    for column, split in zip(columns, ("train", "dev", "test")):
        column.metric(f"{split} sentences", f"{summary['splits'][split]['examples']:,}")
    columns[3].metric("vocabulary (min_freq 1)", f"{summary['vocab_size']:,}",
                      help="Distinct training tokens plus the 4 specials, as `python -m sentiment_core data` counts.")
    st.dataframe(
        [{"split": split, "sentences": s["examples"], "tokens": s["tokens"], "mean length": s["mean_length"],
          "max length": s["max_length"], **s["labels"]} for split, s in summary["splits"].items()],
        hide_index=True)
    if st.session_state.get(resources.SESSION_TREEBANK):
        st.button("Stop using this folder", key="forget_folder", on_click=resources.use_folder_for_session,
                  args=(None,), help="Go back to $SST_DIR or the data folder.")
    with st.expander("Install another copy of the treebank"):
        get_treebank_options()


def show_missing_treebank(state: resources.TreebankState) -> None:
    if state.problem:  # an explicit folder ($SST_DIR) that lacks the files: the user asked for it
        st.error(f"{state.problem} Fix or unset {state.origin}, or install the treebank below and "
                 "the app will use it for this session.")
    else:
        st.warning(f"The Stanford Sentiment Treebank is not installed yet (looked in `{resources.install_dir()}`). "
                   "Get it in one of the three ways below; the pages that need it will work right after.")
    get_treebank_options(expanded=True)


def get_treebank_options(expanded: bool = False) -> None:
    target = resources.install_dir()
    download, upload, folder = st.tabs(["Download", "Upload the zip", "Use a folder"])
    with download:
        st.write(f"Download `{SST_URL}`, check it and install it into `{target}`.")
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
        if copy_col.button(f"Copy it into {target}", key="copy_folder"):
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
        st.error(f"{err} {not_found_message(target)} Or upload the zip, or use a folder (the other tabs).")
        return
    finish_install(installed, f"Downloaded and installed the treebank into {installed}.")


def install_upload(uploaded, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".zip", prefix=".sst-upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(uploaded.getbuffer())
        with st.spinner("Checking and installing the zip..."):
            installed = install_treebank_zip(Path(name), target)
    except (TreebankError, OSError) as err:
        st.error(f"{uploaded.name} was not installed: {err}")
        return
    finally:
        Path(name).unlink(missing_ok=True)
    finish_install(installed, f"Installed the treebank from {uploaded.name} into {installed}.")


def install_folder(path: str, target: Path) -> None:
    source = _folder_from(path)
    if source is None:
        return
    try:
        with st.spinner("Checking and copying the split files..."):
            installed = install_treebank_folder(source, target)
    except (TreebankError, OSError) as err:
        st.error(f"Nothing was copied: {err}")
        return
    finish_install(installed, f"Copied the treebank from {source} into {installed}.")


def use_folder(path: str) -> None:
    source = _folder_from(path)
    if source is None:
        return
    if not has_treebank(source):
        st.error(f"{source} does not hold train.txt, dev.txt and test.txt (directly or in a trees/ folder). "
                 "Check the path.")
        return
    resources.use_folder_for_session(source)
    st.session_state[FLASH] = f"This session reads the treebank from {source}."
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
        st.error(f"The runs in {root} could not be listed: {err}")
        return
    if not runs:
        st.info(f"No training runs yet (runs are saved as folders under `{root}`).")
        return
    st.dataframe(
        [{key: row[key] for key in ("name", "state", "cell", "labels", "epoch", "epochs", "best_dev_accuracy",
                                    "test_accuracy", "message")}
         for row in (run.summary() for run in runs)],
        hide_index=True,
        column_config={"best_dev_accuracy": st.column_config.NumberColumn("best dev accuracy", format="percent"),
                       "test_accuracy": st.column_config.NumberColumn("test accuracy", format="percent")})
