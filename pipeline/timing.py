"""How every benchmark runner measures, so that all frameworks are treated alike.

Same inputs (seeded, generated identically in every process), same thread count, warm-up
then the median of repeated single calls, denormals flushed to zero everywhere (random-init
nets produce denormal floats that slow torch down up to 100x otherwise).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

THREADS = 2  # this machine's cores; every runner pins its framework to it
BATCH_SIZES = (1, 8)
WARMUP = 5
MIN_REPEAT, MAX_REPEAT = 10, 200
TARGET_SECONDS = 2.0  # per measurement, after warm-up
INPUT_SEED = 0


def inputs(shape_without_batch: tuple[int, ...], batch: int) -> np.ndarray:
    """The benchmark input in Keras layout (NHWC for images)."""
    rng = np.random.default_rng(INPUT_SEED)
    return rng.standard_normal((batch, *shape_without_batch)).astype(np.float32)


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
