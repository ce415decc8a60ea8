"""Fuzzing the HTTP API with schemathesis: every operation of ``/openapi.json``, with
requests that fit its schema and requests that do not, every check (no server error,
statuses, content types, headers and bodies as documented, schema-breaking input
refused, schema-fitting input accepted).

:func:`fuzz` tallies every failure instead of stopping at the first, so that one run can
report how many server errors and schema violations it met; the test suite runs a few
hundred cases (``tests/serving/test_server_fuzz.py``), ``benchmarks/fuzz_api.py``
thousands.
"""

from __future__ import annotations

import collections
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup

SERVER_ERRORS = "Server error"
# A request of its schema may still be refused for what only the server knows: 409 (the
# state forbids it), 412 (the readiness checklist), 422 (the model's input contract, or
# tensors that do not fit it). 400 is not among them: it means the schema was broken.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422"]
            }
        }
    }
)


@dataclass
class Tally:
    """What a fuzzing run sent and what went wrong, by operation and failure title."""

    cases: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, operation: str, failure: Failure | Exception, seen: str = "") -> None:
        title = failure.title if isinstance(failure, Failure) else type(failure).__name__
        key = (operation, title)
        self.failures[key] += 1
        if key not in self.examples:
            message = failure.message if isinstance(failure, Failure) else str(failure)
            self.examples[key] = f"{message[:400]}\n    {seen[:600]}"

    @property
    def server_errors(self) -> int:
        return sum(n for (_, title), n in self.failures.items() if title == SERVER_ERRORS)

    @property
    def violations(self) -> int:
        return sum(self.failures.values()) - self.server_errors

    def report(self) -> str:
        lines = [
            f"{self.cases} cases; statuses {dict(sorted(self.statuses.items()))}; "
            f"{self.server_errors} server errors, {self.violations} other failures"
        ]
        for (operation, title), count in sorted(self.failures.items()):
            lines.append(
                f"  {operation}: {title} x{count}\n    {self.examples[(operation, title)]}"
            )
        return "\n".join(lines)


def fuzz(
    base_url: str, *, examples: int, endpoint: str, token: str | None = None, seed: int = 0
) -> Tally:
    """Send about ``examples`` generated requests per operation and mode; tally failures.

    Args:
        base_url: the server, ``http://127.0.0.1:PORT``.
        examples: cases per operation for each of three passes: fitting the schema with
            ``endpoint`` as the path's name, not fitting it with ``endpoint``, fitting it
            with generated names.
        endpoint: a deployed endpoint, so that cases reach the models.
        token: an API token sent with every case (the server checks tokens).
        seed: for Hypothesis, so that a run can be repeated.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else None
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    tally = Tally()
    session = requests.Session()
    passes: list[tuple[GenerationMode, dict[str, Any] | None]] = [
        (GenerationMode.POSITIVE, {"name": endpoint}),
        (GenerationMode.NEGATIVE, {"name": endpoint}),
        (GenerationMode.POSITIVE, None),
    ]
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed_name = "{name}" in operation.path
        for mode, names in passes:
            if names is None and not fixed_name:
                continue
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=names if fixed_name else None
            )

            _send(strategy, operation.label, base_url, session, headers, tally, examples, seed)
    return tally


def _send(
    strategy: Any,
    label: str,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str] | None,
    tally: Tally,
    examples: int,
    seed: int,
) -> None:
    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        tally.cases += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=headers)
        except requests.RequestException as exc:
            tally.add(label, exc)
            return
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(
                response,
                headers=headers,
                transport_kwargs={"base_url": base_url, "headers": headers},
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.add(label, failure, _seen(case, response))
        except Failure as failure:
            tally.add(label, failure, _seen(case, response))

    # Unsatisfiable: nothing of this kind can be made (no input that could break the schema).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        send()


def _seen(case: Any, response: requests.Response) -> str:
    sent = json.dumps(case.body, default=str)[:200] if case.body is not None else "-"
    return f"sent {case.method} {case.formatted_path} {sent} -> {response.status_code} {response.text[:300]}"
