"""Tables of sentences for the playground's batch mode and `predict --file`: pasted lines or a CSV file
in, CSV out (with every cell a spreadsheet would run as a formula neutralised)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from defusedcsv import csv as safe_csv

from sentiment_core.data.caps import MAX_BATCH_ROWS_ENV, MAX_CSV_BYTES_ENV, max_csv_bytes
from sentiment_core.errors import TableError

TEXT_COLUMNS = ("text", "sentence")  # accepted names of the text column of an uploaded table


def texts_from_lines(text: str, max_rows: int) -> list[str]:
    """The non-blank lines of a pasted text; more than `max_rows` is refused."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise TableError("there are no sentences: paste one sentence per line")
    if len(lines) > max_rows:
        raise TableError(f"{len(lines)} lines is more than the limit of {max_rows} rows; "
                         f"split the list, or raise {MAX_BATCH_ROWS_ENV}")
    return lines


def check_csv_size(size: int, max_bytes: int, at_least: bool = False) -> None:
    """Refuses a CSV file of more than `max_bytes`, before it is decoded or parsed."""
    if size > max_bytes:
        held = f"more than the limit of {max_bytes:,} bytes" if at_least else \
            f"{size:,} bytes, more than the limit of {max_bytes:,}"
        raise TableError(f"the file holds {held}; split it, or raise {MAX_CSV_BYTES_ENV}")


def read_csv_file(path: Path, max_bytes: int) -> bytes:
    """A CSV file's bytes, read only up to one byte past the limit (a huge file is never read whole)."""
    with open(path, "rb") as source:
        data = source.read(max_bytes + 1)
    check_csv_size(len(data), max_bytes, at_least=True)
    return data


def texts_from_csv(data: bytes, max_rows: int, max_bytes: int | None = None) -> list[str]:
    """The text column ('text' or 'sentence', any case) of a CSV file with a header row.

    The file's size is checked first (`max_bytes`, default SENTIMENT_MAX_CSV_BYTES) and its
    rows while reading (`max_rows`); each text's own caps are the Predictor's.
    """
    check_csv_size(len(data), max_csv_bytes() if max_bytes is None else max_bytes)
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError("the file is not UTF-8 text; upload a CSV file saved as UTF-8") from None
    if "\x00" in content:
        raise TableError("the file holds binary data, not CSV text; upload a CSV file with a text column")
    try:
        reader = csv.reader(io.StringIO(content, newline=""))
        header = next(reader, None)
        if not header:
            raise TableError("the file is empty; upload a CSV file with a header row and a text column")
        names = [h.strip().lower() for h in header]
        column = next((names.index(n) for n in TEXT_COLUMNS if n in names), None)
        if column is None:
            shown = ", ".join(repr(h) for h in header[:10]) or "none"
            raise TableError(f"the file has no text column (columns found: {shown}); "
                             f"name the column of sentences 'text'")
        texts = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(texts) >= max_rows:
                raise TableError(f"the file has more than {max_rows} rows, the limit; "
                                 f"split it, or raise {MAX_BATCH_ROWS_ENV}")
            texts.append(row[column] if column < len(row) else "")
    except csv.Error as err:
        raise TableError(f"the file cannot be read as CSV ({err}); check its quoting and separators") from None
    if not texts:
        raise TableError("the file has a text column but no rows; add one sentence per row")
    return texts


def rows_to_csv(rows: Iterable[dict]) -> str:
    """The rows as CSV text, safe to open in a spreadsheet (OWASP's CSV-injection guidance).

    A text cell loses its leading whitespace first: the model ignores it (texts are split on
    whitespace), and a tab or carriage return there could hide a formula from the check that
    follows. defusedcsv then prefixes with a quote every cell starting with = + - @ | % (not a
    plain number), so no spreadsheet runs it as a formula.
    """
    rows = [{k: v.lstrip() if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    out = io.StringIO()
    if rows:
        writer = safe_csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


