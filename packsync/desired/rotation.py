"""The schedule of a rotation experiment: which arm is attached when.

Time is cut into blocks (:data:`BLOCK_HOURS`, counted from the Unix epoch, so every machine
agrees without keeping state) and blocks into cycles of one block per arm; each cycle gives
the arms its blocks in an order drawn from a seed of the pack's slug and the experiment's name.
So every arm gets the same time, no arm is favoured by a time of day or week for long, and
the order cannot be chosen (or guessed from the last cycle).
"""

from __future__ import annotations

import hashlib
import math
import random

BLOCK_HOURS = 24


def rotation_seed(slug: str, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{slug}/{name}".encode()).digest()[:8], "big")


def arm_of_block(seed: int, arms: int, block: int) -> int:
    """The index (0: the control) of the arm attached during ``block``."""
    cycle, place = divmod(block, arms)
    order = list(range(arms))
    random.Random(seed ^ (cycle * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF)).shuffle(order)
    return order[place]


def block_of(moment: float, block_hours: float = BLOCK_HOURS) -> int:
    return math.floor(moment / (block_hours * 3600))


def arm_at(seed: int, arms: int, moment: float, block_hours: float = BLOCK_HOURS) -> int:
    """The arm attached at ``moment`` (seconds since the epoch)."""
    return arm_of_block(seed, arms, block_of(moment, block_hours))


def block_end(moment: float, block_hours: float = BLOCK_HOURS) -> float:
    """When the block that holds ``moment`` ends."""
    return (block_of(moment, block_hours) + 1) * block_hours * 3600


def time_shares(seed: int, arms: int, start: float, end: float, block_hours: float = BLOCK_HOURS) -> list[float]:
    """The share of ``[start, end)`` each arm was scheduled to be attached."""
    seconds = [0.0] * arms
    moment = start
    while moment < end:
        until = min(block_end(moment, block_hours), end)
        seconds[arm_at(seed, arms, moment, block_hours)] += until - moment
        moment = until
    total = sum(seconds)
    return [s / total for s in seconds] if total > 0 else [1.0 / arms] * arms
