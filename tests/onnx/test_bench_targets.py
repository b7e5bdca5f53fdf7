"""`make bench`'s ratios: the emitted module's fastest eager form against the naive chain,
torchvision's fastest form and the variant made to compute Keras' ops; the compiled forms
apart (pipeline/bench/__init__.py:targets)."""

from __future__ import annotations

from pipeline import bench


def _rows(times: dict[str, float]) -> list[dict]:
    return [{"runner": r, "batch": b, "median_ms": t} for r, t in times.items() for b in (1, 8)]


def test_the_ratios_take_each_sides_fastest_form():
    times = {
        bench.BASELINE: 10.0,
        "emitted, optimize_for_inference(channels_last=True)": 8.0,
        bench.COMPILED[0]: 4.0,  # compiled: not an eager form, compared on its own
        bench.NAIVE: 16.0,
        "torchvision mobilenet_v2 (NCHW)": 9.0,
        "torchvision mobilenet_v2, fx fuse, channels_last": 7.0,
        "variant: torchvision mobilenet_v2 with Keras' pads, fx fuse, channels_last": 8.5,
    }
    (first, _) = bench.targets(_rows(times))
    assert first["fastest_emitted"] == "emitted, optimize_for_inference(channels_last=True)"
    assert first["fastest_torchvision"] == "torchvision mobilenet_v2, fx fuse, channels_last"
    assert first["fastest_vs_torchvision"] == 8.0 / 7.0
    assert first["nchw_vs_torchvision"] == 10.0 / 7.0
    assert first["fastest_vs_naive"] == 0.5
    assert first["fastest_vs_torchvision_as_keras"] == 8.0 / 8.5
    assert first["compiled_vs_torchvision"] == 4.0 / 7.0


def test_without_a_twin_there_is_no_torchvision_ratio():
    (first, _) = bench.targets(_rows({bench.BASELINE: 1.0, bench.NAIVE: 2.0}))
    assert "fastest_torchvision" not in first and first["fastest_vs_naive"] == 0.5
