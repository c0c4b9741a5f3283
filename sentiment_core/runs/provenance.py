"""Which treebank a run was trained on, so `evaluate RUN` can find the same data again.

A new run records the treebank's folder and checksum in its status.json, under "treebank"
(runs.train_run calls `record_treebank`). status.json is merged, never replaced, so the record
stays through resumes; a file of its own would change the run directory's fixed set of files.
Commands that need the data of a run choose it with `treebank_for`: an explicit --data-dir
first, then the recorded folder while it still holds the treebank, then the usual search
($SST_DIR, then data/sst). `checksum_warning` says when the treebank read differs from the
recorded one. Runs from before the record have none and use the usual search, as before.
"""
from __future__ import annotations

from pathlib import Path

from sentiment_core.data.treebank import has_treebank
from sentiment_core.runs.store import STATUS, RunError, read_json, write_status

RECORD = "treebank"  # the key in status.json


def record_treebank(run_dir: str | Path, corpus) -> None:
    """Keep the folder and checksum of `corpus` (data.corpus.Corpus) in the run's status."""
    write_status(Path(run_dir), **{RECORD: {"folder": str(Path(corpus.folder).resolve()), "checksum": corpus.checksum}})


def recorded_treebank(run_dir: str | Path) -> dict | None:
    """{"folder", "checksum"} of the run's treebank, or None when it recorded none (or its status is damaged)."""
    try:
        status = read_json(Path(run_dir) / STATUS)  # bounded in size and nesting, like every run file
    except RunError:  # RunNotFound included
        return None
    record = status.get(RECORD) if isinstance(status, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("folder"), str):
        return None
    return record


def treebank_for(run_dir: str | Path, data_dir: str | Path | None) -> tuple[str | Path | None, str]:
    """(the folder to load for this run, None for the usual search; a line for stderr, or "")."""
    if data_dir:
        return data_dir, ""
    record = recorded_treebank(run_dir)
    if record is None:
        return None, ""
    folder, name = Path(record["folder"]), Path(run_dir).name
    if has_treebank(folder):
        return folder, f"note: using the treebank {name} was trained on, in {folder} (--data-dir chooses another)"
    return None, (f"warning: the treebank {name} was trained on ({folder}) is gone; using the usual one "
                  "($SST_DIR, then data/sst); pass --data-dir to choose the folder")


def checksum_warning(run_dir: str | Path, corpus) -> str:
    """A line for stderr when `corpus` is not the treebank the run recorded ("" when it is, or unknown)."""
    record = recorded_treebank(run_dir)
    if record is None or record.get("checksum") in (None, corpus.checksum):
        return ""
    return (f"warning: the treebank in {corpus.folder} differs from the one {Path(run_dir).name} was trained on "
            f"(checksum {corpus.checksum[:12]}, recorded {str(record['checksum'])[:12]}); figures may not match "
            "the run's own: restore that treebank, or pass --data-dir with it")
