"""The general recurrent sentence classifier, and the tutorial's model behind the same interface.

`build_model(config, vocab)` returns a `RecurrentClassifier`: our RNN cell ("scratch", the
tutorial's RNNLayer) or torch's RNN / LSTM / GRU modules, with layers, both directions,
dropout, pooling, pretrained vectors and truncated backpropagation; or, with `tutorial=True`,
the tutorial's SentimentRNN exactly (`TutorialClassifier`). Every model it returns has one
interface: `forward(tokens (B, T), lengths (B,), bptt=None) -> logits (B, C)` and
`trace(tokens, lengths) -> Trace`.

How the classifier is fast on a CPU: a batch is laid out packed (models/packing.py), so padding
is never computed, and the recurrence runs through `run_packed` (models/recurrences.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from sentiment_core.data.text import PAD_INDEX, SPECIALS
from sentiment_core.models.modes import evaluating
from sentiment_core.models.packing import PackedLayout, packed_layout
from sentiment_core.models.recurrences import GATE_NAMES, STEPS, DirectionWeights, run_packed
from sentiment_core.models.tutorial import RNNLayer, SentimentRNN
from sentiment_core.models.vectors import load_glove_vectors
from sentiment_core.config import ModelConfig


def add_class_bias(module: nn.Module, num_classes: int) -> None:
    """Give `module` a `class_bias` buffer (C,), added to its logits: zero unless a run calibrated it.

    It is part of the state_dict, so a checkpoint carries the offsets that runs/calibration.py
    chose on dev; checkpoints saved before it existed load with zeros (the same model as before).
    """
    module.register_buffer("class_bias", torch.zeros(num_classes))
    module.register_load_state_dict_pre_hook(_default_class_bias)


def _default_class_bias(module, state_dict, prefix, *_):
    state_dict.setdefault(prefix + "class_bias", torch.zeros_like(module.class_bias))


def count_parameters(model: nn.Module) -> int:
    """Trainable weights (frozen pretrained vectors do not count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class Trace:
    """What happens inside the network for one batch (original batch order)."""

    logits: torch.Tensor                          # (B, C), as forward returns
    states: list[torch.Tensor]                    # T tensors (B, H): top layer, left-to-right
    gates: dict[str, torch.Tensor] | None = None  # lstm / gru: name -> (B, T, H), 0 after the end


class RecurrentEncoder(nn.Module):
    """Stacked (bi)directional recurrent layers over packed batches.

    cell "scratch": one tutorial RNNLayer (without output map) per layer and direction. The
    layers own the weights (W_xh = fc_xh, W_hh and b_h = fc_hh), but their Python `forward` is
    not what runs here: `weights()` hands those same tensors to `run_packed`, which computes
    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h) for a whole packed batch in one loop (no padding
    processed, backward written out by hand; several times faster, see `bench`). A test steps
    RNNLayer.forward over a batch and finds the same states and logits.
    cells "rnn" / "lstm" / "gru": torch's nn.RNN / nn.LSTM / nn.GRU modules (their weights, their
    math). Training runs the recurrence through `run_packed` on those weights; inference (no
    gradient) runs torch's fused kernel on the same packed batch; the trace steps in Python.
    """

    def __init__(self, cell: str, input_dim: int, hidden_dim: int, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, use_fused_kernel: bool = False):
        super().__init__()
        self.cell, self.hidden_dim, self.layers = cell, hidden_dim, layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.step = STEPS[cell]
        self.n_state = 2 if cell == "lstm" else 1
        if cell == "scratch":
            self.cells = nn.ModuleList(
                RNNLayer(input_dim if layer == 0 else hidden_dim * self.directions, hidden_dim, None)
                for layer in range(layers) for _ in range(self.directions))
        else:
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.rnn = kind(input_dim, hidden_dim, num_layers=layers, bidirectional=bidirectional,
                            dropout=dropout if layers > 1 else 0.0)
        # Training steps our hand-written recurrence (faster than torch's packed kernels on a CPU:
        # `python -m sentiment_core bench`); without gradients torch's fused kernel is the faster.
        self.use_fused_kernel = bool(use_fused_kernel)

    @property
    def output_dim(self) -> int:
        return self.hidden_dim * self.directions

    def weights(self, layer: int, direction: int) -> DirectionWeights:
        if self.cell == "scratch":
            rnn = self.cells[layer * self.directions + direction]
            return DirectionWeights(rnn.fc_xh.weight, rnn.fc_hh.bias, rnn.fc_hh.weight, None)
        suffix = f"l{layer}" + ("_reverse" if direction else "")
        w_ih, w_hh = getattr(self.rnn, f"weight_ih_{suffix}"), getattr(self.rnn, f"weight_hh_{suffix}")
        b_ih, b_hh = getattr(self.rnn, f"bias_ih_{suffix}"), getattr(self.rnn, f"bias_hh_{suffix}")
        if self.cell == "gru":  # the new gate's recurrent bias sits inside r * (W_hn h + b_hn)
            H = self.hidden_dim
            return DirectionWeights(w_ih, b_ih + torch.cat([b_hh[:2 * H], b_hh.new_zeros(H)]), w_hh, b_hh[2 * H:])
        return DirectionWeights(w_ih, b_ih + b_hh, w_hh, None)

    def run_direction(self, layer: int, direction: int, x: torch.Tensor, layout: PackedLayout,
                      bptt: int | None = None) -> torch.Tensor:
        """x (N, D) packed -> (N, H) packed; direction 1 reads each sentence right to left."""
        if direction:
            x = x[layout.reverse_index]
        out = run_packed(self.cell, self.weights(layer, direction), x, layout, bptt)
        return out[layout.reverse_index] if direction else out

    def run_layer(self, layer: int, x: torch.Tensor, layout: PackedLayout, bptt: int | None = None):
        outs = [self.run_direction(layer, d, x, layout, bptt) for d in range(self.directions)]
        return torch.cat(outs, 1) if len(outs) > 1 else outs[0]  # (N, H * directions)

    def between_layers(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.dropout, self.training)

    def forward(self, x: torch.Tensor, layout: PackedLayout, bptt: int | None = None) -> torch.Tensor:
        # x: (N, D) packed -> (N, H * directions) packed outputs of the top layer
        if self.cell != "scratch" and not bptt and (self.use_fused_kernel or not torch.is_grad_enabled()):
            sizes = torch.tensor(layout.batch_sizes, dtype=torch.long)
            out, _ = self.rnn(nn.utils.rnn.PackedSequence(x, sizes))
            return out.data
        for layer in range(self.layers):
            if layer:
                x = self.between_layers(x)
            x = self.run_layer(layer, x, layout, bptt)
        return x


class RecurrentClassifier(nn.Module):
    """Embedding -> recurrent encoder -> pooling over the sentence -> linear class scores."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=PAD_INDEX)
        self.encoder = RecurrentEncoder(config.cell, config.embedding_dim, config.hidden_dim, config.layers,
                                        config.bidirectional, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_dim, config.num_classes)
        self.pooling = config.pooling
        self.vector_coverage: dict | None = None  # set by build_model when pretrained vectors are used
        add_class_bias(self, config.num_classes)

    def embed(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, PackedLayout]:
        layout = packed_layout(lengths, tokens.device)
        if layout.steps > tokens.shape[1]:
            raise ValueError(f"a length of {layout.steps} is longer than the batch's {tokens.shape[1]} tokens")
        packed_tokens = tokens[layout.sentence_of, layout.time_of]  # (N,)
        return self.dropout(self.embedding(packed_tokens)), layout           # (N, E)

    def pool(self, out: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
        """Packed outputs (N, H*dirs) -> one vector per sentence (B, H*dirs), original order."""
        if self.pooling == "last":
            H = self.encoder.hidden_dim
            pooled = out[layout.last_index]  # (B, H*dirs); the backward direction ends at t = 0
            if self.encoder.directions == 2:
                first = torch.arange(len(layout.lengths), device=out.device)
                pooled = torch.cat([pooled[:, :H], out[first, H:]], 1)
        elif self.pooling == "mean":
            sums = out.new_zeros(len(layout.lengths), out.shape[1]).index_add(0, layout.row_of, out)
            pooled = sums / layout.lengths.unsqueeze(1).to(out.dtype)
        else:  # max over valid steps: padding is never a candidate
            B = len(layout.lengths)
            grid = out.new_full((layout.steps * B, out.shape[1]), float("-inf"))
            grid = grid.index_copy(0, layout.time_of * B + layout.row_of, out)
            pooled = grid.view(layout.steps, B, -1).amax(0)
        return pooled[layout.inverse]

    def classify(self, out: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
        return self.head(self.dropout(self.pool(out, layout))) + self.class_bias  # (B, C)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, bptt: int | None = None) -> torch.Tensor:
        # tokens: (B, T) padded with PAD_INDEX; lengths: (B,) -> logits (B, C)
        x, layout = self.embed(tokens, lengths)
        return self.classify(self.encoder(x, layout, bptt), layout)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # embedded: (B, T, E) word vectors -> logits (B, C); lets callers take gradients w.r.t.
        # the vectors (attributions), which token indices cannot carry.
        layout = packed_layout(lengths, embedded.device)
        x = embedded[layout.sentence_of, layout.time_of]  # (N, E) packed
        return self.classify(self.encoder(self.dropout(x), layout), layout)

    def trace(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Trace:
        """Forward pass with the top layer's left-to-right states kept as graph nodes.

        The top layer's forward direction is stepped over the full batch in its original order,
        freezing finished sentences, so `states[t]` is exactly the tensor h_{t+1} is computed
        from and autograd.grad(loss, states) is dLoss/dh_t through time.
        """
        enc = self.encoder
        x, layout = self.embed(tokens, lengths)
        for layer in range(enc.layers - 1):
            x = enc.run_layer(layer, enc.between_layers(x) if layer else x, layout)
        if enc.layers > 1:
            x = enc.between_layers(x)
        top = enc.layers - 1
        weights = enc.weights(top, 0)
        B, T = len(layout.lengths), layout.steps
        xp = weights.project(x)                                          # (N, G*H) packed, sorted
        grid = xp.new_zeros(T, B, xp.shape[1]).index_put((layout.time_of, layout.sentence_of), xp)
        lengths_orig = layout.lengths[layout.inverse]                     # (B,) original order
        w_hh_t = weights.w_hh.t()
        state = tuple(xp.new_zeros(B, enc.hidden_dim) for _ in range(enc.n_state))
        states, gate_steps = [], ([] if enc.cell in GATE_NAMES else None)
        for t in range(T):
            new = enc.step(grid[t], state, w_hh_t, weights.b_hn, gate_steps)  # (B, H) each
            running = (t < lengths_orig).unsqueeze(1)                          # (B, 1)
            state = tuple(torch.where(running, n, s) for n, s in zip(new, state))
            states.append(state[0])
        stacked = torch.stack(states)                                     # (T, B, H) original order
        forward_out = stacked[layout.time_of, layout.sentence_of]  # (N, H) packed
        if enc.directions == 2:
            forward_out = torch.cat([forward_out, enc.run_direction(top, 1, x, layout)], 1)
        gates = None
        if gate_steps is not None:
            mask = (torch.arange(T, device=xp.device).unsqueeze(0) < lengths_orig.unsqueeze(1)).unsqueeze(2)
            gates = {name: torch.stack([g[k] for g in gate_steps], 1).detach() * mask  # (B, T, H)
                     for k, name in enumerate(GATE_NAMES[enc.cell])}
        return Trace(self.classify(forward_out, layout), states, gates)


class TutorialClassifier(nn.Module):
    """The tutorial's SentimentRNN behind the common interface (batch-first tokens, lengths).

    Padding is processed as tokens, as the tutorial wrote it: `lengths` only names the
    sentences' real ends for callers; the output is log-probabilities (fine as logits).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.net = SentimentRNN(config.vocab_size, config.embedding_dim, config.hidden_dim, config.num_classes)
        self.vector_coverage: dict | None = None
        add_class_bias(self, config.num_classes)

    @property
    def embedding(self) -> nn.Embedding:
        return self.net.embedding

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, bptt: int | None = None) -> torch.Tensor:
        return self.net(tokens.t(), bptt=bptt) + self.class_bias  # tokens (B, T) -> (T, B) as the tutorial expects

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # embedded: (B, T, E) word vectors -> log-probabilities (B, C); padding read as words, as forward
        return self.net.forward_embedded(embedded.transpose(0, 1)) + self.class_bias

    def trace(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Trace:
        states: list[torch.Tensor] = []
        logits = self.net(tokens.t(), states=states) + self.class_bias
        return Trace(logits, states, None)


def build_model(config: ModelConfig, vocab=None, load_vectors: bool = True) -> nn.Module:
    """The model a ModelConfig describes. `vocab` sizes the embedding and maps pretrained vectors.

    `load_vectors=False` skips reading `config.vectors` (a checkpoint's state_dict will supply
    the rows) but still freezes them when `freeze_vectors` is set. The settings are trusted: they
    were validated where they came in (the command line, the training page, a config.json or
    checkpoint read from disk: config.validate).
    """
    vocab_size = config.vocab_size or (len(vocab) if vocab is not None else 0)
    if vocab is not None and config.vocab_size and config.vocab_size != len(vocab):
        raise ValueError(f"the model expects {config.vocab_size} words but the vocabulary has {len(vocab)}; "
                         "build the model from the run's own vocabulary")
    if vocab_size < len(SPECIALS):
        raise ValueError("vocab_size is not set: pass the vocabulary to build_model or set config.vocab_size")
    if config.num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, not {config.num_classes!r}")
    config = replace(config, vocab_size=vocab_size)
    model = TutorialClassifier(config) if config.tutorial else RecurrentClassifier(config)
    if config.vectors:
        if load_vectors:
            if vocab is None:
                raise ValueError("pretrained vectors need the vocabulary: call build_model(config, vocab)")
            weights, coverage = load_glove_vectors(config.vectors, vocab, config.embedding_dim)
            with torch.no_grad():
                model.embedding.weight.copy_(weights)
            model.vector_coverage = coverage
        model.embedding.weight.requires_grad_(not config.freeze_vectors)
    return model


def gradient_through_time(model: nn.Module, batch_tokens: torch.Tensor, lengths: torch.Tensor,
                          labels: torch.Tensor) -> list[float]:
    """Norm of dLoss/dh_t for t = 0..T-1 (mean cross-entropy over the batch).

    Only sentences still running at step t count; the model is put in eval mode (no dropout)
    for the measurement and returned to its previous mode.
    """
    with evaluating(model), torch.enable_grad():
        trace = model.trace(batch_tokens, lengths)
        loss = F.cross_entropy(trace.logits, labels)
        grads = torch.autograd.grad(loss, trace.states, allow_unused=True)
    norms = []
    for t, grad in enumerate(grads):
        running = (lengths.to(trace.logits.device) > t)
        norms.append(0.0 if grad is None else float(grad[running].norm()))
    return norms

