"""Traffic routing for one endpoint: production, a sticky canary, mirrored shadows.

The router is pure: given the active policy and a request's entity key it says which
version answers and which shadows get a copy. The canary choice hashes the entity key
(never a random draw), so one customer always sees the same version while the canary
runs; raising the share only moves more customers over, never back and forth.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from stead.core.errors import UsageError


@dataclass(frozen=True)
class ShadowTarget:
    version: str
    share: float = 1.0  # fraction of requests mirrored, 0..1

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "share": self.share}


@dataclass(frozen=True)
class TrafficPolicy:
    """What an endpoint serves. Shares are fractions in [0, 1]."""

    production: str
    canary: str | None = None
    canary_share: float = 0.0
    shadows: tuple[ShadowTarget, ...] = field(default_factory=tuple)
    fallback: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.canary_share <= 1.0:
            raise UsageError(f"canary share {self.canary_share:g} must be between 0 and 1 (0–100%)")
        if self.canary is None and self.canary_share:
            raise UsageError("a canary share needs a canary version")
        for shadow in self.shadows:
            if not 0.0 < shadow.share <= 1.0:
                raise UsageError(
                    f"shadow share {shadow.share:g} for {shadow.version} must be in (0, 1]"
                )

    @property
    def versions(self) -> list[str]:
        """Every version this policy needs loaded (fallback last)."""
        found = [self.production]
        if self.canary:
            found.append(self.canary)
        found.extend(s.version for s in self.shadows)
        if self.fallback:
            found.append(self.fallback)
        return list(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        return {
            "production": self.production,
            "canary": self.canary,
            "canary_share": self.canary_share,
            "shadows": [s.to_dict() for s in self.shadows],
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrafficPolicy:
        return cls(
            production=data["production"],
            canary=data.get("canary"),
            canary_share=float(data.get("canary_share", 0.0)),
            shadows=tuple(ShadowTarget(**s) for s in data.get("shadows", [])),
            fallback=data.get("fallback"),
        )


@dataclass(frozen=True)
class Route:
    version: str
    role: str  # "production" or "canary"
    shadows: tuple[str, ...]


def bucket(*parts: str) -> float:
    """A stable number in [0, 1) for the given strings (the same on every replica)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Router:
    """Chooses versions for requests to one endpoint under one policy.

    Args:
        endpoint: the endpoint name (salts the hash so endpoints split independently).
        policy: the active traffic policy.
    """

    def __init__(self, endpoint: str, policy: TrafficPolicy) -> None:
        self.endpoint = endpoint
        self.policy = policy

    def route(self, *, entity_key: str | None, request_id: str) -> Route:
        """The version that answers, and the shadows that get a copy.

        Without an entity key the request id stands in, so anonymous traffic still
        splits at the configured share (just not sticky per customer).
        """
        policy = self.policy
        key = entity_key if entity_key is not None else request_id
        version, role = policy.production, "production"
        # Salted by the canary version: a new canary draws a fresh sample of customers.
        if policy.canary and bucket(self.endpoint, policy.canary, key) < policy.canary_share:
            version, role = policy.canary, "canary"
        shadows = tuple(
            s.version
            for s in policy.shadows
            if s.version != version
            and (s.share >= 1.0 or bucket(self.endpoint, s.version, request_id) < s.share)
        )
        return Route(version=version, role=role, shadows=shadows)
