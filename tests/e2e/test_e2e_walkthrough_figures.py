"""The walkthrough's gates heatmap as Chromium draws it (issue 21): each number printed in a row is that
row's own value. The AppTest tests read the figure's data; this one reads the pixels' positions, where
the old figure went wrong (plotly placed a heatmap's text by row index on a shared category axis)."""
from __future__ import annotations

from sentiment_core.analysis.lessons import gates_by_hand
from sentiment_core.analysis.lessons.basics import run_embedding
from sentiment_core.analysis.lessons.walk_sentence import TREEBANK_SENTENCES, sentence_inputs
from sentiment_core.data.text import Tokenizer
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR

READ_CELLS = """el => {
  const centre = node => { const r = node.getBoundingClientRect(); return r.y + r.height / 2; };
  const cells = [...el.querySelectorAll('g.hm text')].map(t => [t.textContent, centre(t)]);
  const rows = [...el.querySelectorAll('g.yaxislayer-above text')].map(t => [t.textContent, centre(t)]);
  return {cells, rows};
}"""


def expected_rows(cell: str, step: int = 3, units: int = 4) -> dict[str, list[str]]:
    """What each row must print: the section's default sentence, seeded cell and step (the third word)."""
    vocab, weight = run_embedding(PRETRAINED_DIR / PLAYGROUND_MODEL)
    sentence = sentence_inputs(TREEBANK_SENTENCES[0], Tokenizer(), vocab, weight)
    module = gates_by_hand.seeded_gate_cell(cell, sentence.x.shape[1], units, seed=0)
    parts = gates_by_hand.walk_gates(cell, module, sentence.x)[step - 1].parts
    return {name: [f"{v:.2f}" for v in parts[name].tolist()] for name in gates_by_hand.PARTS[cell]}


def printed_rows(app) -> dict[str, list[str]]:
    """The numbers drawn in each row of the gates heatmap, each assigned to the row label nearest its height."""
    drawn = app.widget("wt_gate_chart").evaluate(READ_CELLS)
    rows: dict[str, list[str]] = {name: [] for name, _ in drawn["rows"]}
    for text, y in drawn["cells"]:
        nearest = min(drawn["rows"], key=lambda row: abs(row[1] - y))[0]
        rows[nearest].append(text)
    return rows


def test_every_row_of_the_gates_heatmap_prints_its_own_numbers(app):
    app.open("/walkthrough?section=7")
    assert printed_rows(app) == expected_rows("lstm")
    app.widget("wt_gate_cell").get_by_text("GRU").click()
    app.idle()
    assert printed_rows(app) == expected_rows("gru")
    app.screenshot("walkthrough-gates")
