"""Keras' masked recurrent layers in ``model.py``: ``keras_masked_rnn``, written into the
file when a layer uses it (``definitions``) and run from the very same text
(``templates``), like the BatchNorm helpers. It computes what stage 1's masked form
(``pipeline.forms.recurrent_masked``) computes, with the layer's own ``nn.LSTM``/``nn.GRU``/
``nn.RNN``: each row's unmasked steps are moved in order to where the direction starts, the
RNN runs over them, and each step reads the output of the last unmasked step its direction
has seen. Exact for any mask (trailing padding or holes), and torch.export-able (a fixed
number of steps, no data-dependent shapes, no packed sequences)."""

from __future__ import annotations

HELPER = '''

def keras_masked_rnn(
    rnn: nn.RNNBase, x: torch.Tensor, mask: torch.Tensor, zeros: bool = False
) -> torch.Tensor:
    """The batch-first ``rnn`` over ``x`` (B, T, F) as Keras runs a recurrent layer under
    ``mask`` (B, T): a masked step leaves the state as it was. Each direction runs over each
    row's unmasked steps, moved in order to the front (to the back for the reverse direction,
    which starts at the end); step t then reads the output of the last unmasked step that
    direction has seen, zeros if none (and at masked steps with ``zeros``: Keras'
    zero_output_for_mask). Returns (B, T, directions * hidden), in input order."""
    hidden, steps = rnn.hidden_size, x.shape[1]
    seen = mask.long().cumsum(1)  # unmasked steps in [0, t]
    after = seen[:, -1:] - seen + mask.long()  # unmasked steps in [t, T)
    directions = [(~mask, seen - 1, seen > 0)]  # forward: unmasked steps first
    if rnn.bidirectional:  # reverse: unmasked steps last (the RNN runs both; one is kept)
        directions.append((mask, steps - after, after > 0))
    position = torch.arange(steps, device=x.device)
    outputs = []
    for d, (moved_last, read, valid) in enumerate(directions):
        order = (moved_last.long() * steps + position).argsort(dim=1)  # keys differ: stable
        y = rnn(x.gather(1, order.unsqueeze(-1).expand_as(x)))[0]
        y = y[..., d * hidden : (d + 1) * hidden]
        y = y.gather(1, torch.where(valid, read, 0).unsqueeze(-1).expand(-1, -1, hidden))
        keep = valid & mask if zeros else valid
        outputs.append(torch.where(keep.unsqueeze(-1), y, 0.0))
    return torch.cat(outputs, dim=-1)
'''

NAME = "keras_masked_rnn"


def definitions(forward: list[str]) -> str:
    """The helper's text if ``forward``'s lines call it, else ""."""
    return HELPER if any(f"{NAME}(" in line for line in forward) else ""
