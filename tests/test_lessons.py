"""The walkthrough's computations as plain functions: the cell, the autograd graph, BPTT, text to tensors."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dashboard.charts.walkthrough import autograd_graph_dot
from sentiment_core.analysis.lessons import gradient_flow, basics as lessons
from sentiment_core.data.text import PAD_INDEX, SOS_INDEX, EOS_INDEX, UNK_INDEX, Tokenizer

NEGATION = "This movie was actually neither that funny, nor super witty."


# --- 1. the cell, stepped by hand


def test_cell_walk_shapes_and_the_recurrence():
    walk = lessons.start_cell_walk(lessons.CellSizes(batch=3, in_dim=7, h_dim=5, out_dim=2, seed=4))
    first = lessons.next_cell_step(walk)
    second = lessons.next_cell_step(walk)
    assert (first.t, second.t) == (1, 2)
    assert first.y.shape == (3, 2) and first.h.shape == (3, 5) and second.x.shape == (3, 7)
    layer = walk.layer
    with torch.no_grad():  # h_2 = tanh(W_xh x_2 + W_hh h_1 + b_h), y_2 = sigmoid(W_hy h_2 + b_y)
        h2 = torch.tanh(second.x @ layer.fc_xh.weight.T + first.h @ layer.fc_hh.weight.T + layer.fc_hh.bias)
        y2 = torch.sigmoid(h2 @ layer.fc_hy.weight.T + layer.fc_hy.bias)
    torch.testing.assert_close(second.h.detach(), h2)
    torch.testing.assert_close(second.y.detach(), y2)
    assert lessons.describe_tensor("y_2", second.y).startswith("y_2 (3, 2):\ntensor(")


def test_cell_walk_is_reproducible_from_its_seed():
    sizes = lessons.CellSizes(batch=2, in_dim=4, h_dim=3, out_dim=1, seed=11)
    runs = []
    for _ in range(2):
        walk = lessons.start_cell_walk(sizes)
        runs.append([lessons.next_cell_step(walk).y.detach() for _ in range(3)])
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b)
    other = lessons.start_cell_walk(lessons.CellSizes(batch=2, in_dim=4, h_dim=3, out_dim=1, seed=12))
    assert not torch.equal(lessons.next_cell_step(other).y.detach(), runs[0][0])


def test_cell_walk_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    walk = lessons.start_cell_walk(lessons.CellSizes(batch=2, in_dim=9, h_dim=4, out_dim=1, seed=3))
    lessons.next_cell_step(walk)
    assert torch.equal(torch.rand(3), expected)  # other sessions' random draws are not disturbed
    bound = 1 / 9 ** 0.5  # PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert walk.layer.fc_xh.weight.abs().max() <= bound and walk.layer.fc_xh.weight.std() > bound / 4


def test_cell_walk_rejects_bad_sizes():
    with pytest.raises(ValueError, match="h_dim"):
        lessons.start_cell_walk(lessons.CellSizes(h_dim=0))


def test_order_demo_averaging_forgets_order_the_recurrent_state_does_not():
    demo = lessons.order_demo("the plot is not bad , the acting is good", "the plot is not good , the acting is bad",
                              Tokenizer())
    assert demo.same_bag and demo.bag_distance == pytest.approx(0.0, abs=1e-6)
    assert demo.state_distance > 0.1
    other = lessons.order_demo("a good film", "a bad film", Tokenizer())
    assert not other.same_bag and other.bag_distance > 0
    with pytest.raises(ValueError, match="at least one word"):
        lessons.order_demo("  ", "a film", Tokenizer())


# --- 2. unrolling: the autograd graph


def test_graph_counts_each_use_of_a_shared_parameter():
    w = nn.Parameter(torch.tensor([2.0, 3.0]))
    x1, x2 = torch.ones(2, requires_grad=True), torch.full((2,), 5.0, requires_grad=True)
    out = (w * x1 + w * x2).sum()
    graph = lessons.autograd_graph(out, {id(w): "w", id(x1): "x1", id(x2): "x2"}, "out")
    assert lessons.parameter_uses(graph, "w") == 2
    assert lessons.parameter_uses(graph, "x1") == 1
    assert graph.kinds[graph.node_of("w")] == "parameter" and graph.kinds[graph.node_of("x1")] == "leaf"
    ops = sorted(label for node, label in graph.labels.items() if graph.kinds[node] == "operation")
    assert ops == ["AddBackward0", "MulBackward0", "MulBackward0", "SumBackward0"]
    with pytest.raises(KeyError):
        graph.node_of("nope")


def test_graph_of_an_unrolled_rnn_uses_the_recurrent_weights_once_per_step():
    walk = lessons.start_cell_walk(lessons.CellSizes(batch=3, in_dim=6, h_dim=4, out_dim=1))
    steps = [lessons.next_cell_step(walk) for _ in range(3)]
    names = lessons.walk_tensor_names(walk)
    for step in steps:
        graph = lessons.autograd_graph(step.y, names, f"y_{step.t}")
        assert lessons.parameter_uses(graph, "fc_hh.weight") == step.t
        assert lessons.parameter_uses(graph, "fc_xh.weight") == step.t
        assert lessons.parameter_uses(graph, "fc_hy.weight") == 1  # the output map is used at the end only
        assert {f"x_{t}" for t in range(1, step.t + 1)} <= set(graph.leaf_names.values())
        assert f"x_{step.t + 1}" not in graph.leaf_names.values()


def test_dot_text_names_leaves_and_highlights_one():
    walk = lessons.start_cell_walk(lessons.CellSizes(batch=2, in_dim=3, h_dim=2, out_dim=1))
    lessons.next_cell_step(walk)
    y2 = lessons.next_cell_step(walk).y
    graph = lessons.autograd_graph(y2, lessons.walk_tensor_names(walk), "y_2")
    dot = autograd_graph_dot(graph, highlight="fc_hh.weight")
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    assert 'label="fc_hh.weight\\n(2, 2)"' in dot and 'label="y_2\\n(2, 1)"' in dot
    hot = graph.node_of("fc_hh.weight")
    assert sum(1 for line in dot.splitlines() if line.strip().startswith(f"{hot} ->") and "c0392b" in line) == 2
    assert dot.count(" -> ") == len(graph.edges)


def test_graph_needs_autograd_history():
    with pytest.raises(ValueError, match="no autograd history"):
        lessons.autograd_graph(torch.ones(2), {}, "plain")


# --- 3. backpropagation through time


@pytest.mark.parametrize("radius", [0.8, 1.0, 1.25])
def test_identity_activation_with_a_normal_matrix_follows_r_to_the_k(radius):
    w_hh = gradient_flow.recurrent_matrix(32, radius, "orthogonal", seed=3)
    assert gradient_flow.spectral_radius(w_hh) == pytest.approx(radius, rel=1e-9)
    norms = gradient_flow.gradient_norms_through_time(w_hh, "identity", gradient_flow.random_sequence(60, 32, seed=5))
    assert len(norms) == 60
    for k, norm in enumerate(norms):
        assert norm == pytest.approx(radius ** k, rel=0.01), k


def test_gaussian_matrix_has_the_asked_radius_and_its_long_run_rate():
    w_hh = gradient_flow.recurrent_matrix(48, 0.9, "gaussian", seed=1)
    assert gradient_flow.spectral_radius(w_hh) == pytest.approx(0.9, rel=1e-9)
    norms = gradient_flow.gradient_norms_through_time(w_hh, "identity", gradient_flow.random_sequence(400, 48, seed=2))
    # A non-normal matrix may amplify for a while, but its powers decay at the spectral radius in the end.
    rate = (norms[399] / norms[199]) ** (1 / 200)
    assert rate == pytest.approx(0.9, rel=0.03)


def test_jacobian_product_matches_autograd():
    w_hh = gradient_flow.recurrent_matrix(16, 1.3, "gaussian", seed=7)
    sequence = gradient_flow.random_sequence(25, 16, seed=8, input_scale=0.7)
    for activation in ("tanh", "relu", "identity"):
        phi = gradient_flow.ACTIVATIONS[activation][0]
        states, h = [], torch.zeros(16, dtype=torch.float64, requires_grad=True)
        for u in sequence.inputs:
            h = phi(w_hh @ h + u)
            h.retain_grad()
            states.append(h)
        (states[-1] @ sequence.upstream).backward()  # dL/dh_T = upstream
        expected = [float(s.grad.norm()) for s in reversed(states)]
        got = gradient_flow.gradient_norms_through_time(w_hh, activation, sequence)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-300), activation


def test_tanh_never_carries_more_than_the_linear_bound():
    w_hh = gradient_flow.recurrent_matrix(32, 1.5, "orthogonal", seed=0)
    sequence = gradient_flow.random_sequence(40, 32, seed=0)
    linear = gradient_flow.gradient_norms_through_time(w_hh, "identity", sequence)
    squashed = gradient_flow.gradient_norms_through_time(w_hh, "tanh", sequence)
    assert all(s <= l * (1 + 1e-12) for s, l in zip(squashed, linear))
    assert squashed[-1] < linear[-1] / 100  # saturation eats most of it over 40 steps


def test_regimes_and_truncation():
    def norms(radius, length=30):
        w = gradient_flow.recurrent_matrix(8, radius, "orthogonal")
        return gradient_flow.gradient_norms_through_time(w, "identity", gradient_flow.random_sequence(length, 8))

    shrinking, growing = gradient_flow.gradient_regime(norms(0.5)), gradient_flow.gradient_regime(norms(1.5))
    assert shrinking.first_vanished == math.ceil(math.log(gradient_flow.VANISHING_BELOW) / math.log(0.5))  # 10
    assert shrinking.first_exploded is None and shrinking.rate_per_step == pytest.approx(0.5)
    assert growing.first_exploded == 18 and growing.first_vanished is None  # 1.5**17 < 1000 < 1.5**18
    full = norms(1.1, 12)
    cut = gradient_flow.truncate_norms(full, 4)
    assert cut[:5] == full[:5] and cut[5:] == [0.0] * 7
    assert gradient_flow.truncate_norms(full, None) == full
    with pytest.raises(ValueError):
        gradient_flow.truncate_norms(full, 0)
    with pytest.raises(ValueError, match="activation"):
        gradient_flow.gradient_norms_through_time(torch.eye(2), "sigmoid", gradient_flow.random_sequence(3, 2))
    with pytest.raises(ValueError, match="matrix kind"):
        gradient_flow.recurrent_matrix(4, 1.0, "diagonal")


# --- 4. the runs' probes, and the comparison runs


def test_probe_curve_reads_left_to_right_relative_to_the_last_position():
    event = {"event": "probe", "epoch": 3, "norms": [0.001, 0.01, 0.1, 0.5]}
    curve = gradient_flow.probe_curve("r", "scratch", event)
    assert curve.epoch == 3 and curve.norms == pytest.approx([0.002, 0.02, 0.2, 1.0])
    assert gradient_flow.probe_curve("r", "lstm", {"event": "probe", "norms": [], "error": "x"}) is None
    runs = [("a", "scratch", [{"event": "probe", "epoch": 0, "norms": [1.0, 2.0]}, {"event": "epoch_end"},
                              {"event": "probe", "epoch": 1, "norms": [1.0, 4.0]}]),
            ("b", "lstm", [{"event": "epoch_end"}])]
    assert [(c.run, c.epoch, c.norms) for c in gradient_flow.probe_curves(runs)] == [("a", 1, [0.25, 1.0])]
    assert [c.epoch for c in gradient_flow.probe_curves(runs, first=True)] == [0]
    assert not gradient_flow.has_vanilla_and_gated(gradient_flow.probe_curves(runs))
    runs[1] = ("b", "lstm", [{"event": "probe", "epoch": 1, "norms": [3.0, 3.0]}])
    assert gradient_flow.has_vanilla_and_gated(gradient_flow.probe_curves(runs))


def test_newest_vanilla_and_gated_runs_are_picked():
    runs = [("g2", "gru"), ("v2", "scratch"), ("l1", "lstm"), ("v1", "rnn")]  # newest first
    assert gradient_flow.newest_vanilla_and_gated(runs) == ["v2", "g2"]
    assert gradient_flow.newest_vanilla_and_gated([("l1", "lstm")]) == ["l1"]
    assert gradient_flow.newest_vanilla_and_gated([]) == []


def test_comparison_runs_differ_only_in_the_cell():
    from sentiment_core.config import validate

    configs = {cell: gradient_flow.comparison_config(cell) for cell in gradient_flow.COMPARISON_CELLS}
    for cell, config in configs.items():
        validate(config)
        assert config.model.cell == cell and not config.model.tutorial and config.preset == "seed"
        assert config.train.probe_every == 1 and config.train.epochs == 2
    vanilla, gated = (configs[c].to_dict() for c in gradient_flow.COMPARISON_CELLS)
    vanilla["model"].pop("cell"), gated["model"].pop("cell")
    assert vanilla == gated
    assert gradient_flow.comparison_run_name("20260101-000000", "lstm").startswith(gradient_flow.COMPARISON_PREFIX)


# --- 5. text to tensors


def test_follow_sentence_through_the_vocabulary(vocab):
    followed = lessons.follow_sentence(NEGATION, Tokenizer(), vocab)
    assert followed.tokens == ["this", "movie", "was", "actually", "neither", "that", "funny", ",", "nor",
                               "super", "witty", "."]
    assert followed.ids[0] == SOS_INDEX and followed.ids[-1] == EOS_INDEX
    assert vocab.decode(followed.ids[1:-1]) == followed.tokens  # every word is in the training vocabulary
    odd = lessons.follow_sentence("a zzqxv film", Tokenizer(), vocab)
    assert odd.unknown == ["zzqxv"] and odd.ids[2] == UNK_INDEX
    with pytest.raises(ValueError, match="empty"):
        lessons.follow_sentence("   ", Tokenizer(), vocab)


def test_embedding_lookup_is_a_row_lookup():
    weight = lessons.seeded_embedding_weight(20, 5, seed=1)
    assert torch.equal(weight, lessons.seeded_embedding_weight(20, 5, seed=1))
    rows = lessons.embedding_rows([4, 2, 4], weight)
    assert rows.shape == (3, 5)
    assert torch.equal(rows[0], weight[4]) and torch.equal(rows[0], rows[2]) and torch.equal(rows[1], weight[2])


def test_batch_for_sentence_with_and_without_bucketing(corpus, vocab):
    train_ids = [vocab.encode(tokens, add_sos_eos=True) for tokens, _, _ in corpus.sentences["train"]]
    ids = lessons.follow_sentence(NEGATION, Tokenizer(), vocab).ids
    batches = {b: lessons.batch_for_sentence(ids, train_ids, 8, bucketing=b, seed=0) for b in (True, False)}
    for batch in batches.values():
        assert batch.tokens.shape == (8, max(batch.lengths))
        row = batch.members.index(-1)
        assert batch.tokens[row, :len(ids)].tolist() == ids
        assert (batch.tokens[row, len(ids):] == PAD_INDEX).all()
        for r, member in enumerate(batch.members):
            if member >= 0:
                assert batch.tokens[r, :batch.lengths[r]].tolist() == train_ids[member]
    # Bucketing puts sentences of similar length together, so far less of the batch is padding.
    assert batches[True].padding < batches[False].padding
    assert max(batches[True].lengths) - min(batches[True].lengths) < max(batches[False].lengths) - min(batches[False].lengths)


def test_readable_formats_never_print_scientific_percentages():
    assert lessons.readable_share(7.77e-07) == "less than 0.1%" and lessons.readable_share(0.674) == "67.4%"
    assert lessons.readable_share(0) == "0%" and lessons.readable_share(0.99995) == "more than 99.9%"
    assert lessons.hidden_steps_note(4, 4) is None
    assert lessons.hidden_steps_note(5, 4) == "Step 1 is hidden; the latest 4 are shown."
    assert lessons.hidden_steps_note(7, 4) == "Steps 1 to 3 are hidden; the latest 4 are shown."
    assert lessons.readable_norm(0.5) == "0.5" and "10^-7" in lessons.readable_norm(2.3e-7)
    assert "smaller" in lessons.readable_norm(2.3e-7) and "larger" in lessons.readable_norm(5e6)


def test_a_sentence_walk_feeds_its_word_vectors_in_order():
    import torch
    inputs = torch.randn(3, 8)
    walk = lessons.start_cell_walk(lessons.CellSizes(batch=1, in_dim=8, h_dim=4), inputs)
    for _ in range(3):
        lessons.next_cell_step(walk)
    assert walk.done and torch.equal(walk.steps[1].x.detach()[0], inputs[1])
    with pytest.raises(ValueError):
        lessons.next_cell_step(walk)
    with pytest.raises(ValueError):
        lessons.start_cell_walk(lessons.CellSizes(batch=2, in_dim=8, h_dim=4), inputs)


def test_gates_by_hand_match_torch_cells():
    import torch
    from sentiment_core.analysis.lessons import gates_by_hand
    inputs = torch.randn(5, 6)
    for cell in gates_by_hand.GATE_CELLS:
        module = gates_by_hand.seeded_gate_cell(cell, 6, 3, seed=1)
        steps = gates_by_hand.walk_gates(cell, module, inputs)
        state = None
        with torch.no_grad():
            for x in inputs:
                state = module(x.unsqueeze(0), state)
        h = state[0][0] if cell == "lstm" else state[0]
        assert torch.allclose(h, steps[-1].parts["h"], atol=1e-6)
        assert all(0 <= v <= 1 for name in gates_by_hand.GATES & set(steps[0].parts) for v in steps[0].parts[name])


def test_stacked_counts_match_the_formula_and_the_module():
    import torch
    from sentiment_core.analysis.lessons import stacked
    summary = stacked.stacked_summary("gru", torch.randn(7, 10), 16, 3, True)
    assert [row.input_size for row in summary.layers] == [10, 32, 32]
    assert sum(row.parameters for row in summary.layers) == summary.total
    assert summary.total == sum(stacked.layer_formula("gru", row.input_size, 16, 2)[0] for row in summary.layers)
    assert summary.output_shape == (7, 1, 32) and summary.final_state_shape == (6, 1, 16)


def test_sentence_inputs_are_bounded_and_walkthrough_runs_are_hidden(tmp_path):
    import torch
    from sentiment_core import settings
    from sentiment_core.analysis.lessons.walk_sentence import sentence_inputs, token_labels
    from sentiment_core.data.text import Tokenizer, Vocab
    from sentiment_core.runs.store import is_walkthrough_run
    vocab = Vocab.build([["good", "film"]], min_freq=1)
    weight = torch.randn(len(vocab), 4)
    sentence = sentence_inputs("good film " * 30, Tokenizer(), vocab, weight, max_tokens=5)
    assert len(sentence.tokens) == 5 and sentence.cut == 55 and sentence.x.shape == (5, 4)
    with pytest.raises(ValueError):
        sentence_inputs("x" * (settings.MAX_INPUT_CHARS + 1), Tokenizer(), vocab, weight)
    assert token_labels(["good", ",", "good"]) == ["good", ",", "good (2)"]
    assert is_walkthrough_run(gradient_flow.comparison_run_name("20260101-000000", "lstm"))
    assert gradient_flow.comparison_seconds([{"state": "finished", "created_at": 10.0, "ended_at": 13.5}]) == 3.5
    assert gradient_flow.by_position([1.0, 0.5, 0.25]) == [0.25, 0.5, 1.0]
