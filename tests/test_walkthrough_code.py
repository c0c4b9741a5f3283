"""The tutorial's code, live (issue 21, point 2), and the walkthrough's settings in the URL (point 7).

Library: the listings are the modules' own source, the traced lines are the ones that ran, the
parameter count is the tutorial's 1,577,899 by tensor, and one training step on a batch lowers
the loss it reports. Page (AppTest): the highlighted lines follow the "Next word" stepping, the
training loop steps line by line to the loss after, a link sets the sentence and settings, and
presenter mode enlarges the charts' fonts.
"""
from __future__ import annotations

import inspect
import math
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard import theme
from sentiment_core.analysis.lessons import tutorial_code
from sentiment_core.analysis.lessons.walk_sentence import TREEBANK_SENTENCES
from sentiment_core.models import tutorial
from sentiment_core.models.tutorial import RNNLayer, SentimentRNN
from tests.helpers import chart_spec, metric

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGE = "views/walkthrough.py"


# ---------------------------------------------------------------------------------------------
# Library


def test_the_listing_is_the_modules_own_source():
    source = tutorial_code.source_of(RNNLayer.forward)
    file_lines = Path(tutorial.__file__).read_text(encoding="utf-8").splitlines()
    shown = file_lines[source.first_line - 1:source.first_line - 1 + len(source.lines)]
    assert source.lines == textwrap.dedent("\n".join(shown)).splitlines()
    assert source.lines[0].startswith("def forward(self, x_t")
    assert "h_t = self.phi_h(self.fc_xh(x_t) + self.fc_hh(h_prev))" in source.lines[source.find("h_t = ")]
    with pytest.raises(ValueError, match="on 0 lines"):
        source.find("no such code")


def test_traced_lines_are_the_ones_that_ran_and_the_tracer_comes_back():
    layer = RNNLayer(4, 3, 1)
    source = tutorial_code.source_of(RNNLayer.forward)
    zero_state = source.first_line + source.find("new_zeros")
    x = torch.randn(1, 4)
    previous = sys.gettrace()
    (y1, h1), first = tutorial_code.executed_lines(layer, x, None)
    assert sys.gettrace() is previous
    (y2, h2), second = tutorial_code.executed_lines(layer, x, h1)
    assert zero_state in first and zero_state not in second  # h_0 is made once, at step 1
    assert source.first_line + source.find("y_t = self.phi_y(y_t)") in second  # the tutorial's sigmoid output
    expected_y, expected_h = layer(x, h1)
    assert torch.equal(y2, expected_y) and torch.equal(h2, expected_h)
    loop = tutorial_code.source_of(SentimentRNN.forward_embedded)
    model = tutorial_code.seeded_tutorial_model(1, 4, 3, 3)
    _, ran = tutorial_code.executed_lines(model.forward_embedded, torch.randn(5, 1, 4))
    assert loop.first_line + loop.find("self.rnn(x_t, h_t)") in ran
    assert loop.first_line + loop.find("h_t = h_t.detach()") not in ran  # the tutorial's model: no truncation


def test_the_tutorials_parameters_by_tensor():
    rows = tutorial_code.parameter_rows(tutorial_code.tutorial_model(**tutorial_code.TUTORIAL_SIZES))
    by_name = {row.name: row for row in rows}
    assert sum(row.count for row in rows) == tutorial_code.TUTORIAL_PARAMETERS == 1_577_899
    assert by_name["embedding.weight"].product == "15,482 × 100" and by_name["embedding.weight"].count == 1_548_200
    assert [by_name[n].shape for n in ("rnn.fc_xh.weight", "rnn.fc_hh.weight", "rnn.fc_hh.bias", "rnn.fc_hy.weight",
                                       "rnn.fc_hy.bias")] == [(128, 100), (128, 128), (128,), (3, 128), (3,)]


def small_batch():
    ids = [[2, 5, 6, 7, 3], [2, 8, 3], [2, 9, 10, 11, 12, 3], [2, 5, 9, 3]] * 4
    return tutorial_code.labelled_batch(ids, [0, 1, 2, 3, 4, 4, 3, 1] * 2, 8, seed=1)


def test_a_batch_is_time_major_with_three_classes():
    batch = small_batch()
    assert batch.X.shape == (max(batch.lengths), 8) and batch.y.shape == (8,)
    assert set(batch.y.tolist()) <= {0, 1, 2} and batch.class_names == ("positive", "negative", "neutral")
    with pytest.raises(ValueError, match="batch size"):
        tutorial_code.labelled_batch([[2, 3]], [0], 0)


def test_one_training_step_reports_the_loss_before_and_after():
    batch = small_batch()
    report = tutorial_code.step_on_batch(tutorial_code.seeded_tutorial_model(20, 8, 6, 3), batch, clip=0.5)
    # the loss before is the NLL of what the model said before the step
    assert report.loss_before == pytest.approx(float(torch.nn.NLLLoss()(report.log_proba_before, batch.y)), rel=1e-5)
    assert report.loss_after < report.loss_before
    # per-tensor gradients are backward's (before clipping): their global norm is what clip_grad_norm_ measured
    assert math.sqrt(sum(n * n for n in report.grad_norms.values())) == pytest.approx(report.grad_norm, rel=1e-4)
    assert report.grad_norm > 0.5 and report.clipped_norm == 0.5
    assert all(change > 0 for change in report.update_norms.values())
    again = tutorial_code.step_on_batch(tutorial_code.seeded_tutorial_model(20, 8, 6, 3), batch, clip=0.5)
    assert again.loss_after == report.loss_after  # seeded: the page shows the same step every time
    with pytest.raises(ValueError, match="clipping norm"):
        tutorial_code.step_on_batch(tutorial_code.seeded_tutorial_model(20, 8, 6, 3), batch, clip=float("nan"))


def test_every_stepped_line_of_the_loop_is_in_its_source_once():
    source = tutorial_code.source_of(tutorial_code.train_step)
    positions = [source.find(fragment) for fragment in tutorial_code.TRAIN_STEP_LINES.values()]
    assert positions == sorted(positions)  # in the order they run
    body = inspect.getsource(tutorial_code.train_step)
    for call in ("loss.backward()", "optimizer.step()", "optimizer.zero_grad()", "clip_grad_norm_"):
        assert call in body


def test_presenter_fonts_scale_charts_only_inside_the_block():
    assert theme.chart_layout("t").get("font") is None and theme.scaled(15) == 15
    with theme.presenter_fonts(True):
        layout = theme.chart_layout("t")
        assert layout["font"]["size"] >= 18 and layout["title"]["font"]["size"] == 24 and theme.scaled(15) >= 22
        assert layout["hoverlabel"]["font"]["size"] >= 18
    assert theme.font_scale() == 1 and theme.chart_layout("t").get("font") is None


# ---------------------------------------------------------------------------------------------
# The page


@pytest.fixture
def env(sst_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))


def open_link(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def listings(at) -> list[str]:
    return [element.proto.body for element in at.get("html") if 'class="wt-code"' in element.proto.body]


def marked(listing: str, kind: str) -> list[str]:
    """The text of the listing's lines marked `kind` (wt-ran, wt-now), without their line numbers."""
    lines = re.findall(rf'<span class="wt-line {kind}"><span class="wt-no">\d+</span>(.*?)</span>', listing)
    return [re.sub(r"<[^>]+>", "", line) for line in lines]


def test_the_cell_code_lights_up_the_lines_each_word_ran(env):
    at = open_link({"section": "2"})
    assert marked(listings(at)[0], "wt-ran") == [] and marked(listings(at)[0], "wt-now") == []
    at.button(key="wt_next_step").click().run()
    first = listings(at)[0]
    assert any("new_zeros" in line for line in marked(first, "wt-ran"))
    assert [line.strip()[:5] for line in marked(first, "wt-now")] == ["h_t =", "y_t =", "y_t ="]
    at.button(key="wt_next_step").click().run()
    assert not any("new_zeros" in line for line in marked(listings(at)[0], "wt-ran"))  # h_1 carried over


def test_the_training_loop_steps_to_the_loss_after(env):
    at = open_link({"section": "9", "loop_batch": "8", "loop_clip": "1"})
    assert at.slider(key="wt_loop_batch").value == 8 and at.select_slider(key="wt_loop_clip").value == 1.0
    assert metric(at, "loss after") == "…"
    for _ in tutorial_code.TRAIN_STEP_LINES:
        at.button(key="wt_loop_next").click().run()
    assert not at.exception and at.button(key="wt_loop_next").disabled
    before, after = float(metric(at, "loss before")), float(metric(at, "loss after"))
    assert after < before
    assert any("loss.backward()" in line for line in marked(listings(at)[-1], "wt-ran"))
    assert any("optimizer.step()" in line for line in marked(listings(at)[-1], "wt-now"))
    assert any(f"{before:.4f} → {after:.4f}" in m.value for m in at.markdown)
    counts = [t.value for t in at.table]
    assert any("1,577,899" in str(table.values) for table in counts)  # the tutorial's count, by tensor


def test_a_link_opens_the_section_with_its_sentence_and_settings(env):
    at = open_link({"section": "2", "pick": TREEBANK_SENTENCES[1], "h_dim": "16", "seed": "7"})
    assert at.selectbox(key="wt_pick").value == TREEBANK_SENTENCES[1]
    assert at.slider(key="wt_h_dim").value == 16 and at.number_input(key="wt_seed").value == 7
    # the settings outlive their section and stay in the URL
    at.button(key="wt_next").click().run()
    at.button(key="wt_prev").click().run()
    assert at.slider(key="wt_h_dim").value == 16 and at.query_params["h_dim"] in ("16", ["16"])
    at.slider(key="wt_h_dim").set_value(20).run()
    assert at.query_params["h_dim"] in ("20", ["20"])


def test_a_link_with_values_no_control_offers_says_so_and_changes_nothing(env):
    at = open_link({"section": "4", "radius": "9.5", "activation": "<script>", "bptt_seed": "7"})
    assert [w.value for w in at.warning] == ["This link's radius, activation could not be used (not a value its "
                                              "control offers), so the section starts from its default there."]
    assert at.slider(key="wt_radius").value == 1.0 and at.number_input(key="wt_bptt_seed").value == 7
    assert "activation" not in at.query_params or at.query_params["activation"] in ("tanh", ["tanh"])


def test_presenter_mode_enlarges_the_chart_fonts_and_listens_for_a_clicker(env):
    plain_page, presenting_page = open_link({"section": "4"}), open_link({"section": "4", "present": "1"})
    plain = chart_spec(plain_page, "wt_bptt_chart")["layout"]
    presented = chart_spec(presenting_page, "wt_bptt_chart")["layout"]
    keys = [h.proto for h in presenting_page.get("html") if "<script>" in h.proto.body and "wt-presenting" in h.proto.body]
    assert len(keys) == 1 and keys[0].unsafe_allow_javascript and "PageDown" in keys[0].body
    assert not [h for h in plain_page.get("html") if "wt-presenting" in h.proto.body]
    assert [h.value for h in presenting_page.header] == ["4. Backpropagation through time"]  # chrome: one row
    assert not presenting_page.title and plain_page.title
    assert "size" not in plain.get("font", {}) and presented["font"]["size"] >= 18
    assert presented["hoverlabel"]["font"]["size"] >= 18  # the title, legend and ticks inherit layout.font
