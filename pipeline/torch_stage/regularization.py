"""``model.py``'s ``regularization_loss()``: Keras' weight regularizers (stage 1 lists them,
``pipeline.export.regularizers``) as plain torch on the module's parameters, and the check
that it gives Keras' penalty.

A term's parameter is found among the parameters of its Keras layer's modules by its values,
sorted (the same values Keras holds, transposed or re-ordered). A term with no such
parameter, or with two, and a regularizer with no formula here make the method raise
``NotImplementedError`` naming them: never a wrong penalty.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import fx

from pipeline.metadata import values_digest

REGULARIZATION_TOL = 1e-5  # relative to Keras' penalty (float32 sums of many terms)

METHOD = '''    def regularization_loss(self) -> torch.Tensor:
        """Keras' weight regularizers (kernel_regularizer, ... of its layers: its
        model.losses): add this to the training loss, as Keras does."""
{body}

'''


def _number(value: float) -> str:
    """The shortest decimal that is ``value`` in float32 (Keras' L1 keeps 0.01 as float32)."""
    return str(np.float32(value))


def _parameters(gm: fx.GraphModule, info, layer: str) -> dict[str, str]:
    """``module.param`` -> digest, for the parameters of ``layer``'s modules."""
    found = {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target in info:
            if info[node.target].layer.rsplit(" (", 1)[0] == layer:
                for name, param in gm.get_submodule(node.target).named_parameters():
                    found[f"{node.target}.{name}"] = values_digest(param.detach().numpy())
    return found


def method(gm: fx.GraphModule, info, spec: dict | None) -> str:
    """The method's text ("" for a model without regularizers)."""
    if spec is None:
        return ""
    terms, problems = [], list(spec["unsupported"])
    for term in spec["terms"]:
        params = _parameters(gm, info, term["layer"])
        matches = [name for name, digest in params.items() if digest == term["digest"]]
        where = f"layer '{term['layer']}' weight '{term['weight']}'"
        if len(matches) != 1:
            count = f"{len(matches)} parameters" if matches else "no parameter"
            verb = "hold" if matches else "holds"
            problems.append(f"{where}: {count} of its modules {verb} its values")
            continue
        if "bias_ih" in matches[0]:
            problems.append(f"{where}: torch splits the bias in two (bias_ih + bias_hh)")
            continue
        if term["l1"]:
            terms.append(f"{_number(term['l1'])} * self.{matches[0]}.abs().sum()")
        if term["l2"]:
            terms.append(f"{_number(term['l2'])} * self.{matches[0]}.square().sum()")
    if problems:
        text = "no torch form for: " + "; ".join(problems)
        body = f"        raise NotImplementedError({text!r})"
    elif terms:
        body = (
            "        return (\n"
            + "\n".join(f"            {'+ ' if i else ''}{t}" for i, t in enumerate(terms))
            + "\n        )"
        )
    else:
        body = "        return torch.zeros(())"
    return METHOD.format(body=body)


def check(model: torch.nn.Module, spec: dict | None) -> dict | None:
    """Keras' penalty, the module's, and whether they agree (None: no regularizers). A
    method that raises ``NotImplementedError`` computes nothing wrong: it passes, and
    ``missing`` says what it names."""
    if spec is None:
        return None
    keras_loss = spec["keras_loss"]
    try:
        with torch.no_grad():
            value = float(model.regularization_loss())
    except NotImplementedError as exc:
        return {"keras": keras_loss, "torch": None, "passed": True, "missing": str(exc)}
    passed = abs(value - keras_loss) <= REGULARIZATION_TOL * max(abs(keras_loss), 1e-30)
    return {"keras": keras_loss, "torch": value, "passed": passed}
