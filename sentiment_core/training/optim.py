"""Adam for training: torch's fused Adam arithmetic, with lazy row updates for a sparse embedding.

Why not torch.optim.Adam / SparseAdam: constructing any torch.optim optimizer imports
torch._dynamo (Optimizer.add_param_group, zero_grad and step are wrapped by
torch._disable_dynamo, which imports it on first call): 1.3-2 s of start-up for a run that
never compiles anything (issue 23). This module calls the same ATen kernel torch.optim.Adam
(fused=True) calls, `torch._fused_adam_`, so the dense update is the same arithmetic
(tests/test_optim.py holds it to torch.optim.Adam step by step).

Why lazy rows: the embedding table is most of the model's parameters (1.5M of 1.58M for SST),
but one batch reads a few hundred of its rows. With `nn.Embedding(sparse=True)` its gradient
is a sparse tensor of those rows, and `Adam` updates only them, as torch.optim.SparseAdam does:
the moments of rows a batch does not touch are not decayed that step, and bias correction uses
the optimizer's step count. Measured (one thread, CPU time of a scratch-cell epoch): the dense
Adam step 0.15 s of 1.05 s, the lazy one 0.08 s of 0.88 s. (Weight decay, when set, is added to the touched
rows' gradients only.) But lazy rows change training: under dense Adam a row keeps moving on
its momentum for many steps after a batch read it, so rare words learn more; measured with
lazy rows, `quick` lost 1.2 points of test accuracy (65.2% against 66.4% dense, same code) and
`best-2` 1.4 (82.9% against 84.3%). So `train` keeps the embedding dense (trainer.py) and the
lazy path is what `bench --lazy-adam` measures.

`clip_grad_norm` is torch.nn.utils.clip_grad_norm_'s rule (scale by max_norm / (norm + 1e-6)
when that is below 1) over dense and sparse gradients alike; the sparse ones are coalesced
first, so a row read twice in a batch counts once with its summed gradient.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from sentiment_core.models import RecurrentClassifier
from sentiment_core.training.evaluation import TrainingError

__all__ = ["Adam", "clip_grad_norm", "sparse_embedding"]


class Adam:
    """Adam over `params` (one group); a parameter whose gradient arrives sparse gets lazy row updates.

    The interface is the part of torch.optim.Optimizer the trainer uses: `step()`,
    `zero_grad(set_to_none=True)`, `state_dict()` / `load_state_dict()` (torch.optim.Adam's
    format, so a checkpoint saved by either loads into the other) and `param_groups`.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        params = list(params)
        if not params:
            raise ValueError("the optimizer got no parameters to train")
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"invalid Adam settings: lr {lr}, betas {betas}, eps {eps}, weight_decay {weight_decay}")
        self.param_groups = [{"params": params, "lr": lr, "betas": tuple(betas), "eps": eps,
                              "weight_decay": weight_decay, "amsgrad": False, "maximize": False}]
        self.state: dict[torch.Tensor, dict] = {}

    @property
    def params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def _state_of(self, p: torch.Tensor) -> dict:
        state = self.state.get(p)
        if state is None:
            # float32 step on the parameter's device: what torch.optim.Adam(fused=True) keeps
            state = self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                     "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                     "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return state

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none or p.grad.is_sparse:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        dense = [p for p in self.params if p.grad is not None and not p.grad.is_sparse]
        if dense:
            states = [self._state_of(p) for p in dense]
            _adam_update(dense, [p.grad for p in dense], [s["exp_avg"] for s in states],
                         [s["exp_avg_sq"] for s in states], [s["step"] for s in states], group)
        for p in self.params:
            if p.grad is not None and p.grad.is_sparse:
                self._lazy_step(p, group)

    def _lazy_step(self, p: torch.Tensor, group: dict) -> None:
        """Update only the rows present in p's sparse gradient (torch.optim.SparseAdam's rule)."""
        state = self._state_of(p)
        grad = p.grad.coalesce()
        rows, values = grad.indices()[0], grad.values()
        # index_select: a row gather several times cheaper than p[rows] (advanced indexing)
        weights = p.index_select(0, rows)
        exp_avg, exp_avg_sq = state["exp_avg"].index_select(0, rows), state["exp_avg_sq"].index_select(0, rows)
        if group["weight_decay"]:
            values = values.add(weights, alpha=group["weight_decay"])
        # the same kernel on the gathered rows; weight decay was added above, so none here
        _adam_update([weights], [values.contiguous()], [exp_avg], [exp_avg_sq], [state["step"]],
                     {**group, "weight_decay": 0.0})
        p.index_copy_(0, rows, weights)
        state["exp_avg"].index_copy_(0, rows, exp_avg)
        state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)

    def state_dict(self) -> dict:
        """torch.optim.Adam's layout: state by parameter position, one param group."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group.update({"params": list(range(len(self.params))), "foreach": None, "capturable": False,
                      "differentiable": False, "fused": True, "decoupled_weight_decay": False})
        state = {i: {k: v.clone() for k, v in self.state[p].items()} for i, p in enumerate(self.params)
                 if p in self.state}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, saved: dict) -> None:
        """Load a state saved by this class or by torch.optim.Adam over the same parameters."""
        groups = saved.get("param_groups") or []
        indices = [i for g in groups for i in g["params"]]
        if len(groups) != 1 or len(indices) != len(self.params):
            raise ValueError(f"the saved optimizer state is for {len(indices)} parameters in {len(groups)} group(s); "
                             f"this model trains {len(self.params)} in one")
        for key in ("lr", "betas", "eps", "weight_decay"):
            if key in groups[0]:
                self.param_groups[0][key] = tuple(groups[0][key]) if key == "betas" else groups[0][key]
        self.state = {}
        for position, index in enumerate(indices):
            saved_state = saved["state"].get(index, saved["state"].get(str(index)))
            if saved_state is None:
                continue
            p = self.params[position]
            if tuple(saved_state["exp_avg"].shape) != tuple(p.shape):
                raise ValueError(f"the saved optimizer state has shape {tuple(saved_state['exp_avg'].shape)} for "
                                 f"parameter {position}, which has shape {tuple(p.shape)}")
            step = saved_state["step"]
            self.state[p] = {"step": torch.as_tensor(float(step), dtype=torch.float32, device=p.device),
                             "exp_avg": saved_state["exp_avg"].to(p.device, p.dtype).clone(),
                             "exp_avg_sq": saved_state["exp_avg_sq"].to(p.device, p.dtype).clone()}


def _adam_update(params, grads, exp_avgs, exp_avg_sqs, steps, group: dict) -> None:
    """One Adam step in place: torch's fused kernel where the device has it, else _foreach ops."""
    for step in steps:
        step.add_(1)
    beta1, beta2 = group["betas"]
    try:
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=group["lr"], beta1=beta1,
                           beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False,
                           maximize=False)
        return
    except (RuntimeError, NotImplementedError):  # a device without the fused kernel
        pass
    if group["weight_decay"]:
        grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    for p, m, v, step in zip(params, exp_avgs, exp_avg_sqs, steps):
        n = float(step)
        step_size = group["lr"] / (1 - beta1 ** n)
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** n)).add_(group["eps"])
        p.addcdiv_(m, denom, value=-step_size)


@torch.no_grad()
def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """The gradients' global 2-norm before clipping; scales them to `max_norm` when larger (inf: no clip)."""
    dense, sparse = [], []
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()  # duplicate rows summed: the norm of the true gradient
            sparse.append(p.grad)
        else:
            dense.append(p.grad)
    norms = list(torch._foreach_norm(dense)) if dense else []
    norms += [g.values().norm() for g in sparse]
    if not norms:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(norms))
    coefficient = max_norm / (total + 1e-6)  # float32, as torch computes it: the same bits after clipping
    if coefficient < 1.0:  # torch multiplies by min(coefficient, 1): by 1 it changes nothing
        if dense:
            torch._foreach_mul_(dense, coefficient)
        for g in sparse:
            g.values().mul_(coefficient)
    return total


def sparse_embedding(model: nn.Module) -> bool:
    """Make the model's trainable embedding produce sparse gradients (for `Adam`'s lazy rows).

    Only a `RecurrentClassifier`'s own table: the tutorial's model keeps its dense embedding (it
    trains exactly as the tutorial wrote it). Returns whether the embedding is sparse now.
    """
    embedding = getattr(model, "embedding", None)
    if not isinstance(model, RecurrentClassifier) or not isinstance(embedding, nn.Embedding):
        return False
    if not embedding.weight.requires_grad or embedding.weight.device.type != "cpu":
        return False  # frozen vectors have no gradient; accelerators keep the dense path
    embedding.sparse = True
    return True


def make_optimizer(parameters, name: str, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9):
    """optim.Adam (torch's fused kernel without torch.optim's 1-2 s import of torch._dynamo; dense
    gradients: lazy embedding rows cost accuracy, see training/optim.py) or torch's SGD (fused)."""
    parameters = [p for p in parameters if p.requires_grad]
    if name not in ("adam", "sgd"):
        raise TrainingError(f"optimizer must be adam or sgd, not {name!r}")
    if name == "adam":
        return Adam(parameters, lr=lr, weight_decay=weight_decay)
    for fused in (True, False):
        try:
            return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                   fused=fused or None)
        except (RuntimeError, TypeError, ValueError):
            if not fused:
                raise
    raise AssertionError("unreachable")
