"""The emitted module compiled ahead of its calls, by the two recipes docs/performance.md
documents (TorchInductor, which writes C++ kernels for this CPU):

    fast = torch.compile(load().optimize_for_inference(), dynamic=False)

    program = torch.export.export(load().optimize_for_inference(), (x,), dynamic_shapes=...)
    package = torch._inductor.aoti_compile_and_package(program)   # AOTInductor: a .pt2
    fast = torch._inductor.aoti_load_package(package)              # ... loaded anywhere

Before either is timed it is held to the Keras reference on every case of ``reference.npz``,
like every form the check holds (``verify.on_cases``; ``torch.compile`` compiles again for a
case of another size, ``dynamic=False`` keeps each shape's kernels static; the AOTInductor
package has a dynamic batch, as ``model.pt2``); a compiled module that does not match Keras
stops the benchmark."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from pipeline import reference as ref
from pipeline.errors import MismatchError
from pipeline.torch_stage import deploy
from pipeline.torch_stage.verify import export_example, on_cases

LABEL = "emitted, torch.compile(optimize_for_inference())"
AOTI_LABEL = "emitted, AOTInductor package of optimize_for_inference()"


class _Named(torch.nn.Module):
    """An AOTInductor runner (exported with keyword inputs, as model.pt2) called as model.py
    is: by position or by the inputs' names, each copied into the default strides first.
    The package's kernels take the strides they were compiled for without checking them,
    even those of a size-1 axis, which torch itself ignores: LeNet4's one-channel input
    [1, 1, 28, 28] made from an NHWC array has strides (784, 1, 28, 1), is contiguous to
    torch (``x.contiguous()`` returns it as it is), and the package returned other numbers
    for it than the module (scaled error 0.99; this check caught it)."""

    def __init__(self, runner, names: list[str]) -> None:
        super().__init__()
        self.runner, self.names = runner, names

    def forward(self, *args, **inputs):
        inputs = {**dict(zip(self.names, args, strict=False)), **inputs}
        return self.runner(**{name: _default_strides(x) for name, x in inputs.items()})


def _default_strides(x: torch.Tensor) -> torch.Tensor:
    """``x``, or a copy of it in the default strides if it has others (no copy is timed for
    the benchmark's own inputs, which have them)."""
    if x.stride() == torch.empty(x.shape, device="meta").stride():
        return x
    return x.clone(memory_format=torch.contiguous_format)


def _checked(fast, reference: ref.Reference, perms, out_perms, artifact: str) -> list[dict]:
    comparisons, _ = on_cases(fast, reference, perms, out_perms, artifact)
    failed = [c.describe() for c in comparisons if not c.passed]
    if failed:
        raise MismatchError(f"{artifact} of model.py does not match Keras: " + "; ".join(failed))
    return [c.to_json() for c in comparisons]


def compiled(load, reference: ref.Reference, perms, out_perms, stage2) -> tuple[list, dict]:
    """[(label, compiled module)], {its comparisons with Keras and the seconds it took to
    compile and check each}; ``load()`` gives a fresh emitted module."""
    runners, facts = [], {}
    start = time.perf_counter()
    fast = torch.compile(load().optimize_for_inference(), dynamic=False)
    facts["torch.compile"] = _checked(fast, reference, perms, out_perms, "torch.compile")
    facts["torch.compile seconds"] = time.perf_counter() - start
    runners.append((LABEL, fast))
    start = time.perf_counter()
    module = load().optimize_for_inference()
    example = export_example(reference, perms)
    program, error = deploy.export_program(module, example, deploy.open_axes(stage2))
    if error is not None:
        facts["aoti"] = f"torch.export fails: {error}"
        return runners, facts
    with tempfile.TemporaryDirectory() as tmp:
        package = torch._inductor.aoti_compile_and_package(
            program, package_path=str(Path(tmp) / "model_aoti.pt2")
        )
        runner = _Named(torch._inductor.aoti_load_package(package), list(example))
    facts["aoti"] = _checked(runner, reference, perms, out_perms, "aoti")
    facts["aoti seconds"] = time.perf_counter() - start
    runners.append((AOTI_LABEL, runner))
    return runners, facts
