"""How every benchmark runner measures, so that all frameworks are treated alike.

Same inputs (read from the model's ``reference.npz`` in every process), same thread count, warm-up
then the median of repeated single calls, denormals flushed to zero everywhere (random-init
nets produce denormal floats that slow torch down up to 100x otherwise).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline import artifacts
from pipeline import reference as ref

THREADS = 2  # this machine's cores; every runner pins its framework to it
BATCH_SIZES = (1, 8)
WARMUP = 5
MIN_REPEAT, MAX_REPEAT = 10, 200
TARGET_SECONDS = 2.0  # per measurement, after warm-up


def inputs(out_dir: Path, batch: int) -> np.ndarray:
    """The benchmark input in Keras layout (NHWC for images, token ids for a text model):
    the first sample of the first reference input, repeated ``batch`` times. Every runner
    reads the same file, so every framework gets the same numbers, at the size the model
    was checked at (open dims included)."""
    data = ref.load(Path(out_dir) / artifacts.REFERENCE)
    sample = next(iter(data.cases.values())).inputs[data.input_names[0]][:1]
    return np.repeat(sample, batch, axis=0)


ROUNDS = 10  # interleaved rounds: slow drift (clock, cache, the other core) hits all alike


def measure(call: Callable[[], object]) -> dict[str, float]:
    """Median (and 10th/90th percentile) wall time of ``call`` in milliseconds."""
    return measure_interleaved({"call": call})["call"]


def measure_interleaved(calls: dict[str, Callable[[], object]]) -> dict[str, dict[str, float]]:
    """Time several callables in interleaved rounds, so that none is favoured by when it ran."""
    per_round = {}
    for label, call in calls.items():
        for _ in range(WARMUP):
            call()
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        repeat = int(min(MAX_REPEAT, max(MIN_REPEAT, TARGET_SECONDS / max(first, 1e-6))))
        per_round[label] = max(1, repeat // ROUNDS)
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(ROUNDS):
        for label, call in calls.items():
            for _ in range(per_round[label]):
                start = time.perf_counter()
                call()
                samples[label].append((time.perf_counter() - start) * 1e3)
    return {label: _stats(values) for label, values in samples.items()}


def _stats(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_ms": statistics.median(samples),
        "p10_ms": samples[len(samples) // 10],
        "p90_ms": samples[(len(samples) * 9) // 10],
        "repeat": len(samples),
    }
