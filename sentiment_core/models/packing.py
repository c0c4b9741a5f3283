"""The packed layout of a batch: time step by time step, only the sentences still running.

A batch is sorted by falling length; at step t the first `batch_sizes[t]` sentences are still
running. Laying the batch out this way (torch's PackedSequence) means padding is never
computed and the active batch shrinks as sentences end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PackedLayout:
    """Where each (time step, sentence) of a length-sorted batch sits in a packed tensor.

    Step t's rows of the packed data are `offsets[t] : offsets[t] + batch_sizes[t]`.
    """

    order: torch.Tensor          # (B,) sorted position -> original index
    inverse: torch.Tensor        # (B,) original index -> sorted position
    lengths: torch.Tensor        # (B,) sorted lengths, falling
    batch_sizes: list[int]       # (T,) running sentences per step
    offsets: list[int]           # (T,) first packed row of each step
    time_of: torch.Tensor        # (N,) time step of each packed row
    row_of: torch.Tensor         # (N,) sorted sentence of each packed row
    sentence_of: torch.Tensor    # (N,) original batch index of each packed row (order[row_of])
    reverse_index: torch.Tensor  # (N,) packed row of the same sentence read right to left
    last_index: torch.Tensor     # (B,) packed row of each sorted sentence's last step

    @property
    def steps(self) -> int:
        return len(self.batch_sizes)


def packed_layout(lengths: torch.Tensor, device=None) -> PackedLayout:
    # Index arithmetic on a few hundred integers: numpy does it in microseconds, where a dozen
    # small torch operations cost more than the recurrent step of a small model.
    if lengths.dim() != 1 or lengths.numel() == 0:
        raise ValueError("lengths must be a non-empty 1-D tensor, one length per sentence")
    lengths = lengths.detach().to("cpu", torch.long).numpy()
    if int(lengths.min()) < 1:
        raise ValueError("every sentence needs at least one token (a length of 0 was given)")
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]
    count, steps = len(lengths), int(sorted_lengths[0])
    ended_by = np.cumsum(np.bincount(sorted_lengths, minlength=steps + 1))[:steps]  # lengths <= t
    batch_sizes = count - ended_by                                                  # (T,) lengths > t
    offsets = np.cumsum(batch_sizes) - batch_sizes
    time_of = np.repeat(np.arange(steps), batch_sizes)                              # (N,)
    row_of = np.arange(len(time_of)) - offsets[time_of]                             # (N,)
    reverse_index = offsets[sorted_lengths[row_of] - 1 - time_of] + row_of
    last_index = offsets[sorted_lengths - 1] + np.arange(count)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(count)

    def tensor(values: np.ndarray) -> torch.Tensor:
        result = torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64))
        return result if device is None or str(device) == "cpu" else result.to(device)

    return PackedLayout(tensor(order), tensor(inverse), tensor(sorted_lengths), batch_sizes.tolist(),
                        offsets.tolist(), tensor(time_of), tensor(row_of), tensor(order[row_of]),
                        tensor(reverse_index), tensor(last_index))
