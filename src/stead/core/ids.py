"""Identifiers: time-ordered, random, URL-safe."""

from __future__ import annotations

import os
import time


def new_id(prefix: str = "") -> str:
    """A 26-character id whose first 12 hex digits are milliseconds since the epoch.

    Time-ordered ids sort in creation order in listings and logs, and the 56 random bits
    keep ids made in the same millisecond (or on other replicas) distinct.
    """
    millis = time.time_ns() // 1_000_000
    return f"{prefix}{millis:012x}{os.urandom(7).hex()}"
