"""The rollback drill: roll an endpoint back to its previous production version and
forward again, checking that both answer, so "rollback verified" on the checklist is a
fact, not a hope.

Without a server, each revision's production version is loaded (verified, as a server
would) and asked to predict a sample of recent logged inputs. With ``url``, the running
server is asked instead, after each switch, until it answers from the new revision
(servers poll for changes about once a second). Either way the endpoint ends where it
started (a roll forward is attempted even when a check fails), the two switches are
ordinary audited revisions whose reason names the drill, and the outcome is recorded as
``rollback_verified`` evidence on the version that was in production.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd

from stead.core.errors import Conflict, SteadError
from stead.features.sources import importing
from stead.predictions.layout import INPUTS
from stead.predictions.outputs import output_dicts, predict_table
from stead.predictions.service import PredictionService
from stead.predictions.window_reader import PRIMARY, LogWindows

# Days of the log the drill's sample may come from (newest first).
SAMPLE_DAYS = 7

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.registry.service import ModelRegistry
    from stead.serving.deploy.deployment import Deployment
    from stead.serving.deploy.endpoints import EndpointService
    from stead.training.service import RunService


@dataclass(frozen=True)
class DrillCheck:
    """One revision asked to answer."""

    step: str
    revision: int
    expected: str
    answered: int
    versions: list[str]
    ok: bool
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "revision": self.revision,
            "expected": self.expected,
            "answered": self.answered,
            "versions": self.versions,
            "ok": self.ok,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class RollbackDrill:
    """What a drill did and found."""

    endpoint: str
    production: str
    previous: str
    start_revision: int
    serving: str
    previous_serving: str
    revisions: list[int]
    checks: list[DrillCheck]
    via: str
    sample: int
    evidence_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks) and not self.problems

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        text = (
            f"rollback drill on {self.endpoint} {verdict}: revision {self.start_revision} "
            f"({self.serving}) → previous production ({self.previous_serving}) → back, as "
            "revisions "
            f"{', '.join(map(str, self.revisions)) or 'none'}; {self.sample} recent inputs "
            f"answered via {self.via}"
        )
        failing = [c.problem for c in self.checks if not c.ok and c.problem] + self.problems
        if failing:
            text += ": " + "; ".join(failing)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "passed": self.passed,
            "message": self.message,
            "production": self.production,
            "previous": self.previous,
            "start_revision": self.start_revision,
            "serving": self.serving,
            "previous_serving": self.previous_serving,
            "revisions": self.revisions,
            "via": self.via,
            "sample": self.sample,
            "checks": [c.to_dict() for c in self.checks],
            "problems": self.problems,
            "evidence_id": self.evidence_id,
        }


class Driller:
    """Runs rollback drills (``ws.monitors.rollback_drill``)."""

    def __init__(
        self,
        context: Context,
        *,
        models: ModelRegistry,
        runs: RunService,
        endpoints: EndpointService,
        predictions: PredictionService,
    ) -> None:
        self._ctx = context
        self._models = models
        self._runs = runs
        self._endpoints = endpoints
        self._predictions = predictions

    def drill(
        self,
        endpoint: str,
        *,
        url: str | None = None,
        token: str | None = None,
        sample: int = 50,
        timeout: float = 15.0,
    ) -> RollbackDrill:
        """Roll back, check, roll forward, check; record ``rollback_verified``.

        Raises:
            NotFound: no such endpoint.
            Conflict: the endpoint has a single revision (nothing to roll back to).
        """
        current = self._endpoints.get(endpoint)
        start = current.revision
        production = current.policy.production
        if start < 2:
            raise Conflict(
                f"endpoint {endpoint} has a single revision; a rollback drill needs a "
                "previous one to roll back to (deploy a second version first)"
            )
        previous = self._previous_production(endpoint, start, production)
        records = self._sample(endpoint, production, sample)
        via = url or "loaded models"
        checks: list[DrillCheck] = []
        revisions: list[int] = []
        problems: list[str] = []
        why = f"rollback drill of revision {start}"
        rolled = False
        try:
            back = self._endpoints.rollback(
                endpoint, to=previous.revision, reason=f"{why}: roll back"
            )
            rolled = True
            revisions.append(back.deployment.revision)
            checks.append(
                self._check(
                    "rolled back",
                    back.deployment.revision,
                    previous.policy.production,
                    records,
                    endpoint,
                    url,
                    token,
                    timeout,
                )
            )
        except SteadError as error:
            problems.append(f"rolling back failed: {error.message}")
        if rolled:
            try:
                forward = self._endpoints.rollback(
                    endpoint, to=start, reason=f"{why}: roll forward"
                )
                revisions.append(forward.deployment.revision)
                checks.append(
                    self._check(
                        "rolled forward",
                        forward.deployment.revision,
                        production,
                        records,
                        endpoint,
                        url,
                        token,
                        timeout,
                    )
                )
            except SteadError as error:
                problems.append(
                    f"rolling forward failed: {error.message}; the endpoint serves the previous "
                    f"revision's policy: run `stead rollback {endpoint} --to {start}`"
                )
        drill = RollbackDrill(
            endpoint=endpoint,
            production=production,
            previous=previous.policy.production,
            start_revision=start,
            serving=current.active.describe(),
            previous_serving=previous.describe(),
            revisions=revisions,
            checks=checks,
            via=via,
            sample=len(records),
            problems=problems,
        )
        evidence = self._models.record_evidence(
            production,
            "rollback_verified",
            passed=drill.passed,
            evidence=drill.message,
            details={"endpoint": endpoint, "revisions": revisions, "via": via},
        )
        return replace(drill, evidence_id=evidence.id)

    def _previous_production(self, endpoint: str, start: int, production: str) -> Deployment:
        """The newest earlier revision whose production version differs from ``production``:
        what a rollback in an emergency restores. The revision just before is not always
        it: after a canary ended (or was rolled back), it would re-activate that canary."""
        for deployment in reversed(self._endpoints.history(endpoint)[: start - 1]):
            if deployment.policy.production != production:
                return deployment
        raise Conflict(
            f"no earlier revision of {endpoint} serves another production version than "
            f"{production}; a rollback drill needs one to roll back to (deploy a second "
            "version first)"
        )

    def _sample(self, endpoint: str, production: str, size: int) -> list[dict[str, Any]]:
        """The newest ``size`` logged inputs (from at most the last week with traffic),
        else the version's evaluation rows."""
        version = self._models.get(production)
        reader = LogWindows(self._predictions.directory, endpoint)
        days = reader.days()[-SAMPLE_DAYS:]
        found: list[pd.DataFrame] = []
        rows = 0
        for day in reversed(days):
            start = datetime.combine(day, clock(), tzinfo=UTC)
            frame = reader.read(start, start + timedelta(days=1)).to_pandas()
            frame = frame[frame["role"].isin(PRIMARY)]
            found.insert(0, frame)
            rows += len(frame)
            if rows >= size:
                break
        if found:
            frame = pd.concat(found, ignore_index=True).tail(size)
            columns = [INPUTS + c for c in version.input_columns if INPUTS + c in frame.columns]
            if len(frame) and columns:
                inputs = frame[columns]
                inputs.columns = [c[len(INPUTS) :] for c in columns]
                return _records(inputs)
        frame = self._runs.eval_frame(version.run_id).head(size)
        return _records(frame[version.input_columns])

    def _check(
        self,
        step: str,
        revision: int,
        expected: str,
        records: list[dict[str, Any]],
        endpoint: str,
        url: str | None,
        token: str | None,
        timeout: float,
    ) -> DrillCheck:
        if url is None:
            return self._check_loaded(step, revision, expected, records)
        return _check_server(step, revision, expected, records, endpoint, url, token, timeout)

    def _check_loaded(
        self, step: str, revision: int, expected: str, records: list[dict[str, Any]]
    ) -> DrillCheck:
        try:
            loaded = self._models.load(expected)
            frame = pd.DataFrame.from_records(records, columns=loaded.input_columns)
            with importing(self._runs.sources(loaded.version.run_id), root=self._ctx.root):
                outputs = output_dicts(predict_table(loaded.pipeline, frame, loaded.version.output))
        except Exception as exc:  # any failure to answer is what the drill looks for
            problem = exc.message if isinstance(exc, SteadError) else f"{type(exc).__name__}: {exc}"
            return DrillCheck(step, revision, expected, 0, [], False, f"{expected}: {problem}")
        bad = sum(1 for o in outputs if not _answer_ok(o))
        ok = len(outputs) == len(records) and bad == 0
        issue = None if ok else f"{expected} gave {bad} empty or non-finite answers"
        return DrillCheck(step, revision, expected, len(outputs) - bad, [expected], ok, issue)


def _check_server(
    step: str,
    revision: int,
    expected: str,
    records: list[dict[str, Any]],
    endpoint: str,
    url: str,
    token: str | None,
    timeout: float,
) -> DrillCheck:
    """Ask the server until it answers from ``revision`` (or ``timeout`` passes)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    target = f"{url.rstrip('/')}/v1/endpoints/{endpoint}/predict"
    deadline = time.monotonic() + timeout
    problem = "no answer"
    with httpx.Client(timeout=10.0) as client:
        while True:
            try:
                response = client.post(target, json={"records": records}, headers=headers)
                body = response.json() if response.content else {}
            except (httpx.HTTPError, ValueError) as exc:
                body, response = {}, None
                problem = f"POST {target} failed: {exc}"
            if response is not None and response.is_success:
                seen = body.get("revision")
                if seen == revision:
                    predictions = body.get("predictions") or []
                    versions = sorted(
                        {str(p.get("model_version")) for p in predictions if p.get("model_version")}
                        or {str(body.get("model_version"))}
                    )
                    ok = len(predictions) == len(records) and all(map(_answer_ok, predictions))
                    return DrillCheck(
                        step,
                        revision,
                        expected,
                        len(predictions),
                        [str(v) for v in versions if v],
                        ok,
                        None
                        if ok
                        else f"revision {revision} answered {len(predictions)} of "
                        f"{len(records)} records, some empty",
                    )
                problem = f"the server still answers from revision {seen}, not {revision}"
            elif response is not None:
                problem = f"POST {target} answered {response.status_code}: {response.text[:200]}"
            if time.monotonic() >= deadline:
                return DrillCheck(step, revision, expected, 0, [], False, problem)
            time.sleep(0.25)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def _answer_ok(output: Any) -> bool:
    if not isinstance(output, dict) or not output:
        return False
    for value in output.values():
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, dict) and not all(
            isinstance(v, int | float) and math.isfinite(v) for v in value.values()
        ):
            return False
    return True
