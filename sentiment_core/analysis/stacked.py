"""Deep (stacked) recurrent networks: the shapes each layer sees and the parameters it holds.

Built from the project's own encoder (sentiment_core.models.classifier.RecurrentEncoder, torch's
nn.RNN / nn.GRU / nn.LSTM inside) and run on a real sentence, so every shape and count the page
shows is read off a module, with the formula beside it as a check.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sentiment_core.analysis.lessons import build_without_init

DEEP_CELLS = ("rnn", "gru", "lstm")
GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks per layer: the candidate and each gate
MAX_LAYERS, MAX_HIDDEN = 4, 512


@dataclass
class LayerShapes:
    layer: int              # 1-based
    input_size: int         # D: what each step of this layer reads (read off weight_ih)
    parameters: int         # counted on the module
    formula: str            # the same count, written out


@dataclass
class StackedSummary:
    layers: list[LayerShapes]
    total: int                          # the encoder's parameters (count_parameters)
    input_shape: tuple[int, ...]        # (T, B, E) what the first layer reads
    output_shape: tuple[int, ...]       # (T, B, directions * H): the top layer's h_t at every step
    final_state_shape: tuple[int, ...]  # (layers * directions, B, H): h_T of every layer and direction
    directions: int


def layer_formula(cell: str, input_size: int, hidden: int, directions: int) -> tuple[int, str]:
    """Parameters of one layer: directions × blocks × (H·(D + H) + 2H), torch's two biases per block."""
    blocks = GATE_BLOCKS[cell]
    count = directions * blocks * (hidden * (input_size + hidden) + 2 * hidden)
    text = (f"{directions} × " if directions > 1 else "") + (f"{blocks} × " if blocks > 1 else "")
    return count, f"{text}({hidden}·({input_size} + {hidden}) + 2·{hidden}) = {count:,}"


def stacked_summary(cell: str, inputs: torch.Tensor, hidden: int, layers: int, bidirectional: bool) -> StackedSummary:
    """Build the encoder, run it on inputs (T, E) as a batch of one, and read shapes and counts off it."""
    from sentiment_core.models.classifier import RecurrentEncoder, count_parameters

    if cell not in DEEP_CELLS:
        raise ValueError(f"cell must be one of {', '.join(DEEP_CELLS)}, not {cell!r}")
    if not 1 <= layers <= MAX_LAYERS or not 1 <= hidden <= MAX_HIDDEN:
        raise ValueError(f"layers must be 1 to {MAX_LAYERS} and the hidden size 1 to {MAX_HIDDEN}")
    encoder = build_without_init(RecurrentEncoder, cell, inputs.shape[1], hidden, layers, bidirectional)
    directions = 2 if bidirectional else 1
    rows = []
    for layer in range(layers):
        size = encoder.rnn.get_parameter(f"weight_ih_l{layer}").shape[1]
        counted = sum(p.numel() for name, p in encoder.rnn.named_parameters() if name.split("_l")[-1].split("_")[0]
                      == str(layer))
        rows.append(LayerShapes(layer + 1, size, counted, layer_formula(cell, size, hidden, directions)[1]))
    batch = inputs.unsqueeze(1)  # (T, 1, E): torch's recurrent modules read time first by default
    with torch.no_grad():
        output, state = encoder.rnn(batch)
    final = state[0] if cell == "lstm" else state
    return StackedSummary(rows, count_parameters(encoder), tuple(batch.shape), tuple(output.shape),
                          tuple(final.shape), directions)
