"""The packed recurrences' loops with torch operations: the path when the compiled one is not used.

Each function has the name and arguments of its checked C twin (native.Kernels, recurrences.c)
and fills the same buffers or computes the same gradient. Conventions: packed tensors (N, ...) hold step t's rows at
offsets[t] : offsets[t] + sizes[t]; `cut` > 0 stops the gradient from crossing into step t-1
when t % cut == 0 (truncated BPTT). Everything that does not depend on the gradient carried
back through time (derivatives of the activations) is computed for all steps at once.
"""
from __future__ import annotations

import torch


def offsets_of(sizes: tuple[int, ...]) -> list[int]:
    """First packed row of each step."""
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += size
    return offsets


def previous_states(h: torch.Tensor, sizes, offsets) -> torch.Tensor:
    """(N, H) packed h_{t-1} of every row: zeros at t = 0, else the same sentence's previous row."""
    rows = [h.new_zeros(sizes[0], h.shape[1])]
    rows += [h[offsets[t - 1]:offsets[t - 1] + sizes[t]] for t in range(1, len(sizes))]
    return torch.cat(rows)


def carries(t: int, cut: int) -> bool:
    """Whether the gradient flows from step t into step t-1."""
    return t > 0 and not (cut and t % cut == 0)


def rnn_forward(out, w_hh, sizes):
    """out (N, H) holds W_xh x_t + biases and becomes h_t = tanh(out_t + h_{t-1} W_hh^T)."""
    w_t, prev = w_hh.t().contiguous(), None  # (H, H): contiguous is faster
    for start, size in zip(offsets_of(sizes), sizes):
        h_t = out[start:start + size]
        if prev is not None:
            h_t.addmm_(prev[:size], w_t)
        prev = h_t.tanh_()


def rnn_backward(dz, out, w_hh, sizes, cut):
    """dz (N, H) holds dLoss/dh_t and becomes dLoss/d(pre-activation)."""
    offsets = offsets_of(sizes)
    slope = 1.0 - out * out                  # (N, H) tanh'
    for t in range(len(sizes) - 1, -1, -1):
        start, size = offsets[t], sizes[t]
        dz_t = dz[start:start + size].mul_(slope[start:start + size])
        if carries(t, cut):
            prev = offsets[t - 1]
            dz[prev:prev + size].addmm_(dz_t, w_hh)  # into dLoss/dh_{t-1}


def lstm_forward(gates, cells, tanh_cells, out, w_hh, sizes):
    """gates (N, 4H) pre-activations become activated i, f, g, o; fills c_t, tanh(c_t), h_t (N, H)."""
    H = w_hh.shape[1]
    offsets, w_t = offsets_of(sizes), w_hh.t().contiguous()  # (H, 4H): contiguous is faster
    for t, (start, size) in enumerate(zip(offsets, sizes)):
        rows = slice(start, start + size)
        z = gates[rows]
        if t > 0:
            prev = offsets[t - 1]
            z.addmm_(out[prev:prev + size], w_t)
        z[:, :2 * H].sigmoid_()
        z[:, 2 * H:3 * H].tanh_()
        z[:, 3 * H:].sigmoid_()
        c = cells[rows]
        if t == 0:
            torch.mul(z[:, :H], z[:, 2 * H:3 * H], out=c)
        else:
            torch.mul(z[:, H:2 * H], cells[prev:prev + size], out=c).addcmul_(z[:, :H], z[:, 2 * H:3 * H])
        torch.mul(z[:, 3 * H:], torch.tanh(c, out=tanh_cells[rows]), out=out[rows])


def lstm_backward(dh, gates, cells, tanh_cells, w_hh, sizes, cut):
    """dLoss/d(pre-activations) (N, 4H); dh (N, H) holds dLoss/dh_t and gathers the carry."""
    H, offsets = w_hh.shape[1], offsets_of(sizes)
    i, f, g, o = gates.split(H, 1)
    c_prev = previous_states(cells, sizes, offsets)      # (N, H) c_{t-1}, 0 at t = 0
    # d(pre-activation of input, forget, cell gates) per unit of dLoss/dc_t, side by side as in dz,
    per_dc = torch.cat([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], 1).view(-1, 3, H)
    # d(pre-activation of output gate) and dc_t per unit of dLoss/dh_t.
    per_dh = tanh_cells * o * (1.0 - o)                   # (N, H)
    dh_to_dc = o * (1.0 - tanh_cells * tanh_cells)        # (N, H)
    dz = torch.empty_like(gates)                          # (N, 4H) dLoss/d(pre-activations)
    dc_carry = None                                       # (b_{t+1}, H) dLoss/dc_t from step t+1
    for t in range(len(sizes) - 1, -1, -1):
        start, size = offsets[t], sizes[t]
        rows = slice(start, start + size)
        dh_t, dz_t = dh[rows], dz[rows]
        dc = dh_t * dh_to_dc[rows]                        # (b, H) dLoss/dc_t
        if dc_carry is not None:
            dc[:dc_carry.shape[0]] += dc_carry
        torch.mul(dc.unsqueeze(1), per_dc[rows], out=dz_t[:, :3 * H].view(size, 3, H))
        torch.mul(dh_t, per_dh[rows], out=dz_t[:, 3 * H:])
        if carries(t, cut):
            prev = offsets[t - 1]
            dc_carry = dc * f[rows]
            dh[prev:prev + size].addmm_(dz_t, w_hh)
        else:
            dc_carry = None
    return dz


def gru_forward(xp, w_hh, b_hn, sizes, rz, hn, new, out):
    """Fills rz (N, 2H), hn = W_hn h_{t-1} + b_hn, new = n_t and out = h_t (N, H) from xp (N, 3H)."""
    H = w_hh.shape[1]
    offsets, w_t = offsets_of(sizes), w_hh.t().contiguous()  # (H, 3H): contiguous is faster
    h_prev = xp.new_zeros(sizes[0], H)
    for start, size in zip(offsets, sizes):
        rows = slice(start, start + size)
        h_prev = h_prev[:size]
        hp = torch.mm(h_prev, w_t)           # (b, 3H)
        torch.add(xp[rows, :2 * H], hp[:, :2 * H], out=rz[rows]).sigmoid_()
        torch.add(hp[:, 2 * H:], b_hn, out=hn[rows])
        torch.addcmul(xp[rows, 2 * H:], rz[rows, :H], hn[rows], out=new[rows]).tanh_()
        torch.addcmul(new[rows], rz[rows, H:], h_prev - new[rows], out=out[rows])
        h_prev = out[rows]


def gru_backward(dh, rz, hn, new, h_prev, w_hh, sizes, cut, dx, dhp):
    """Fills dx = dLoss/d(xp) and dhp = dLoss/d(W_hh h_{t-1} + (0, 0, b_hn)), both (N, 3H)."""
    H, offsets = w_hh.shape[1], offsets_of(sizes)
    r, z = rz[:, :H], rz[:, H:]
    # dLoss/d(pre-activation) per unit of dLoss/dh_t, for z and n side by side (the layout of dx).
    per_dh = torch.cat([(h_prev - new) * z * (1.0 - z),   # update gate
                        (1.0 - z) * (1.0 - new * new)], 1).view(-1, 2, H)  # new gate
    reset_slope = hn * r * (1.0 - r)                      # (N, H) d(pre r) per d(pre n)
    for t in range(len(sizes) - 1, -1, -1):
        start, size = offsets[t], sizes[t]
        rows = slice(start, start + size)
        dh_t, dx_t, dhp_t = dh[rows], dx[rows], dhp[rows]
        torch.mul(dh_t.unsqueeze(1), per_dh[rows], out=dx_t[:, H:].view(size, 2, H))
        torch.mul(dx_t[:, 2 * H:], reset_slope[rows], out=dx_t[:, :H])
        dhp_t[:, :2 * H] = dx_t[:, :2 * H]
        torch.mul(dx_t[:, 2 * H:], r[rows], out=dhp_t[:, 2 * H:])
        if carries(t, cut):
            prev = offsets[t - 1]
            dh[prev:prev + size].addcmul_(dh_t, z[rows]).addmm_(dhp_t, w_hh)
