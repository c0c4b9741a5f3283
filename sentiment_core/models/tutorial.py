"""The tutorial's recurrent network, written from its equations: the seed of this project.

    h_t = phi_h(W_xh x_t + W_hh h_{t-1} + b_h)        y_t = phi_y(W_hy h_t + b_y)

`SentimentRNN.forward` reads a sequence-first batch (S, B) and, as the tutorial says itself,
treats padding as if it were words; passing `lengths` switches on the fix (finished sentences
keep their state).

`RNNLayer` is also the "scratch" cell of the general classifier (models/classifier.py): there
each layer and direction owns one RNNLayer, and training runs the same equation on the same
weights through the packed recurrence (models/recurrences.py), because stepping this forward
in Python costs a few small tensor calls per time step and processes padding (the `bench`
command shows the difference). tests/test_models.py holds the two to the same states and logits.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class RNNLayer(nn.Module):
    """One recurrent layer: three affine maps and two non-linearities, stepped by the caller.

    `out_dim=None` drops the output map (y_t is h_t): the form used when layers are stacked.
    """

    def __init__(self, in_dim: int, h_dim: int, out_dim: int | None,
                 phi_h: Callable = torch.tanh, phi_y: Callable | None = torch.sigmoid):
        super().__init__()
        self.phi_h, self.phi_y = phi_h, phi_y
        self.fc_xh = nn.Linear(in_dim, h_dim, bias=False)  # W_xh: input -> hidden
        self.fc_hh = nn.Linear(h_dim, h_dim, bias=True)    # W_hh: hidden -> hidden, carries b_h
        self.fc_hy = nn.Linear(h_dim, out_dim, bias=True) if out_dim is not None else None

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None):
        # x_t: (B, in_dim); h_prev: (B, h_dim) or None for a zero state
        if h_prev is None:
            h_prev = x_t.new_zeros(x_t.shape[0], self.fc_hh.in_features)
        h_t = self.phi_h(self.fc_xh(x_t) + self.fc_hh(h_prev))  # (B, h_dim)
        if self.fc_hy is None:
            return h_t, h_t
        y_t = self.fc_hy(h_t)  # (B, out_dim)
        if self.phi_y is not None:
            y_t = self.phi_y(y_t)
        return y_t, h_t


class SentimentRNN(nn.Module):
    """The tutorial's classifier: embedding, one RNNLayer stepped over time, log-softmax.

    `forward(X)` is the tutorial's model exactly: X is (S, B) sequence-first and every position,
    padding included, updates the state. `forward(X, lengths)` is the fix the tutorial asks for:
    once a sentence has ended its state (and output) stay frozen, so padding changes nothing.
    `bptt=k` detaches the state every k steps (truncated backpropagation through time).
    """

    def __init__(self, vocab_dim: int, embedding_dim: int, h_dim: int, out_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_dim, embedding_dim)  # no padding_idx: the tutorial's count
        self.rnn = RNNLayer(in_dim=embedding_dim, h_dim=h_dim, out_dim=out_dim, phi_y=None)
        self.log_softmax = nn.LogSoftmax(dim=1)

    def forward(self, X: torch.Tensor, lengths: torch.Tensor | None = None, bptt: int | None = None,
                states: list | None = None) -> torch.Tensor:
        return self.forward_embedded(self.embedding(X), lengths, bptt, states)  # X: (S, B) -> (S, B, E)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor | None = None,
                         bptt: int | None = None, states: list | None = None) -> torch.Tensor:
        # embedded: (S, B, E) word vectors; the rest as forward
        h_t = y_t = None
        for t, x_t in enumerate(embedded):  # x_t: (B, E)
            if bptt and t > 0 and t % bptt == 0:
                h_t = h_t.detach()
            y_new, h_new = self.rnn(x_t, h_t)  # (B, C), (B, H)
            if lengths is not None and h_t is not None:
                running = (t < lengths).unsqueeze(1).to(x_t.device)  # (B, 1)
                y_new, h_new = torch.where(running, y_new, y_t), torch.where(running, h_new, h_t)
            y_t, h_t = y_new, h_new
            if states is not None:
                states.append(h_t)
        return self.log_softmax(y_t)  # (B, C) log-probabilities
