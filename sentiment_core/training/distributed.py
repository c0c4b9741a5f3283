"""Training on several processes with DistributedDataParallel (DDP), as started by `torchrun`.

`torchrun --nproc_per_node N -m sentiment_core train ...` starts N copies of the train
command and tells each its place through environment variables (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Each copy:

- joins the process group (`gloo` on CPU, `nccl` when every process has its own GPU);
- builds the same model from the same seed (DDP also copies rank 0's weights to the others);
- takes its share of each epoch's bucketed batches (`World.shard`): every rank gets the same
  number of batches, so no rank waits forever for another at a gradient all-reduce;
- averages gradients with the others on every backward pass (that is what DDP does), so
  the weights stay identical on every rank;
- sums its batch figures with the others' (`World.sum`), so loss and accuracy describe all
  the data seen, not one shard.

Only rank 0 writes the run directory and prints; the others train silently. In one process
(no torchrun), `World()` is a world of size 1 and every method is a cheap no-op.

Test hook: when $SENTIMENT_RANK_WEIGHTS_DIR is set, each rank saves its final weights there
as rank<R>.pt (`save_rank_weights`), so a test can check that all ranks ended identical.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, TypeVar

import torch
from torch import nn

from sentiment_core.fileio import atomic_write
from sentiment_core.settings import RANK_WEIGHTS_ENV, read

T = TypeVar("T")


class DistributedError(ValueError):
    """A distributed setting that cannot work, said as a sentence."""


@dataclass(frozen=True)
class World:
    """Where this process stands among the training processes (size 1 = no torchrun)."""

    rank: int = 0          # this process's number, 0 .. size-1 (rank 0 writes and prints)
    size: int = 1          # how many processes train together
    local_rank: int = 0    # its number on this machine (picks the GPU)
    backend: str = ""      # "gloo" or "nccl"; "" for a single process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # --- batches -------------------------------------------------------------------------

    def batches_per_rank(self, total: int) -> int:
        """How many of `total` batches each rank trains on per epoch: ceil(total / size)."""
        return -(-total // self.size)

    def shard(self, batches: Sequence[T]) -> list[T]:
        """This rank's share of one epoch's batches (the same ordered list on every rank).

        Like DistributedSampler without drop_last, the list is padded by wrapping around to
        a multiple of the world size, so every rank gets exactly `batches_per_rank` batches;
        rank r takes batches r, r + size, r + 2*size, ... (neighbours in bucket order land on
        different ranks, so each rank still sees every length range).
        """
        if not self.distributed:
            return list(batches)
        if not batches:
            return []
        padded = self.batches_per_rank(len(batches)) * self.size
        return [batches[i % len(batches)] for i in range(self.rank, padded, self.size)]

    # --- agreeing across ranks -----------------------------------------------------------

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over all ranks (float64, one all-reduce)."""
        if not self.distributed:
            return tuple(float(v) for v in values)
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tuple(tensor.tolist())

    def any(self, flag: bool) -> bool:
        """True when the flag is true on at least one rank (e.g. a stop request seen by rank 0)."""
        return bool(self.sum(1.0 if flag else 0.0)[0] > 0) if self.distributed else bool(flag)

    def all(self, flag: bool) -> bool:
        """True only when the flag is true on every rank (e.g. every rank's loss is finite)."""
        return bool(self.sum(1.0 if flag else 0.0)[0] == self.size) if self.distributed else bool(flag)

    def from_main(self, value: Any) -> Any:
        """Rank 0's value on every rank (a picklable object), so all ranks decide alike."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    # --- the model -------------------------------------------------------------------------

    def device(self, requested: str | torch.device | None = None) -> torch.device:
        """The device this rank trains on: its own GPU under nccl, else `requested` or the CPU."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device(requested or "cpu")

    def _device(self) -> torch.device:
        return self.device()

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train with: DDP around `model` when distributed, else `model` itself.

        Keep using the unwrapped `model` for evaluation, state_dict and checkpoints (no
        "module." prefixes); only the training forward pass goes through the wrapper.
        """
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.local_rank] if self.backend == "nccl" else None
        # Every model configuration uses all its trainable parameters in each forward pass
        # (tests/test_distributed.py checks it), so DDP need not search the graph for unused ones.
        return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=False)


def world_from_env(env: dict | None = None) -> World:
    """The World that torchrun's environment variables describe (size 1 without torchrun)."""
    env = os.environ if env is None else env
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DistributedError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers; "
                               "start distributed training with torchrun") from None
    if size < 1 or not 0 <= rank < size:
        raise DistributedError(f"rank {rank} does not fit a world of {size} processes; "
                               "start distributed training with torchrun")
    if size == 1:
        return World()
    return World(rank=rank, size=size, local_rank=local_rank, backend=choose_backend(local_rank))


def choose_backend(local_rank: int) -> str:
    """nccl when this process has a GPU of its own, gloo (CPU) otherwise."""
    if torch.cuda.is_available() and local_rank < torch.cuda.device_count():
        return "nccl"
    return "gloo"


def init_world(env: dict | None = None) -> World:
    """Join the process group torchrun prepared (no-op for a single process)."""
    world = world_from_env(env)
    if not world.distributed:
        return world
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("this PyTorch build has no torch.distributed; train in one process instead")
    if world.backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise DistributedError(f"{name} is not set; start distributed training with torchrun "
                                       "(e.g. torchrun --standalone --nproc_per_node 2 -m sentiment_core train ...)")
        dist.init_process_group(world.backend, rank=world.rank, world_size=world.size)
    return world


def close_world(world: World) -> None:
    """Leave the process group (after every rank is done)."""
    if world.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def save_rank_weights(world: World, model: nn.Module, env: dict | None = None) -> Path | None:
    """Test hook: each rank's final weights to $SENTIMENT_RANK_WEIGHTS_DIR/rank<R>.pt, if set."""
    folder = read(RANK_WEIGHTS_ENV, env)
    if not folder:
        return None
    path = folder / f"rank{world.rank}.pt"
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: torch.save(weights, tmp))
    return path
