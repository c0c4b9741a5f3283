"""Figures that cannot lie (issue 21): every walkthrough figure that shows numbers is read back as the
browser gets it (the plotly figure's z, text, x, y; the SVG's text labels) and each shown number is
checked against the computation, row by row.

The pages run on the real treebank (SST_DIR) and the shipped word vectors, through AppTest.
"""
from __future__ import annotations

import base64
import html as html_lib
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.charts import walkthrough as charts
from sentiment_core.analysis.lessons import gates_by_hand, gradient_flow, stacked
from sentiment_core.analysis.lessons.walk_sentence import LONGEST_SENTENCE, TREEBANK_SENTENCES, sentence_inputs, token_labels
from sentiment_core.data.text import Tokenizer
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR
from tests.helpers import chart_spec, metric

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGE = "views/walkthrough.py"


@pytest.fixture
def env(sst_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))  # no runs of the visitor's


def open_section(section: int, state: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["section"] = str(section)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shipped_sentence(text: str = TREEBANK_SENTENCES[0]):
    """The sentence as the page reads it: the shipped default model's word vectors."""
    from sentiment_core.analysis.lessons.basics import run_embedding

    vocab, weight = run_embedding(PRETRAINED_DIR / PLAYGROUND_MODEL)
    return sentence_inputs(text, Tokenizer(), vocab, weight)


def svg_texts(html: str) -> list[str]:
    """The text labels of the SVG inside an st.html block (an <img> of base64 SVG), in document order."""
    encoded = re.search(r'data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)', html).group(1)
    svg = base64.b64decode(encoded).decode()
    return [html_lib.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def html_blocks(at, marker: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if marker in h.proto.body]


def shown(values) -> list[str]:
    return [f"{float(v):.2f}" for v in values]


# ---------------------------------------------------------------------------------------------
# Section 7: the gates


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_gates_heatmap_prints_each_row_its_own_numbers(env, cell):
    """The cause of the wrong rows: gates and states were two heatmaps on one categorical y-axis, and
    plotly places a heatmap's text by row index, so i's trace wrote its numbers on rows i, f, g. Now each
    row is its own heatmap on its own axis; every row's text is its own values."""
    at = open_section(7, {"wt_gate_cell": cell})
    spec = chart_spec(at, "wt_gate_chart")
    sentence = shipped_sentence()
    module = gates_by_hand.seeded_gate_cell(cell, sentence.x.shape[1], 4, seed=0)
    t = 3  # the section opens on the third word
    step = gates_by_hand.walk_gates(cell, module, sentence.x)[t - 1]
    names = list(gates_by_hand.PARTS[cell])
    rows = {trace["y"][0]: trace for trace in spec["data"]}
    assert [trace["y"] for trace in spec["data"]] == [[n] for n in names]        # one row per trace, in order
    assert len({trace.get("yaxis", "y") for trace in spec["data"]}) == len(names)  # each on its own axis
    for name in names:
        expected = step.parts[name].tolist()
        assert rows[name]["text"] == [shown(expected)], name
        assert rows[name]["z"][0] == pytest.approx(expected, abs=1e-6), name
        assert rows[name]["x"] == [f"unit {u}" for u in range(1, 5)]
    # rows read top to bottom in the equations' order: each axis's domain lies above the next one's
    domains = [spec["layout"]["yaxis" + (str(i) if i > 1 else "")]["domain"] for i in range(1, len(names) + 1)]
    assert all(upper[0] > lower[0] for upper, lower in zip(domains, domains[1:]))
    assert f"Step {t}: reading “{sentence.tokens[t - 1]}”" in spec["layout"]["title"]["text"].replace("<br>", " ")


def test_gate_figure_keeps_each_rows_numbers_for_any_parts():
    """The chart function alone, with rows whose values differ in every cell (no two rows could be confused)."""
    parts = {"i": [0.11, 0.12], "f": [0.21, 0.22], "g": [-0.31, -0.32], "o": [0.41, 0.42], "c": [0.51, 0.52],
             "h": [-0.61, -0.62]}
    fig = charts.gate_figure(parts, gates_by_hand.GATES, "t")
    assert {trace.y[0]: list(trace.text[0]) for trace in fig.data} == {n: shown(v) for n, v in parts.items()}
    assert {trace.y[0]: trace.zmin for trace in fig.data} == {"i": 0, "f": 0, "g": -1, "o": 0, "c": -1, "h": -1}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_unit_is_worked_out_by_hand_beside_the_figure(env, cell):
    at = open_section(7, {"wt_gate_cell": cell, "wt_gate_unit": 2})
    spec = chart_spec(at, "wt_gate_chart")
    in_figure = {trace["y"][0]: trace["text"][0][1] for trace in spec["data"]}  # unit 2's column
    hand = next(c.value for c in at.code if c.value.startswith("i = σ(") or c.value.startswith("r = σ("))
    lines = dict(line.split(" = ", 1) for line in hand.splitlines())
    assert list(lines) == list(gates_by_hand.PARTS[cell])
    for name, line in lines.items():
        value = float(line.rsplit(" = ", 1)[1].replace("−", "-"))
        assert f"{value:.2f}" == in_figure[name] or abs(value - float(in_figure[name])) <= 0.005 + 1e-9, name
        if line.startswith("σ("):  # the written sum adds up to the argument, and σ of it is the value
            terms, argument = re.match(r"σ\((.*)\) = σ\((.*)\)", line.rsplit(" = ", 1)[0]).groups()
            total = sum(float(t.replace(" ", "").replace("−", "-")) for t in re.findall(r"[−+]?\s?[\d.]+", terms))
            assert total == pytest.approx(float(argument.replace("−", "-")), abs=0.003)
            assert value == pytest.approx(1 / (1 + torch.exp(torch.tensor(-total)).item()), abs=0.002)
    # The cell diagram carries the same unit's values in its boxes.
    labels = svg_texts(html_blocks(at, "wt-cell")[0])
    for name in gates_by_hand.PARTS[cell]:
        value = float(lines[name].rsplit(" = ", 1)[1].replace("−", "-"))
        if name in ("c", "h"):
            assert any(label.endswith(f"= {value:.3f}") for label in labels), (name, labels)
        else:
            assert f"{value:.3f}" in labels, (name, labels)


def test_gates_along_the_sentence_and_the_additive_path(env):
    at = open_section(7)
    sentence = shipped_sentence()
    module = gates_by_hand.seeded_gate_cell("lstm", sentence.x.shape[1], 4, seed=0)
    steps = gates_by_hand.walk_gates("lstm", module, sentence.x)
    spec = chart_spec(at, "wt_gate_sentence_chart")
    heat = spec["data"][0]
    assert heat["x"] == token_labels(sentence.tokens) and heat["y"] == [f"unit {u}" for u in range(1, 5)]
    for u in range(4):  # row u: the forget gate of unit u + 1 at every word
        expected = [float(s.parts["f"][u]) for s in steps]
        assert heat["text"][u] == shown(expected) and heat["z"][u] == pytest.approx(expected, abs=1e-6)
    path = gates_by_hand.additive_path("lstm", module, sentence.x)
    lines = {trace["name"]: trace["y"] for trace in chart_spec(at, "wt_gate_path_chart")["data"]}
    keep = path.keep.tolist()
    assert lines["f_t, mean over the units (band: lowest to highest)"] == pytest.approx(
        [sum(row) / len(row) for row in keep], abs=1e-6)
    assert lines["||∂L/∂h_t|| measured by autograd"] == pytest.approx(path.measured, rel=1e-5)
    assert lines["through the additive path alone (product of f)"] == pytest.approx(path.path_only, rel=1e-5)
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    assert links["Section 6: the gradient measured on trained models"].query_string == "section=6"


def test_the_additive_path_is_the_product_of_the_forget_gates():
    """Along the cell state alone, one step back multiplies dL/dc by f_t: checked against autograd on a
    cell whose output gate and candidate leave only that path (c_t = f_t c_{t-1} + i_t g_t, dL/dc_T = u)."""
    cell = gates_by_hand.seeded_gate_cell("lstm", 5, 3, seed=1)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    steps = gates_by_hand.walk_gates("lstm", cell, x)
    c0 = torch.zeros(3, requires_grad=True)
    c = c0
    for step in steps:  # the cell-state recursion with the gates held at their values
        c = step.parts["f"] * c + step.parts["i"] * step.parts["g"]
    (grad,) = torch.autograd.grad(c.sum(), c0)
    assert grad.tolist() == pytest.approx(torch.stack([s.parts["f"] for s in steps]).prod(0).tolist(), rel=1e-5)
    path = gates_by_hand.additive_path("lstm", cell, x)
    assert path.path_only[-1] == 1.0 and all(a <= b + 1e-9 for a, b in zip(path.path_only, path.path_only[1:]))


def test_trained_gru_weights_are_the_shipped_models(env):
    at = open_section(7, {"wt_gate_cell": "gru", "wt_gate_weights": "trained"})
    assert at.selectbox(key="wt_gate_source").value.startswith("shipped default gru-3cls")
    from sentiment_core.runs.checkpoints import load_checkpoint

    state = load_checkpoint(PRETRAINED_DIR / PLAYGROUND_MODEL / "checkpoint.pt")["model_state"]
    module = gates_by_hand.cell_from_state("gru", state)
    sentence = shipped_sentence()
    step = gates_by_hand.walk_gates("gru", module, sentence.x)[2]
    rows = {trace["y"][0]: trace["text"][0] for trace in chart_spec(at, "wt_gate_chart")["data"]}
    for name in ("r", "z", "n", "h"):
        assert rows[name] == shown(step.parts[name][:4].tolist())
    # the trained cell is the trained layer: torch's nn.GRU with the same weights gives the same states
    gru = torch.nn.GRU(64, 64)
    gru.load_state_dict({k.removeprefix("encoder.rnn."): v for k, v in state.items() if k.startswith("encoder.rnn.")})
    with torch.no_grad():
        out, _ = gru(sentence.x.unsqueeze(1))
    assert out[2, 0].tolist() == pytest.approx(step.parts["h"].tolist(), abs=1e-5)


def test_trained_lstm_says_what_the_shipped_one_holds(env):
    at = open_section(7, {"wt_gate_cell": "lstm", "wt_gate_weights": "trained"})
    assert any("comes with its gradient probes only" in i.value for i in at.info)
    assert not [c for c in at.get("plotly_chart") if "wt_gate_chart" in c.proto.id]


# ---------------------------------------------------------------------------------------------
# Sections 2 to 5: the unrolled chain, the gradient through time, its truncation


def test_the_unrolled_chain_labels_every_state_and_word(env):
    at = open_section(3, {"wt_pick": TREEBANK_SENTENCES[2]})
    sentence = shipped_sentence(TREEBANK_SENTENCES[2])
    labels = svg_texts(html_blocks(at, "wt-unrolled")[0])
    T = len(sentence.tokens)
    assert [l for l in labels if l.startswith("h_")] == ["h_0 = 0"] + [f"h_{t}" for t in range(1, T + 1)]
    assert [l for l in labels if l.startswith("x_")] == [f"x_{t}" for t in range(1, T + 1)]
    words = [l for l in labels if not l.startswith(("h_", "x_", "then "))]
    assert words == [t if len(t) <= 12 else t[:11] + "…" for t in sentence.tokens]
    assert labels[-1] == f"then the classifier reads h_{T}"


def bptt_norms(sentence, radius=1.0, activation="tanh"):
    w = gradient_flow.recurrent_matrix(64, radius, "orthogonal", seed=0)
    sequence = gradient_flow.sentence_sequence(sentence.x, 64, seed=0, input_scale=1.0)
    return gradient_flow.gradient_norms_through_time(w, activation, sequence)


def test_the_bptt_chart_shows_the_computed_norms_word_by_word(env):
    at = open_section(4, {"wt_pick": TREEBANK_SENTENCES[1]})
    sentence = shipped_sentence(TREEBANK_SENTENCES[1])
    spec = chart_spec(at, "wt_bptt_chart")
    lines = {trace["name"]: trace for trace in spec["data"]}
    norms = bptt_norms(sentence)
    assert lines["tanh"]["y"] == pytest.approx(gradient_flow.by_position(norms), rel=1e-9)
    assert lines["tanh"]["x"] == list(range(1, len(norms) + 1))
    assert spec["layout"]["xaxis"]["ticktext"] == token_labels(sentence.tokens)
    assert lines["r^k = 1^k (k steps back)"]["y"] == pytest.approx([1.0] * len(norms))


def test_exercise_4_explodes_on_an_offered_sentence(env):
    """'r = 1.2, identity: find where it explodes' with a sentence from the picker (40 tokens)."""
    at = open_section(4, {"wt_pick": LONGEST_SENTENCE, "wt_activation": "identity", "wt_radius": 1.2})
    assert len(Tokenizer()(LONGEST_SENTENCE)) >= 39 and LONGEST_SENTENCE in TREEBANK_SENTENCES
    assert metric(at, f"explodes (> {gradient_flow.EXPLODING_ABOVE:g}) from") == "38 back"  # 1.2^38 > 1000
    y = {trace["name"]: trace["y"] for trace in chart_spec(at, "wt_bptt_chart")["data"]}["identity"]
    assert y[0] == pytest.approx(1.2 ** 39, rel=1e-6)
    long_ones = [s for s in TREEBANK_SENTENCES if len(Tokenizer()(s)) >= 30]
    assert len(long_ones) >= 2
    labels = at.selectbox(key="wt_pick").options
    assert any(label.endswith("(40 tokens)") for label in labels)


@pytest.mark.parametrize("every", [1, 3, 4, 5, 8])
def test_truncation_draws_what_detaching_every_k_steps_does(env, every):
    """The chart keeps exactly the words that the project's own model (SentimentRNN, bptt=k: h.detach()
    every k steps) still sends a gradient to from a loss after the last word."""
    from sentiment_core.models.tutorial import SentimentRNN

    at = open_section(5, {"wt_truncate": every})
    sentence = shipped_sentence()
    T = len(sentence.tokens)
    lines = {trace["name"]: trace["y"] for trace in chart_spec(at, "wt_truncation_chart")["data"]}
    kept = [y is not None for y in lines.get(f"tanh: detached every {every} words", [True] * T)]
    model = SentimentRNN(10, sentence.x.shape[1], 8, 2)
    embedded = sentence.x.unsqueeze(1).clone().requires_grad_(True)
    model.forward_embedded(embedded, bptt=every)[0, 0].backward()
    reached = [bool(g.abs().sum() > 0) for g in embedded.grad[:, 0]]
    assert kept == reached
    norms = bptt_norms(sentence)
    truncated = [y for y in lines.get(f"tanh: detached every {every} words", gradient_flow.by_position(norms))]
    for position, (value, full) in enumerate(zip(truncated, gradient_flow.by_position(norms)), start=1):
        assert value is None or value == pytest.approx(full), position
    text = " ".join(m.value for m in at.markdown)
    points = gradient_flow.detach_points(T, every)
    if points:
        assert f"detached after word{'s' if len(points) > 1 else ''} {points[0]}" in text
        first = reached.index(True) + 1
        assert (f"words {first} to {T}" if first < T else f"word {T} only") in text
    else:
        assert "never cut" in text


# ---------------------------------------------------------------------------------------------
# Section 8: the stack and depth


def test_the_stack_shows_each_layers_states_and_the_depth_comparison(env):
    at = open_section(8, {"wt_deep_layers": 3, "wt_deep_hidden": 16})
    sentence = shipped_sentence()
    T = len(sentence.tokens)
    labels = svg_texts(html_blocks(at, "wt-stacked")[0])
    for mark in ("¹", "²", "³"):
        assert [l for l in labels if l.startswith(f"h{mark}_")] == [f"h{mark}_{t}" for t in range(T + 1)]
    states = stacked.layer_states("lstm", sentence.x, 16, 3)
    spec = chart_spec(at, "wt_deep_states_chart")
    by_layer = {trace["name"]: trace for trace in spec["data"]}
    assert [trace["name"] for trace in spec["data"]] == ["layer 3", "layer 2", "layer 1"]  # top drawn on top
    for layer in (1, 2, 3):
        trace = by_layer[f"layer {layer}"]
        assert trace["x"] == token_labels(sentence.tokens)
        for u in range(4):
            expected = states[layer - 1][:, u].tolist()
            assert trace["y"][u] == f"h{layer}[{u + 1}]"
            assert trace["text"][u] == shown(expected) and trace["z"][u] == pytest.approx(expected, abs=1e-6)
    batch = [shipped_sentence(text).x for text in TREEBANK_SENTENCES]
    results = stacked.depth_comparison("lstm", batch, 64)
    bars = {trace["name"]: trace for trace in chart_spec(at, "wt_deep_depth_chart")["data"]}
    for layer in (1, 2, 3):
        name = "layer 1 (reads the words)" if layer == 1 else f"layer {layer}"
        expected = [r.per_layer[layer - 1] if layer <= r.layers else None for r in results]
        assert bars[name]["x"] == ["1 layer", "2 layers", "3 layers"]
        assert bars[name]["y"] == [pytest.approx(v, rel=1e-4) if v is not None else None for v in expected]
        assert bars[name]["text"] == [f"{v:.3g}" if v is not None else "" for v in expected]
    # the point: in the 3-layer network the first layer gets less than the top, and less than alone
    assert results[2].per_layer[0] < results[2].per_layer[-1] and results[2].per_layer[0] < results[0].per_layer[0]
    top, first = results[2].per_layer[-1], results[2].per_layer[0]
    assert any(f"**{top / first:.1f}×** less gradient than the top layer" in m.value for m in at.markdown)


# ---------------------------------------------------------------------------------------------
# Section 6: the measured probes


def test_the_probe_chart_shows_the_shipped_runs_probes(env):
    from sentiment_core.pretrained import shipped_runs
    from sentiment_core.runs.metrics import read_metrics

    at = open_section(6)
    lines = {trace["name"]: trace["y"] for trace in chart_spec(at, "wt_probe_chart")["data"]}
    for run in shipped_runs():
        if run.name.endswith(("walkthrough-lstm", "walkthrough-scratch")):
            events, _ = read_metrics(run.path)
            picked = [(run.name, run.config.model.cell, events)]
            for curve, suffix in ((gradient_flow.probe_curves(picked)[0], None),
                                  (gradient_flow.probe_curves(picked, first=True)[0], "before training")):
                name = f"{curve.cell} · {curve.run} ({suffix or f'after epoch {curve.epoch}'})"
                assert lines[name] == pytest.approx(curve.norms, rel=1e-9), name


def test_a_trained_lstm_of_the_visitor_is_stepped_with_its_own_weights_and_words(sst_dir, tmp_path, monkeypatch,
                                                                                   vocab):
    """The LSTM the comparison (or the training page) trains appears under 'trained'; the figure shows
    its first layer's gates on the sentence read through its own word vectors."""
    from sentiment_core.analysis.lessons.basics import run_embedding
    from sentiment_core.data.text import label_scheme
    from sentiment_core.models import build_model
    from sentiment_core.config import preset
    from sentiment_core.runs.checkpoints import save_checkpoint
    from sentiment_core.runs.store import create_run

    config = preset("quick")
    config.model.cell, config.model.embedding_dim, config.model.hidden_dim = "lstm", 16, 8
    config.model.vocab_size, config.model.num_classes = len(vocab), 3
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    run_dir = create_run(config, vocab, root=tmp_path / "runs", name="my-lstm")
    save_checkpoint(run_dir / "checkpoint.pt", model, config.model, label_scheme(3), {"epoch": 1})
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))
    at = open_section(7, {"wt_gate_cell": "lstm", "wt_gate_weights": "trained"})
    assert at.selectbox(key="wt_gate_source").value == "my-lstm (your run)"
    module = gates_by_hand.cell_from_state("lstm", model.state_dict())
    run_vocab, weight = run_embedding(run_dir)
    x = sentence_inputs(TREEBANK_SENTENCES[0], Tokenizer(), run_vocab, weight).x
    step = gates_by_hand.walk_gates("lstm", module, x)[2]
    rows = {trace["y"][0]: trace["text"][0] for trace in chart_spec(at, "wt_gate_chart")["data"]}
    assert rows == {name: shown(step.parts[name][:4].tolist()) for name in gates_by_hand.PARTS["lstm"]}
    with torch.no_grad():  # and the cell is the trained layer: torch's LSTM over the same words agrees
        out, _ = model.encoder.rnn(x.unsqueeze(1))
    assert out[2, 0].tolist() == pytest.approx(step.parts["h"].tolist(), abs=1e-5)


def test_the_autograd_graphs_draw_one_red_edge_per_use_of_the_shared_weight(env):
    """Section 3's graphs (Graphviz DOT as the browser gets it): the red leaf is fc_hh.weight with its
    shape, its red edges are as many as the metric says, and y_t's graph holds t word vectors x_1..x_t."""
    at = open_section(3, {"wt_graph_step": 4})
    dots = [g.proto.spec for g in at.get("graphviz_chart")]
    assert len(dots) == 2
    for t, dot in zip((1, 4), dots):
        red_nodes = re.findall(r'(\w+) \[label="([^"]*)", [^\]]*fillcolor="#f4a3a3"', dot)
        assert [label for _, label in red_nodes] == ["fc_hh.weight\\n(10, 10)"]
        node = red_nodes[0][0]
        red_edges = re.findall(rf"{node} -> \w+ \[color=\"#c0392b\"", dot)
        assert len(red_edges) == t == int(metric(at, f"uses of fc_hh.weight in y_{t}'s graph"))
        inputs = re.findall(r'label="(x_\d+)\\n\(1, 64\)"', dot)
        assert sorted(inputs) == sorted(f"x_{s}" for s in range(1, t + 1))
        assert f'label="y_{t}\\n(1, 1)"' in dot


def test_section_2_draws_the_steps_computed_so_far_solid_and_the_rest_dashed(env):
    at = open_section(2)
    for _ in range(3):
        at.button(key="wt_next_step").click().run()
    html = html_blocks(at, "wt-unrolled")[0]
    svg = base64.b64decode(re.search(r'base64,([A-Za-z0-9+/=]+)', html).group(1)).decode()
    boxes = re.findall(r'<rect [^>]*?(stroke-dasharray="4 3")?/><text [^>]*>(h_[^<]*)</text>', svg)
    T = len(shipped_sentence().tokens)
    assert [(label, bool(dashed)) for dashed, label in boxes] == [("h_0 = 0", False)] + [
        (f"h_{t}", t > 3) for t in range(1, T + 1)]
    assert sum(c.value.startswith("# t = ") for c in at.code) == 3
