"""The models: the tutorial's exactly, the general classifier's contract, BPTT, traces, vectors."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from sentiment_core.config import CELLS, POOLINGS, ModelConfig
from sentiment_core.models import (STEPS, RecurrentEncoder, RNNLayer, SentimentRNN, VectorFileError, build_model,
                                   count_parameters, gradient_through_time, load_glove_vectors, packed_layout,
                                   run_packed, run_packed_autograd)
from sentiment_core.data.text import PAD_INDEX, Vocab

VOCAB = 40


def padded_batch(lengths, extra_padding=0, seed=0):
    """Random word ids (B, T) padded with PAD_INDEX, T = longest + extra_padding."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    tokens = torch.randint(4, VOCAB, (len(lengths), int(lengths.max()) + extra_padding), generator=generator)
    for i, n in enumerate(lengths.tolist()):
        tokens[i, n:] = PAD_INDEX
    return tokens, lengths


def small_model(**settings):
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=VOCAB, num_classes=3, embedding_dim=8, hidden_dim=6, **settings)
    return build_model(config).eval()


# ---------------------------------------------------------------- the tutorial's model

def test_tutorial_model_has_the_tutorials_parameter_count():
    assert count_parameters(SentimentRNN(15_482, 100, 128, 3)) == 1_577_899
    config = ModelConfig(vocab_size=15_482, num_classes=3, embedding_dim=100, hidden_dim=128, tutorial=True)
    assert count_parameters(build_model(config)) == 1_577_899


def test_rnn_layer_follows_the_equations():
    torch.manual_seed(0)
    layer = RNNLayer(5, 4, 2)
    x, h = torch.randn(3, 5), torch.randn(3, 4)
    y_t, h_t = layer(x, h)
    expected_h = torch.tanh(x @ layer.fc_xh.weight.t() + h @ layer.fc_hh.weight.t() + layer.fc_hh.bias)
    torch.testing.assert_close(h_t, expected_h)
    torch.testing.assert_close(y_t, torch.sigmoid(h_t @ layer.fc_hy.weight.t() + layer.fc_hy.bias))
    assert layer.fc_xh.bias is None
    y0, h0 = layer(x)  # no state: starts from zeros
    torch.testing.assert_close(h0, torch.tanh(x @ layer.fc_xh.weight.t() + layer.fc_hh.bias))
    no_output = RNNLayer(5, 4, 2, phi_y=None)
    no_output.load_state_dict(layer.state_dict())
    torch.testing.assert_close(torch.sigmoid(no_output(x, h)[0]), y_t)


def test_tutorial_loop_reads_padding_and_the_fix_does_not():
    torch.manual_seed(0)
    net = SentimentRNN(VOCAB, 8, 6, 3).eval()
    tokens, lengths = padded_batch([3, 9])
    X = tokens.t()  # (S, B) sequence-first, as the tutorial
    alone = net(X[:3, :1])
    assert net(X).shape == (2, 3)
    assert (net(X)[0] - alone[0]).abs().max() > 1e-3  # six pads changed the short sentence's output
    torch.testing.assert_close(net(X, lengths)[0], alone[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(net(X, lengths)[1], net(X[:, 1:])[0], atol=1e-5, rtol=0)


def test_tutorial_config_builds_the_wrapped_tutorial_model():
    model = small_model(tutorial=True)
    tokens, lengths = padded_batch([4, 2])
    logits = model(tokens, lengths)
    torch.testing.assert_close(logits, model.net(tokens.t()))
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(2))  # log-probabilities


# ---------------------------------------------------------------- the common interface

@pytest.mark.parametrize("cell", CELLS)
def test_padding_never_changes_the_result(cell):
    lengths = [7, 2, 5, 1, 7, 4]
    tokens, lengths_t = padded_batch(lengths, extra_padding=3)
    for layers, bidirectional, pooling in itertools.product((1, 2), (False, True), POOLINGS):
        model = small_model(cell=cell, layers=layers, bidirectional=bidirectional, pooling=pooling)
        batched = model(tokens, lengths_t)
        assert batched.shape == (len(lengths), 3)
        alone = torch.cat([model(tokens[i:i + 1, :n], lengths_t[i:i + 1]) for i, n in enumerate(lengths)])
        torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0,
                                   msg=f"{cell} layers={layers} bidirectional={bidirectional} {pooling}")


@pytest.mark.parametrize("cell", CELLS)
def test_training_path_matches_the_plain_autograd_steps(cell):
    """The hand-written backward equals autograd's, with and without truncation."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 5, 4).double()
    weights = encoder.weights(0, 0)
    layout = packed_layout(torch.tensor([7, 3, 7, 1, 5, 2]))
    x = torch.randn(sum(layout.batch_sizes), 5, dtype=torch.double, requires_grad=True)
    upstream = torch.randn(x.shape[0], 4, dtype=torch.double)
    params = [x, *encoder.parameters()]
    for bptt in (None, 2, 3):
        fast = run_packed(cell, weights, x, layout, bptt)
        plain = run_packed_autograd(STEPS[cell], weights, x, layout, encoder.n_state, bptt)
        torch.testing.assert_close(fast, plain)
        for a, b in zip(torch.autograd.grad((fast * upstream).sum(), params),
                        torch.autograd.grad((plain * upstream).sum(), params)):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_our_recurrence_agrees_with_torchs_fused_kernel(cell):
    tokens, lengths = padded_batch([6, 3, 6, 1])
    for layers, bidirectional in ((1, False), (2, True)):
        model = small_model(cell=cell, layers=layers, bidirectional=bidirectional).train()
        ours = model(tokens, lengths)
        model.encoder.use_fused_kernel = True
        torch.testing.assert_close(model(tokens, lengths), ours, atol=1e-5, rtol=0)
        with torch.no_grad():  # inference takes the fused kernel
            model.encoder.use_fused_kernel = False
            torch.testing.assert_close(model(tokens, lengths), ours, atol=1e-5, rtol=0)


def test_scratch_cell_computes_what_the_rnn_layer_computes():
    model = small_model(cell="scratch")
    tokens, lengths = padded_batch([5, 5])
    h = None
    for x_t in model.embedding(tokens).transpose(0, 1):  # (B, E) per step
        _, h = model.encoder.cells[0](x_t, h)
    torch.testing.assert_close(model(tokens, lengths), model.head(h), atol=1e-5, rtol=0)


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_stepping_the_rnn_layer_gives_the_scratch_models_states_logits_and_gradients(compiled, monkeypatch):
    """The scratch model trains through run_packed on its RNNLayer's own weights: the same numbers as
    RNNLayer.forward stepped over the batch (finished sentences frozen), to float32 rounding."""
    monkeypatch.setenv("SENTIMENT_NATIVE", compiled)  # the compiled loop and the torch loop alike
    model = small_model(cell="scratch")
    tokens, lengths = padded_batch([6, 2, 5, 1, 6], extra_padding=2)
    labels = torch.tensor([0, 1, 2, 1, 0])
    layer = model.encoder.cells[0]
    h, states = None, []
    for t, x_t in enumerate(model.embedding(tokens).transpose(0, 1)):  # x_t: (B, E)
        _, h_new = layer(x_t, h)                                        # (B, H)
        h = h_new if h is None else torch.where((t < lengths).unsqueeze(1), h_new, h)
        states.append(h)
    stepped = torch.stack(states, 1)                                    # (B, T, H)
    stepped_logits = model.head(stepped[torch.arange(len(lengths)), lengths - 1])
    x, layout = model.embed(tokens, lengths)
    packed = model.encoder(x, layout)                                   # (N, H)
    torch.testing.assert_close(packed, stepped[layout.sentence_of, layout.time_of], atol=1e-6, rtol=1e-5)
    logits = model(tokens, lengths)
    torch.testing.assert_close(logits, stepped_logits, atol=1e-6, rtol=1e-5)
    weights = list(layer.parameters())
    for a, b in zip(torch.autograd.grad(F.cross_entropy(logits, labels), weights),
                    torch.autograd.grad(F.cross_entropy(stepped_logits, labels), weights)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_dropout_is_active_in_training_only():
    model = small_model(cell="gru", layers=2, dropout=0.5)
    tokens, lengths = padded_batch([5, 3])
    torch.testing.assert_close(model(tokens, lengths), model(tokens, lengths))
    model.train()
    torch.manual_seed(1)
    first = model(tokens, lengths)
    assert (first - model(tokens, lengths)).abs().max() > 1e-4


def test_a_model_without_its_vocabulary_or_a_token_is_refused_with_a_sentence():
    # The settings themselves are checked where they come in (config.validate: tests/test_config.py).
    with pytest.raises(ValueError, match="vocabulary has"):
        build_model(ModelConfig(vocab_size=99), Vocab(["<unk>", "<pad>", "<sos>", "<eos>", "a"]))
    with pytest.raises(ValueError, match="vocab_size is not set"):
        build_model(ModelConfig())
    model = small_model()
    with pytest.raises(ValueError, match="at least one token"):
        model(torch.tensor([[5, 1]]), torch.tensor([0]))


def test_build_model_refuses_a_config_without_two_classes():
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        build_model(ModelConfig(vocab_size=VOCAB, num_classes=1))


# ---------------------------------------------------------------- truncated BPTT

@pytest.mark.parametrize("cell", [*CELLS, "tutorial"])
def test_bptt_cuts_the_gradient_after_k_steps(cell):
    tokens, lengths = padded_batch([9, 9])
    model = small_model(tutorial=True) if cell == "tutorial" else small_model(cell=cell)
    weight = model.embedding.weight

    def first_word_gradient(bptt):
        model.zero_grad()
        model(tokens, lengths, bptt=bptt).sum().backward()
        return weight.grad[tokens[:, 0]].abs().sum(), weight.grad[tokens[:, -1]].abs().sum()

    first_full, last_full = first_word_gradient(None)
    first_cut, last_cut = first_word_gradient(3)
    assert first_full > 0 and last_full > 0
    assert first_cut == 0  # 9 steps, cut every 3: nothing reaches step 0
    assert last_cut > 0


# ---------------------------------------------------------------- traces and the gradient probe

@pytest.mark.parametrize("cell", CELLS)
def test_trace_matches_forward_and_exposes_states_and_gates(cell):
    tokens, lengths = padded_batch([6, 2, 4], extra_padding=1)
    for layers, bidirectional, pooling in ((1, False, "last"), (2, True, "max"), (1, True, "mean")):
        model = small_model(cell=cell, layers=layers, bidirectional=bidirectional, pooling=pooling)
        trace = model.trace(tokens, lengths)
        torch.testing.assert_close(trace.logits, model(tokens, lengths), atol=1e-5, rtol=0)
        assert len(trace.states) == 6 and all(s.shape == (3, 6) for s in trace.states)
        if cell in ("lstm", "gru"):
            names = {"lstm": {"input", "forget", "cell", "output"}, "gru": {"reset", "update", "new"}}[cell]
            assert set(trace.gates) == names
            assert all(g.shape == (3, 6, 6) for g in trace.gates.values())
            assert all(float(g[1, 2:].abs().sum()) == 0 for g in trace.gates.values())  # after the end
        else:
            assert trace.gates is None
    # the states are the graph's own nodes: the gradient flows from each into the next
    grads = torch.autograd.grad(F.cross_entropy(trace.logits, torch.tensor([0, 1, 2])), trace.states)
    assert all(float(g.abs().sum()) > 0 for g in grads)


def test_tutorial_trace_matches_forward():
    model = small_model(tutorial=True)
    tokens, lengths = padded_batch([5, 3])
    trace = model.trace(tokens, lengths)
    torch.testing.assert_close(trace.logits, model(tokens, lengths))
    assert len(trace.states) == 5 and trace.gates is None


@pytest.mark.parametrize("cell", ["scratch", "lstm"])
def test_gradient_through_time_counts_only_running_sentences(cell):
    model = small_model(cell=cell)
    tokens, lengths = padded_batch([8, 3])
    labels = torch.tensor([1, 2])
    norms = gradient_through_time(model, tokens, lengths, labels)
    assert len(norms) == 8 and all(isinstance(n, float) and n >= 0 for n in norms)
    alone = gradient_through_time(model, tokens[:1], lengths[:1], labels[:1])
    # past step 3 only the long sentence runs; in the batch its loss has weight 1/2
    for t in range(3, 8):
        assert norms[t] == pytest.approx(alone[t] / 2, rel=1e-4)
    assert norms[0] != pytest.approx(alone[0] / 2, rel=1e-4)  # both sentences count at t = 0
    assert model.training is False


# ---------------------------------------------------------------- pretrained vectors

@pytest.fixture
def tiny_vocab():
    return Vocab(["<unk>", "<pad>", "<sos>", "<eos>", "good", "bad", "film", "zzz"])


def write_vectors(path, rows):
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_glove_vectors_fill_known_words_and_report_coverage(tmp_path, tiny_vocab):
    path = write_vectors(tmp_path / "v.txt", ["good 1 2 3", "bad -1 -2 -3", "new york 7 7 7", "film 0.5 0.5 0.5",
                                              "other 9 9 9"])  # "new york": words with spaces exist in GloVe
    weights, coverage = load_glove_vectors(path, tiny_vocab, 3)
    assert coverage == {"found": 3, "total": 4, "share": 0.75}
    torch.testing.assert_close(weights[4], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(weights[5], torch.tensor([-1.0, -2.0, -3.0]))
    assert float(weights[PAD_INDEX].abs().sum()) == 0
    assert float(weights[7].abs().sum()) > 0  # a word without a vector still gets a random row


@pytest.mark.parametrize("freeze", [True, False])
def test_build_model_applies_vectors_frozen_or_fine_tuned(tmp_path, tiny_vocab, freeze):
    path = write_vectors(tmp_path / "v.txt", ["good 1 2 3", "bad -1 -2 -3"])
    config = ModelConfig(num_classes=3, embedding_dim=3, hidden_dim=4, vectors=str(path), freeze_vectors=freeze)
    model = build_model(config, tiny_vocab)
    assert model.vector_coverage == {"found": 2, "total": 4, "share": 0.5}
    torch.testing.assert_close(model.embedding.weight[4].detach(), torch.tensor([1.0, 2.0, 3.0]))
    assert model.embedding.weight.requires_grad is (not freeze)
    unfrozen = build_model(ModelConfig(num_classes=3, embedding_dim=3, hidden_dim=4), tiny_vocab)
    assert count_parameters(unfrozen) - count_parameters(model) == (8 * 3 if freeze else 0)
    tokens, lengths = torch.tensor([[2, 4, 5, 3]]), torch.tensor([4])
    F.cross_entropy(model(tokens, lengths), torch.tensor([0])).backward()
    assert (model.embedding.weight.grad is None) is freeze
    restored = build_model(config, tiny_vocab, load_vectors=False)  # checkpoints bring their own rows
    assert restored.vector_coverage is None and restored.embedding.weight.requires_grad is (not freeze)


def test_bad_vector_files_are_refused_naming_file_and_line(tmp_path, tiny_vocab):
    path = write_vectors(tmp_path / "short.txt", ["good 1 2 3", "bad 1 2"])
    with pytest.raises(VectorFileError, match=r"short\.txt line 2: expected a word and 3 numbers, found 2"):
        load_glove_vectors(path, tiny_vocab, 3)
    path = write_vectors(tmp_path / "words.txt", ["good 1 x 3"])
    with pytest.raises(VectorFileError, match=r"words\.txt line 1: .* not a number"):
        load_glove_vectors(path, tiny_vocab, 3)
    path = write_vectors(tmp_path / "fifty.txt", ["good 1 2 3 4 5"])
    with pytest.raises(VectorFileError, match="embedding_dim=3"):
        load_glove_vectors(path, tiny_vocab, 3)
    with pytest.raises(FileNotFoundError, match="no pretrained vector file"):
        load_glove_vectors(tmp_path / "missing.txt", tiny_vocab, 3)
    with pytest.raises(ValueError, match="need the vocabulary"):
        build_model(ModelConfig(vocab_size=8, embedding_dim=3, vectors=str(path)))


# ---------------------------------------------------------------- real data

def test_every_cell_learns_on_real_treebank_sentences(corpus, vocab):
    from sentiment_core.data.batching import EncodedDataset, pad_collate

    dataset = EncodedDataset(corpus.examples(3, "train")[:64], vocab)
    batch = pad_collate([dataset[i] for i in range(len(dataset))])
    for cell in CELLS:
        torch.manual_seed(0)
        model = build_model(ModelConfig(cell=cell, embedding_dim=16, hidden_dim=16), vocab)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(15):
            loss = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.7 * losses[0], f"{cell}: {losses}"
