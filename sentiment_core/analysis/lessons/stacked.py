"""Deep (stacked) recurrent networks: the shapes each layer sees and the parameters it holds.

Built from the project's own encoder (sentiment_core.models.classifier.RecurrentEncoder, torch's
nn.RNN / nn.GRU / nn.LSTM inside) and run on a real sentence, so every shape and count the page
shows is read off a module, with the formula beside it as a check.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sentiment_core.analysis.lessons.basics import build_without_init
from sentiment_core.models.classifier import RecurrentEncoder, count_parameters

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


# ---------------------------------------------------------------------------------------------
# Per-layer states of one sentence, and why depth is harder to optimise (measured)


TORCH_CELLS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
DEPTHS = (1, 2, 3)


def seeded_stack(cell: str, input_size: int, hidden: int, layers: int, seed: int = 0) -> list[torch.nn.Module]:
    """`layers` one-layer torch modules, layer l reading layer l-1's states: the stack torch's
    nn.LSTM(num_layers=layers) runs, one layer at a time so each layer's states can be read.
    Weights drawn from PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) with a private generator."""
    if cell not in DEEP_CELLS:
        raise ValueError(f"cell must be one of {', '.join(DEEP_CELLS)}, not {cell!r}")
    if not 1 <= layers <= MAX_LAYERS or not 1 <= hidden <= MAX_HIDDEN:
        raise ValueError(f"layers must be 1 to {MAX_LAYERS} and the hidden size 1 to {MAX_HIDDEN}")
    generator = torch.Generator().manual_seed(seed)
    bound = 1.0 / hidden ** 0.5
    stack = []
    for layer in range(layers):
        module = build_without_init(TORCH_CELLS[cell], input_size if layer == 0 else hidden, hidden)
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.uniform_(-bound, bound, generator=generator)
        stack.append(module)
    return stack


def run_stack(stack: list[torch.nn.Module], inputs: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's states over inputs (T, E) as a batch of one: [(T, H) per layer], bottom first."""
    states, x = [], inputs.unsqueeze(1)
    for module in stack:
        x, _ = module(x)
        states.append(x[:, 0])
    return states


def layer_states(cell: str, inputs: torch.Tensor, hidden: int, layers: int, seed: int = 0) -> list[torch.Tensor]:
    """The hidden state of every layer at every word of a sentence (T, E), from a seeded stack."""
    with torch.no_grad():
        return run_stack(seeded_stack(cell, inputs.shape[1], hidden, layers, seed), inputs)


@dataclass
class DepthGradients:
    layers: int               # how many layers the network has
    per_layer: list[float]    # ||dL/d(layer l's weights)||, l = 1 (bottom, reads the words) .. layers (top)


def depth_comparison(cell: str, batch: list[torch.Tensor], hidden: int, depths=DEPTHS, seeds: int = 4,
                     classes: int = 3) -> list[DepthGradients]:
    """The gradient each layer's weights receive, for networks of 1, 2 and 3 layers, at initialisation.

    Each network (a seeded stack and a linear classifier on the top layer's last state) reads every
    sentence of `batch` (each (T, E)); the loss is the mean cross-entropy against classes drawn from
    the seed (untrained, the labels do not change the gradients' sizes). The norms are averaged over
    `seeds` draws of the weights, so one lucky draw does not decide the picture.
    """
    if not batch:
        raise ValueError("the batch is empty")
    results = []
    for layers in depths:
        sums = [0.0] * layers
        for seed in range(seeds):
            stack = seeded_stack(cell, batch[0].shape[1], hidden, layers, seed)
            generator = torch.Generator().manual_seed(1000 + seed)
            head = torch.nn.Linear(hidden, classes)
            with torch.no_grad():
                head.weight.uniform_(-hidden ** -0.5, hidden ** -0.5, generator=generator)
                head.bias.zero_()
            targets = torch.randint(0, classes, (len(batch),), generator=generator)
            with torch.enable_grad():
                logits = torch.stack([head(run_stack(stack, x)[-1][-1]) for x in batch])
                loss = torch.nn.functional.cross_entropy(logits, targets)
                grads = torch.autograd.grad(loss, [p for module in stack for p in module.parameters()])
            start = 0
            for layer, module in enumerate(stack):
                count = len(list(module.parameters()))
                sums[layer] += float(torch.sqrt(sum((g ** 2).sum() for g in grads[start:start + count])))
                start += count
        results.append(DepthGradients(layers, [s / seeds for s in sums]))
    return results
