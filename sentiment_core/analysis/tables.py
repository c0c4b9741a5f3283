"""Tables of sentences for the playground's batch mode: pasted lines or a CSV file in, CSV out."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from sentiment_core.analysis.errors import TableError
from sentiment_core.analysis.inference import MAX_BATCH_ROWS_ENV

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


def texts_from_csv(data: bytes, max_rows: int) -> list[str]:
    """The text column ('text' or 'sentence', any case) of a CSV file with a header row."""
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
        for number, row in enumerate(reader, 2):
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
    rows = list(rows)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


