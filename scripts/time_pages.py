"""Time the dashboard's data pages as a user meets them: first render, then widget changes.

    python scripts/time_pages.py [--sst-dir DIR] [--repeat 3]

Each page runs headless through streamlit.testing.v1.AppTest in this one process, so the
times include AppTest's own overhead (a script-runner thread per run, ~0.05 s) but no browser.

  cold process   the first run of the app in a fresh process: imports torch, plotly, spaCy and
                 the pages, and reads the corpus (paid once when `streamlit run` serves its first page)
  first render   a page opened with every st.cache_* emptied (the corpus re-read included) but the
                 modules imported: a user's first visit to that page on a running server
  rerun          the same page again with warm caches
  interactions   one widget change each, timed from the change to the end of the rerun; a change
                 marked "new data" computes and caches a data set seen for the first time

Targets: first render <= 3 s, a slider or filter change <= 0.5 s (the median of --repeat runs).
Both the wall-clock time and this process's CPU time are printed: on a machine shared with other
work the wall time includes waiting for a core, and the CPU time estimates an idle machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
FIRST_RENDER_TARGET, INTERACTION_TARGET = 3.0, 0.5


def explorer_steps(at):
    longest_key = next(s.key for s in at.slider if s.key.startswith("explorer_length_"))
    return [
        ("search words 'not funny'", lambda: at.text_input(key="explorer_search").input("not funny"), False),
        ("search mode: regular expression", lambda: at.radio(key="explorer_search_mode").set_value("regex"), False),
        ("search regex '^the .* film'", lambda: at.text_input(key="explorer_search").input("^the .* film"), False),
        ("clear the search", lambda: at.text_input(key="explorer_search").input(""), False),
        ("label filter: neutral only",
         lambda: at.multiselect(key="explorer_label_filter_3").set_value(["neutral"]), False),
        ("length range 5-15", lambda: at.slider(key=longest_key).set_value((5, 15)), False),
        ("tree of row 7", lambda: at.number_input(key="explorer_tree_row").set_value(7), False),
        ("random example", lambda: at.button(key="explorer_random").click(), False),
        ("split: dev", lambda: at.radio(key="explorer_split").set_value("dev"), True),
        ("label scheme: 5", lambda: at.radio(key="explorer_labels").set_value(5), True),
        ("split: train, level: phrases", lambda: (at.radio(key="explorer_split").set_value("train"),
                                                 at.radio(key="explorer_level").set_value("phrases")), True),
        ("phrases: search words 'good'", lambda: at.text_input(key="explorer_search").input("good"), False),
    ]


def vocabulary_steps(at):
    return [
        ("min_freq 2", lambda: at.select_slider(key="vocab_min_freq").set_value(2), True),
        ("min_freq 5", lambda: at.select_slider(key="vocab_min_freq").set_value(5), True),
        ("min_freq back to 2", lambda: at.select_slider(key="vocab_min_freq").set_value(2), False),
        ("look up 'actor'", lambda: at.text_input(key="vocab_lookup_word").input("actor"), False),
        ("top k 5000", lambda: at.select_slider(key="vocab_top_k").set_value(5000), False),
        ("most frequent: 100", lambda: at.slider(key="vocab_top_n").set_value(100), False),
        ("batch size 128", lambda: at.select_slider(key="vocab_batch_size").set_value(128), False),
        ("draw another batch", lambda: at.button(key="vocab_batch_again").click(), False),
        ("example batch: bucketing on", lambda: at.toggle(key="vocab_batch_bucketing").set_value(True), False),
        ("polarised words: 5 classes", lambda: at.radio(key="vocab_polar_labels").set_value(5), True),
        ("polarised words: 25 per class", lambda: at.slider(key="vocab_polar_top").set_value(25), False),
    ]


PAGES = {  # label: (page file relative to app.py or None for home, interaction steps)
    "home": (None, lambda at: []),
    "explorer": ("views/explorer.py", explorer_steps),
    "vocabulary": ("views/vocabulary.py", vocabulary_steps),
}


def timed_run(at) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one run of the app."""
    start, start_cpu = time.perf_counter(), time.process_time()
    at.run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if at.exception:
        raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    return elapsed, cpu


def open_app(page: str | None):
    import streamlit.logger
    from streamlit.testing.v1 import AppTest

    streamlit.logger.set_log_level("error")  # AppTest runs without a server: its "no runtime" warnings are noise

    at = AppTest.from_file(str(APP), default_timeout=120)
    if page:
        at.switch_page(page)
    return at


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def measure_page(label: str, repeat: int) -> list[tuple[str, list[tuple[float, float]], float | None, str]]:
    page, steps_of = PAGES[label]
    firsts, reruns, interactions = [], [], {}
    for _ in range(repeat):
        clear_caches()
        at = open_app(page)
        firsts.append(timed_run(at))
        reruns.append(timed_run(at))
        for name, change, new_data in steps_of(at):
            change()
            interactions.setdefault((name, new_data), []).append(timed_run(at))
    rows = [(f"{label}: first render", firsts, FIRST_RENDER_TARGET, ""),
            (f"{label}: rerun", reruns, INTERACTION_TARGET, "")]
    for (name, new_data), times in interactions.items():
        rows.append((f"{label}: {name}", times, None if new_data else INTERACTION_TARGET,
                     "new data" if new_data else ""))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sst-dir", help="treebank folder (default: $SST_DIR, then data/sst)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median is judged")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES))
    args = parser.parse_args(argv)
    if args.sst_dir:
        os.environ["SST_DIR"] = str(Path(args.sst_dir).resolve())
    sys.path.insert(0, str(ROOT))

    from sentiment_core.data.treebank import TreebankError, locate_treebank

    try:
        folder = locate_treebank(None, os.environ, Path(os.environ.get("SENTIMENT_DATA_DIR") or ROOT / "data") / "sst")
    except TreebankError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if folder is None:
        print("error: no treebank: pass --sst-dir or set SST_DIR (the pages are timed with the data in place).",
              file=sys.stderr)
        return 2

    print(f"Treebank: {folder}")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    start = time.perf_counter()
    cold, cold_cpu = timed_run(open_app(None))
    print(f"cold process: first run of the app (imports + corpus) {cold:.2f} s wall, {cold_cpu:.2f} s CPU; "
          f"{time.perf_counter() - start:.2f} s wall with AppTest's own import\n")

    rows = []
    for label in args.pages:
        rows += measure_page(label, args.repeat)
    width = max(len(name) for name, *_ in rows)
    print(f"{'measurement':<{width}}  {'wall s':>6}  {'max':>6}  {'CPU s':>6}  {'target':>6}  wall  CPU")
    failed = {"wall": 0, "CPU": 0}
    for name, times, target, note in rows:
        wall = statistics.median(t for t, _ in times)
        cpu = statistics.median(c for _, c in times)
        verdicts = []
        for kind, value in (("wall", wall), ("CPU", cpu)):
            verdict = "-" if target is None else ("ok" if value <= target else "SLOW")
            failed[kind] += verdict == "SLOW"
            verdicts.append(verdict)
        target_text = f"{target:.1f}" if target is not None else note
        print(f"{name:<{width}}  {wall:>6.3f}  {max(t for t, _ in times):>6.3f}  {cpu:>6.3f}  {target_text:>6}  "
              f"{verdicts[0]:<4}  {verdicts[1]}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; over target: {failed['wall']} by wall time, "
          f"{failed['CPU']} by CPU time (medians of {args.repeat} runs)")
    return 1 if failed["wall"] else 0


if __name__ == "__main__":
    sys.exit(main())
