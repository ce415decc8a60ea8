from __future__ import annotations

import pytest

from stead.core.errors import UsageError
from stead.serving.deploy.router import Router, ShadowTarget, TrafficPolicy


def test_without_a_canary_everything_goes_to_production() -> None:
    router = Router("credit", TrafficPolicy(production="credit@1"))
    routes = {router.route(entity_key=str(i), request_id=f"r{i}").version for i in range(1000)}
    assert routes == {"credit@1"}


def test_canary_is_sticky_per_entity() -> None:
    router = Router("credit", TrafficPolicy(production="m@1", canary="m@2", canary_share=0.3))
    first = {
        k: router.route(entity_key=k, request_id=f"a-{k}").version for k in map(str, range(500))
    }
    again = {
        k: router.route(entity_key=k, request_id=f"b-{k}").version for k in map(str, range(500))
    }
    assert first == again
    # ... and on another replica (a fresh router from the same policy).
    other = Router("credit", TrafficPolicy(production="m@1", canary="m@2", canary_share=0.3))
    assert {k: other.route(entity_key=k, request_id="x").version for k in first} == first


def test_realised_canary_share_matches_the_configured_share() -> None:
    router = Router("credit", TrafficPolicy(production="m@1", canary="m@2", canary_share=0.1))
    n = 20_000
    share = (
        sum(router.route(entity_key=f"cust-{i}", request_id="r").role == "canary" for i in range(n))
        / n
    )
    # Binomial standard error at n=20,000 is 0.0021; allow 4 of them.
    assert abs(share - 0.1) < 4 * (0.1 * 0.9 / n) ** 0.5


def test_raising_the_share_only_moves_customers_into_the_canary() -> None:
    low = Router("e", TrafficPolicy(production="m@1", canary="m@2", canary_share=0.1))
    high = Router("e", TrafficPolicy(production="m@1", canary="m@2", canary_share=0.5))
    keys = [f"c{i}" for i in range(2000)]
    in_low = {k for k in keys if low.route(entity_key=k, request_id="r").role == "canary"}
    in_high = {k for k in keys if high.route(entity_key=k, request_id="r").role == "canary"}
    assert in_low < in_high


def test_shadows_get_their_share_of_requests_but_never_answer() -> None:
    policy = TrafficPolicy(production="m@1", shadows=(ShadowTarget("m@3", 0.5),))
    router = Router("e", policy)
    routes = [router.route(entity_key=None, request_id=f"r{i}") for i in range(4000)]
    assert {r.version for r in routes} == {"m@1"}
    mirrored = sum(bool(r.shadows) for r in routes) / len(routes)
    assert 0.45 < mirrored < 0.55


@pytest.mark.parametrize(
    "kwargs",
    [
        {"production": "m@1", "canary": "m@2", "canary_share": 1.5},
        {"production": "m@1", "canary_share": 0.2},
        {"production": "m@1", "shadows": (ShadowTarget("m@2", 0.0),)},
    ],
)
def test_impossible_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        TrafficPolicy(**kwargs)  # type: ignore[arg-type]


def test_policies_round_trip_and_list_their_versions() -> None:
    policy = TrafficPolicy(
        production="m@1",
        canary="m@2",
        canary_share=0.2,
        shadows=(ShadowTarget("m@3", 0.5),),
        fallback="m@1:baseline",
    )
    assert TrafficPolicy.from_dict(policy.to_dict()) == policy
    assert policy.versions == ["m@1", "m@2", "m@3", "m@1:baseline"]
