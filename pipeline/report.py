"""What a stage returns and writes as JSON: its artifacts, its numbers, its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.compare import Comparison


@dataclass(frozen=True)
class StageReport:
    stage: str
    artifacts: dict[str, str]  # role -> path
    seconds: float
    comparisons: tuple[Comparison, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def worst(self) -> Comparison | None:
        return max(self.comparisons, key=lambda c: c.max_rel, default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "artifacts": self.artifacts,
            "comparisons": [c.to_json() for c in self.comparisons],
            **self.details,
        }
