"""Fault injection: the failures of A7, on purpose, reproducibly.

Each API request draws one number from a seeded generator and, by the
configured rates, gets no fault or one of:

``429``        rate limited, with ``Retry-After``; nothing is done
``429-bare``   rate limited, without ``Retry-After``; nothing is done
``500`` ``502`` ``503``  a server error; nothing is done
``504``        the request IS carried out and committed, then answered 504
``reset``      the request IS carried out and committed, then the connection is reset
``slow``       the request is carried out, and answered only after ``slow_ms``

The same seed and the same order of requests give the same faults, so a
failing test can be replayed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "429-bare", "500", "502", "503", "504", "reset", "slow")
BEFORE = frozenset({"429", "429-bare", "500", "502", "503"})  # nothing is carried out
AFTER = frozenset({"504", "reset", "slow"})  # carried out, then the answer goes wrong


class FaultConfigError(ValueError):
    pass


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    latency_ms: float = 0.0
    retry_after: float = 1.0
    slow_ms: float = 35_000.0
    methods: frozenset[str] = frozenset()  # empty: every method
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    drawn: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()
        self._rng = random.Random(self.seed)

    def validate(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in KINDS:
                raise FaultConfigError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
            if not 0 <= rate <= 1:
                raise FaultConfigError(f"fault rate of {kind} must be between 0 and 1, not {rate}")
        if sum(self.rates.values()) > 1:
            raise FaultConfigError("fault rates add up to more than 1")
        if self.latency_ms < 0 or self.retry_after < 0 or self.slow_ms < 0:
            raise FaultConfigError("latency, retry_after and slow_ms cannot be negative")

    def draw(self, method: str) -> str | None:
        """The fault for the next request, or None."""
        if not self.rates:
            return None
        roll = self._rng.random()  # drawn for every request, so the sequence stays stable
        if self.methods and method not in self.methods:
            return None
        total = 0.0
        for kind in KINDS:
            total += self.rates.get(kind, 0.0)
            if roll < total:
                self.drawn[kind] = self.drawn.get(kind, 0) + 1
                return kind
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
            "slow_ms": self.slow_ms,
            "methods": sorted(self.methods),
            "drawn": dict(self.drawn),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        known = {"rates", "seed", "latency_ms", "retry_after", "slow_ms", "methods"}
        unknown = set(data) - known
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        try:
            return cls(
                rates={str(k): float(v) for k, v in (data.get("rates") or {}).items()},
                seed=int(data.get("seed", 0)),
                latency_ms=float(data.get("latency_ms", 0)),
                retry_after=float(data.get("retry_after", 1)),
                slow_ms=float(data.get("slow_ms", 35_000)),
                methods=frozenset(str(m).upper() for m in data.get("methods") or ()),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FaultConfigError):
                raise
            raise FaultConfigError(f"bad fault settings: {exc}") from exc


def parse_fault_option(text: str) -> tuple[str, float]:
    """``KIND=RATE`` from the command line."""
    kind, sep, rate = text.partition("=")
    if not sep:
        raise FaultConfigError(f"--fault needs KIND=RATE, e.g. 429=0.1; got {text!r}")
    try:
        return kind.strip(), float(rate)
    except ValueError as exc:
        raise FaultConfigError(f"fault rate must be a number: {text!r}") from exc
