"""training/optim.py: torch's Adam arithmetic without torch.optim, lazy rows for a sparse embedding."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sentiment_core.models import build_model
from sentiment_core.config import ModelConfig
from sentiment_core.training.optim import Adam, clip_grad_norm, sparse_embedding

ROOT = Path(__file__).resolve().parent.parent


def copies(params):
    return [nn.Parameter(p.detach().clone()) for p in params]


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("fused", [True, False])
def test_dense_steps_match_torch_adam_step_by_step(weight_decay, fused):
    torch.manual_seed(0)
    ours = [nn.Parameter(torch.randn(6, 4)), nn.Parameter(torch.randn(9))]
    theirs = copies(ours)
    mine = Adam(ours, lr=3e-3, weight_decay=weight_decay)
    reference = torch.optim.Adam(theirs, lr=3e-3, weight_decay=weight_decay, fused=fused or None)
    for _ in range(25):
        grads = [torch.randn_like(p) for p in ours]
        for params in (ours, theirs):
            for p, g in zip(params, grads):
                p.grad = g.clone()
        mine.step()
        reference.step()
        for a, b in zip(ours, theirs):
            assert torch.allclose(a, b, atol=1e-6, rtol=0), (a - b).abs().max()


def test_the_fallback_without_the_fused_kernel_matches_too(monkeypatch):
    def no_kernel(*args, **kwargs):
        raise NotImplementedError("no fused kernel here")

    torch.manual_seed(1)
    ours = [nn.Parameter(torch.randn(5, 3))]
    theirs = copies(ours)
    mine, reference = Adam(ours, lr=1e-2, weight_decay=0.1), torch.optim.Adam(theirs, lr=1e-2, weight_decay=0.1)
    monkeypatch.setattr(torch, "_fused_adam_", no_kernel)
    for _ in range(10):
        grad = torch.randn(5, 3)
        ours[0].grad, theirs[0].grad = grad.clone(), grad.clone()
        mine.step()
        reference.step()
    assert torch.allclose(ours[0], theirs[0], atol=1e-6, rtol=0)


def test_sparse_rows_follow_torch_sparse_adam_and_untouched_rows_stay():
    torch.manual_seed(2)
    ours, theirs = nn.Embedding(40, 5, sparse=True), nn.Embedding(40, 5, sparse=True)
    theirs.load_state_dict(ours.state_dict())
    mine, reference = Adam([ours.weight], lr=1e-2), torch.optim.SparseAdam([theirs.weight], lr=1e-2)
    for _ in range(15):
        rows = torch.randint(0, 20, (30,))  # rows 20..39 are never read, some rows read twice
        before = ours.weight.detach().clone()
        for embedding in (ours, theirs):
            embedding(rows).pow(2).sum().backward()
        mine.step()
        reference.step()
        mine.zero_grad()
        reference.zero_grad()
        assert torch.allclose(ours.weight, theirs.weight, atol=1e-6, rtol=0)
        assert torch.equal(ours.weight[20:], before[20:])


def test_clipping_matches_torch_on_dense_and_sparse_gradients():
    torch.manual_seed(3)
    sparse, dense = nn.Embedding(20, 3, sparse=True), nn.Embedding(20, 3)
    dense.load_state_dict(sparse.state_dict())
    head, head_copy = nn.Linear(3, 2), nn.Linear(3, 2)
    head_copy.load_state_dict(head.state_dict())
    rows = torch.tensor([1, 2, 2, 5])  # a repeated row: its gradients add up before the norm
    head(sparse(rows)).pow(2).sum().mul(10).backward()
    head_copy(dense(rows)).pow(2).sum().mul(10).backward()
    ours = clip_grad_norm([sparse.weight, *head.parameters()], 1.0)
    theirs = torch.nn.utils.clip_grad_norm_([dense.weight, *head_copy.parameters()], 1.0)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6) and ours.item() > 1.0
    assert torch.allclose(sparse.weight.grad.to_dense(), dense.weight.grad, atol=1e-7)
    assert torch.allclose(head.weight.grad, head_copy.weight.grad, atol=1e-7)
    unclipped = clip_grad_norm([head.weight], float("inf"))
    assert unclipped.item() == pytest.approx(head.weight.grad.norm().item())


def test_state_dicts_load_both_ways_with_torch_adam():
    torch.manual_seed(4)
    params = [nn.Parameter(torch.randn(4, 3)), nn.Parameter(torch.randn(3))]
    reference = torch.optim.Adam(copies(params), lr=2e-3)
    for p in reference.param_groups[0]["params"]:
        p.grad = torch.randn_like(p)
    reference.step()
    mine = Adam(copies(params), lr=1e-3)
    mine.load_state_dict(reference.state_dict())
    assert mine.param_groups[0]["lr"] == 2e-3
    back = torch.optim.Adam(copies(params), lr=1e-3)
    back.load_state_dict(mine.state_dict())
    assert float(back.state_dict()["state"][0]["step"]) == 1.0
    with pytest.raises(ValueError, match="for 2 parameters"):
        Adam([nn.Parameter(torch.zeros(2))]).load_state_dict(reference.state_dict())


def test_only_our_classifier_gets_a_sparse_embedding_and_it_trains():
    config = ModelConfig(vocab_size=30, num_classes=3, cell="gru", embedding_dim=8, hidden_dim=8)
    model = build_model(config)
    assert sparse_embedding(model) and model.embedding.sparse
    assert not sparse_embedding(build_model(ModelConfig(vocab_size=30, num_classes=3, tutorial=True,
                                                        embedding_dim=8, hidden_dim=8)))
    optimizer = Adam(model.parameters(), lr=1e-2)
    tokens, lengths = torch.tensor([[4, 5, 6], [7, 8, 1]]), torch.tensor([3, 2])
    before = model.embedding.weight.detach().clone()
    F.cross_entropy(model(tokens, lengths), torch.tensor([0, 2])).backward()
    assert model.embedding.weight.grad.is_sparse
    optimizer.step()
    changed = (model.embedding.weight != before).any(1).nonzero().flatten().tolist()
    assert changed == [4, 5, 6, 7, 8]  # the rows the batch read, padding (1) excluded


def test_building_and_stepping_does_not_import_dynamo():
    code = ("import sys, torch\nfrom torch import nn\nfrom sentiment_core.training.optim import Adam, clip_grad_norm\n"
            "p = nn.Parameter(torch.ones(3)); o = Adam([p]); p.grad = torch.ones(3)\n"
            "clip_grad_norm([p], 1.0); o.step(); o.zero_grad(); o.state_dict()\n"
            "print('torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_clipped_training_loop_matches_torch_adam_bit_for_bit():
    """What `train` runs (optim.Adam + clip_grad_norm, dense) gives torch's fused Adam's weights exactly."""
    config = ModelConfig(vocab_size=50, num_classes=3, cell="lstm", embedding_dim=8, hidden_dim=8)
    torch.manual_seed(5)
    ours = build_model(config)
    theirs = build_model(config)
    theirs.load_state_dict(ours.state_dict())
    mine = Adam(ours.parameters(), lr=5e-2)
    reference = torch.optim.Adam(theirs.parameters(), lr=5e-2, fused=True)
    generator = torch.Generator().manual_seed(6)
    for _ in range(12):
        tokens = torch.randint(4, 50, (5, 6), generator=generator)
        lengths, labels = torch.tensor([6, 5, 3, 2, 1]), torch.randint(0, 3, (5,), generator=generator)
        for model, optimizer, clip in ((ours, mine, clip_grad_norm),
                                       (theirs, reference, torch.nn.utils.clip_grad_norm_)):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(tokens, lengths), labels).mul(50).backward()
            clip(list(model.parameters()), 0.5)  # scaled loss: the clip bites
            optimizer.step()
        for a, b in zip(ours.parameters(), theirs.parameters()):
            assert torch.equal(a, b)
