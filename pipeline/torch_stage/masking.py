"""Keras' masks in ``model.py``: two helpers, each written into the file when a layer uses it
(``definitions``) and run from the very same text (``templates``), like the BatchNorm ones.

- ``keras_masked_rnn`` computes what stage 1's masked recurrent form
  (``pipeline.forms.recurrent_masked``) computes, with the layer's own ``nn.LSTM``/``nn.GRU``/
  ``nn.RNN``: each row's unmasked steps are moved in order to where the direction starts,
  the RNN runs over them, and each step reads the output of the last unmasked step its
  direction has seen. Exact for any mask (trailing padding or holes), and torch.export-able
  (a fixed number of steps, no data-dependent shapes, no packed sequences).
- ``keras_masked_attention`` computes ``nn.MultiheadAttention``'s attention with its own
  parameters under Keras' combined attention mask (``pipeline.forms.attention``): masked
  scores replaced, not added to (a query allowed no key gives Keras' output, never NaN)."""

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

ATTENTION = '''

def keras_masked_attention(
    mha: nn.MultiheadAttention,
    query: torch.Tensor,
    value: torch.Tensor,
    key: torch.Tensor,
    allowed: torch.Tensor,
    zeros: bool = False,
) -> torch.Tensor:
    """The batch-first ``mha``, with its own weights, as Keras' MultiHeadAttention under
    its attention mask ``allowed`` (B, T or 1, S; True where query t may attend to key s):
    the other keys' scores are replaced by -1e9 before the softmax, so a query allowed no key
    weighs all keys alike, as Keras' dot_product_attention; with ``zeros`` (a layer with
    attention dropout: Keras' masked softmax) their weights are then zeroed, and such a query
    attends to nothing."""
    if mha._qkv_same_embed_dim:
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)

    def heads(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, w, b).unflatten(-1, (mha.num_heads, -1)).transpose(1, 2)

    q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)  # (B, heads, T, S)
    allowed = allowed.unsqueeze(1)
    weights = torch.where(allowed, scores, -1e9).softmax(dim=-1)
    if zeros:
        weights = torch.where(allowed, weights, 0.0)
    weights = nn.functional.dropout(weights, mha.dropout, mha.training)  # as Keras, training
    return mha.out_proj((weights @ v).transpose(1, 2).flatten(2))
'''

NAME = "keras_masked_rnn"
ATTENTION_NAME = "keras_masked_attention"
HELPERS = {NAME: HELPER, ATTENTION_NAME: ATTENTION}


def definitions(forward: list[str]) -> str:
    """The text of each helper ``forward``'s lines call ("" if none)."""
    used = [text for name, text in HELPERS.items() if any(f"{name}(" in ln for ln in forward)]
    return "".join(used)
