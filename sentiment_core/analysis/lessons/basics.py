"""The computations behind the walkthrough page: each step of the lesson as a plain function.

The page (dashboard/views/walkthrough.py) only lays these results out (dashboard/charts draws
them); everything it shows is computed here, live, from the library's own pieces (RNNLayer,
Tokenizer, Vocab, the batching module) and from torch's autograd:

1. the recurrent cell stepped by hand (`start_cell_walk`, `next_cell_step`);
2. unrolling, as the autograd graph of an output (`autograd_graph`, `parameter_uses`);
3. and 4. backpropagation through time and the runs' probes: sentiment_core.analysis.lessons.gradient_flow;
5. text to tensors: tokens, indices, embeddings, a padded batch (`follow_sentence`,
   `embedding_rows`, `batch_for_sentence`).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from sentiment_core.data.batching import BucketBatchSampler, pad_collate
from sentiment_core.data.text import PAD_INDEX, Tokenizer, Vocab
from sentiment_core.models import RNNLayer
from sentiment_core.runs.checkpoints import load_checkpoint
from sentiment_core.runs.store import RunError, read_vocab

# ---------------------------------------------------------------------------------------------
# 1. The cell, stepped by hand


@dataclass(frozen=True)
class CellSizes:
    batch: int = 3      # sentences processed side by side (N)
    in_dim: int = 1024  # size of one input vector x_t
    h_dim: int = 10     # size of the hidden state h_t
    out_dim: int = 1    # size of one output y_t
    seed: int = 0       # same seed, same weights and inputs


@dataclass
class CellStep:
    t: int               # 1-based time step
    x: torch.Tensor      # (N, in_dim), a leaf that requires grad so it appears in the graph
    y: torch.Tensor      # (N, out_dim)
    h: torch.Tensor      # (N, h_dim)


@dataclass
class CellWalk:
    """One RNNLayer and the steps fed through it so far; the page keeps it in session state."""

    sizes: CellSizes
    layer: nn.Module
    generator: torch.Generator  # draws x_1, x_2, ... in order, so a walk is reproducible
    steps: list[CellStep] = field(default_factory=list)
    inputs: torch.Tensor | None = None  # (T, in_dim) a sentence's word vectors, fed in order; None: random

    @property
    def done(self) -> bool:
        """Every word of the sentence has been fed (a random walk never ends)."""
        return self.inputs is not None and len(self.steps) >= self.inputs.shape[0]


def start_cell_walk(sizes: CellSizes, inputs: torch.Tensor | None = None) -> CellWalk:
    """A fresh RNNLayer of the given sizes with seeded weights, and no step taken yet.

    With `inputs` (T, in_dim), the steps feed those vectors (a sentence's words) in order, one
    sentence at a time, so sizes.batch must be 1.
    """
    for name in ("batch", "in_dim", "h_dim", "out_dim"):
        value = getattr(sizes, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    generator = torch.Generator().manual_seed(sizes.seed)
    layer = seeded_init(build_without_init(RNNLayer, sizes.in_dim, sizes.h_dim, sizes.out_dim), generator)
    if inputs is not None and (inputs.dim() != 2 or inputs.shape[1] != sizes.in_dim or sizes.batch != 1):
        raise ValueError(f"inputs must be (T, {sizes.in_dim}) for a batch of 1, not {tuple(inputs.shape)}")
    return CellWalk(sizes, layer, generator, inputs=inputs)


def build_without_init(module_class, *args) -> nn.Module:
    """Construct a module without moving the global generator: its default initialisation draws
    from it, so save and restore it around the construction (seeded_init then redraws)."""
    with torch.random.fork_rng(devices=[]):
        return module_class(*args)


def seeded_init(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw the Linear and Embedding weights of `module` from `generator`, with PyTorch's default
    distributions (Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Embedding: N(0, 1)).

    A private generator, not torch.manual_seed: the dashboard serves several sessions from one
    process, and seeding the global generator from one of them would disturb the others.
    """
    covered = {id(p) for part in module.modules() if isinstance(part, (nn.Linear, nn.Embedding))
               for p in part.parameters(recurse=False)}
    if any(id(p) not in covered for p in module.parameters()):
        raise ValueError(f"seeded_init covers Linear and Embedding weights only; {type(module).__name__} has others")
    with torch.no_grad():
        for part in module.modules():
            if isinstance(part, nn.Linear):
                bound = 1.0 / math.sqrt(part.in_features)
                part.weight.uniform_(-bound, bound, generator=generator)
                if part.bias is not None:
                    part.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(part, nn.Embedding):
                part.weight.normal_(generator=generator)
    return module


def next_cell_step(walk: CellWalk) -> CellStep:
    """Feed the next random input x_t with the previous hidden state; record and return the step."""
    sizes = walk.sizes
    if walk.done:
        raise ValueError("every word of the sentence has been fed already")
    if walk.inputs is not None:
        x = walk.inputs[len(walk.steps)].unsqueeze(0).detach().clone().requires_grad_(True)
    else:
        x = torch.randn(sizes.batch, sizes.in_dim, generator=walk.generator).requires_grad_(True)
    h_prev = walk.steps[-1].h if walk.steps else None
    y, h = walk.layer(x, h_prev)
    step = CellStep(len(walk.steps) + 1, x, y, h)
    walk.steps.append(step)
    return step


def describe_tensor(name: str, tensor: torch.Tensor) -> str:
    """The way a notebook prints a tensor: its name, shape and values (with grad_fn)."""
    return f"{name} {tuple(tensor.shape)}:\n{tensor}"


def hidden_steps_note(total: int, shown: int) -> str | None:
    """What a list of the latest `shown` of `total` steps leaves out, in words; None if nothing."""
    hidden = total - shown
    if hidden <= 0:
        return None
    if hidden == 1:
        return f"Step 1 is hidden; the latest {shown} are shown."
    return f"Steps 1 to {hidden} are hidden; the latest {shown} are shown."


def readable_share(share: float) -> str:
    """A share as a percentage a reader can say aloud: 67.4%, 'less than 0.1%', never 7.77e-05%."""
    if share <= 0:
        return "0%"
    if share < 0.001:
        return "less than 0.1%"
    if share < 1 and share > 0.999:
        return "more than 99.9%"
    return f"{100 * share:.1f}%"


def readable_norm(norm: float) -> str:
    """A gradient norm relative to 1: plain digits when near 1, else powers of ten said in words."""
    if norm == 0:
        return "0 (no gradient at all)"
    if 1e-3 <= norm < 1e4:
        return f"{norm:.3g}"
    exponent = math.floor(math.log10(norm))
    mantissa = norm / 10 ** exponent
    direction = "smaller" if norm < 1 else "larger"
    return f"{mantissa:.1f} × 10^{exponent} (about 10^{abs(exponent)} times {direction} than at the loss)"


def walk_tensor_names(walk: CellWalk) -> dict[int, str]:
    """id(tensor) -> name for the layer's parameters and the inputs x_1, x_2, ...: graph labels."""
    names = {id(p): name for name, p in walk.layer.named_parameters()}
    names.update({id(step.x): f"x_{step.t}" for step in walk.steps})
    return names


@dataclass
class OrderDemo:
    same_bag: bool        # the two sentences hold the same words, the same number of times
    bag_distance: float   # distance between their mean word vectors (a model without memory)
    state_distance: float # distance between an RNN's final hidden states after reading each


def order_demo(first: str, second: str, tokenizer: Tokenizer, dim: int = 16, seed: int = 0) -> OrderDemo:
    """Read two sentences with a seeded (untrained) embedding: averaged, and through an RNNLayer.

    Averaging word vectors forgets the order, so two sentences made of the same words look the
    same; a recurrent layer's state depends on the order in which it read them.
    """
    tokens = [tokenizer(first), tokenizer(second)]
    if not tokens[0] or not tokens[1]:
        raise ValueError("both sentences need at least one word")
    words = sorted(set(tokens[0]) | set(tokens[1]))
    index = {w: i for i, w in enumerate(words)}
    generator = torch.Generator().manual_seed(seed)
    embedding = nn.Embedding.from_pretrained(torch.randn(len(words), dim, generator=generator))
    layer = seeded_init(build_without_init(RNNLayer, dim, dim, None), generator)
    with torch.no_grad():
        vectors = [embedding(torch.tensor([index[w] for w in t])) for t in tokens]  # (T, dim) each
        states = []
        for sentence in vectors:
            h = None
            for x_t in sentence:
                _, h = layer(x_t.unsqueeze(0), h)
            states.append(h[0])
        bag_distance = float((vectors[0].mean(0) - vectors[1].mean(0)).norm())
        state_distance = float((states[0] - states[1]).norm())
    return OrderDemo(Counter(tokens[0]) == Counter(tokens[1]), bag_distance, state_distance)


# ---------------------------------------------------------------------------------------------
# 2. Unrolling: the autograd graph of an output


@dataclass
class AutogradGraph:
    """The backward graph of one tensor: operation nodes, leaves and the edges between them.

    Edges point the way data flowed in the forward pass (from a leaf or an earlier operation
    to the operation that used it), so the output is at the bottom of a drawing.
    """

    labels: dict[str, str]           # node id -> text shown in the node
    kinds: dict[str, str]            # node id -> "output", "operation", "parameter" or "leaf"
    edges: list[tuple[str, str]]     # (from node id, to node id), one per use
    leaf_names: dict[str, str]       # node id -> tensor name, for named leaves

    def node_of(self, name: str) -> str:
        for node, leaf_name in self.leaf_names.items():
            if leaf_name == name:
                return node
        raise KeyError(f"no leaf named {name!r} in this graph")


def autograd_graph(output: torch.Tensor, names: dict[int, str], output_name: str = "output") -> AutogradGraph:
    """Walk output.grad_fn and its next_functions; name leaves through `names` (id(tensor) -> name).

    A parameter used k times in the forward pass is one leaf node (AccumulateGrad) with k edges
    into the graph: that is what makes weight sharing across time steps visible.
    """
    if output.grad_fn is None:
        raise ValueError(f"{output_name} has no autograd history: compute it from tensors that require grad")
    labels: dict[str, str] = {}
    kinds: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    leaf_names: dict[str, str] = {}
    keep_alive: list[Any] = []  # node ids are id()s of Python wrappers: keep them alive while walking

    def node_id(fn) -> str:
        return f"n{id(fn)}"

    out_node = f"t{id(output)}"
    labels[out_node] = f"{output_name}\n{_shape(output)}"
    kinds[out_node] = "output"
    edges.append((node_id(output.grad_fn), out_node))
    stack = [output.grad_fn]
    while stack:
        fn = stack.pop()
        nid = node_id(fn)
        if nid in labels:
            continue
        keep_alive.append(fn)
        variable = getattr(fn, "variable", None)  # AccumulateGrad: the leaf tensor it feeds
        if variable is not None:
            name = names.get(id(variable))
            labels[nid] = f"{name or 'leaf'}\n{_shape(variable)}"
            kinds[nid] = "parameter" if isinstance(variable, nn.Parameter) else "leaf"
            if name:
                leaf_names[nid] = name
        else:
            labels[nid] = type(fn).__name__
            kinds[nid] = "operation"
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:  # None: an input that needs no gradient (e.g. the zero h_0)
                edges.append((node_id(next_fn), nid))
                stack.append(next_fn)
    return AutogradGraph(labels, kinds, edges, leaf_names)


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in tensor.shape) + ")"


def parameter_uses(graph: AutogradGraph, name: str) -> int:
    """How many times the named leaf enters the graph (its outgoing edges)."""
    node = graph.node_of(name)
    return sum(1 for source, _ in graph.edges if source == node)


# ---------------------------------------------------------------------------------------------
# 5. Text to tensors


@dataclass
class FollowedSentence:
    text: str
    tokens: list[str]           # the tokenizer's output
    ids: list[int]              # vocabulary indices with <sos> and <eos> around them
    unknown: list[str]          # tokens the vocabulary does not hold (they become <unk>)


def follow_sentence(text: str, tokenizer: Tokenizer, vocab: Vocab) -> FollowedSentence:
    tokens = tokenizer(text)
    if not tokens:
        raise ValueError("the sentence is empty: type a few words")
    ids = vocab.encode(tokens, add_sos_eos=True)
    unknown = [t for t in tokens if t not in vocab]
    return FollowedSentence(text, tokens, ids, unknown)


def embedding_rows(ids: Sequence[int], weight: torch.Tensor) -> torch.Tensor:
    """The embedding lookup: row i of the table is the vector of token i. (T,) -> (T, E)."""
    table = nn.Embedding.from_pretrained(weight, freeze=True)
    with torch.no_grad():
        return table(torch.tensor(list(ids), dtype=torch.long))


def seeded_embedding_weight(vocab_size: int, dim: int, seed: int = 0) -> torch.Tensor:
    """The table an untrained nn.Embedding starts from (N(0, 1) entries), reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(vocab_size, dim, generator=generator)


def run_embedding(run_dir) -> tuple[Vocab, torch.Tensor]:
    """A trained run's vocabulary and word-vector table (from its best checkpoint)."""
    checkpoint = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    tables = [v for k, v in checkpoint["model_state"].items() if k.endswith("embedding.weight")]
    if not tables:
        raise RunError(f"the checkpoint of {Path(run_dir).name} holds no embedding table")
    return read_vocab(Path(run_dir)), tables[0].detach()


@dataclass
class SentenceBatch:
    tokens: torch.Tensor        # (B, T) padded with <pad>
    lengths: list[int]          # true lengths
    members: list[int]          # training-sentence index of each row, or -1 for the followed sentence
    padding: float              # share of the batch's positions that are padding


def batch_for_sentence(ids: Sequence[int], train_ids: Sequence[Sequence[int]], batch_size: int,
                       bucketing: bool, seed: int = 0) -> SentenceBatch:
    """The batch the followed sentence lands in when it joins the training set for one epoch.

    The batching module's own sampler decides the company: with bucketing, sentences of similar
    length from the same pool; without, any sentences. Row order is the sampler's.
    """
    lengths = [len(s) for s in train_ids] + [len(ids)]
    own_index = len(train_ids)
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed, bucketing=bucketing)
    batch = next(b for b in sampler.batches(0) if own_index in b)
    items = [(torch.tensor(list(ids) if i == own_index else list(train_ids[i]), dtype=torch.long), 0)
             for i in batch]
    collated = pad_collate(items, PAD_INDEX)
    real = int(collated.lengths.sum())
    total = collated.tokens.numel()
    return SentenceBatch(collated.tokens, collated.lengths.tolist(),
                         [-1 if i == own_index else i for i in batch], 1.0 - real / total)


def unroll(sizes: CellSizes, inputs: torch.Tensor, steps: int) -> CellWalk:
    """A fresh walk over a sentence's vectors with its first `steps` words fed (the unrolling lesson)."""
    walk = start_cell_walk(sizes, inputs)
    for _ in range(min(steps, inputs.shape[0])):
        next_cell_step(walk)
    return walk
