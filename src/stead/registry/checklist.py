"""The production-readiness checklist: each item pass, fail or pending, with its evidence.

Before deployment (every item must pass to promote to ``production``):

- ``reproducible``: a ``stead reproduce`` of the version's run succeeded.
- ``signed_artifacts``: the manifest signature and every artifact hash verify.
- ``schema_validation``: an input contract exists and covers every feature input column.
- ``monitoring_hooks``: the drift reference profile (the training snapshot's profile)
  covers every input column, ``[monitoring]`` is present and not ``enabled = false``,
  and ``[alerts] sinks`` lists at least one sink. Read as the monitors read them, so
  ``STEAD_MONITORING_ENABLED`` and ``STEAD_ALERTS_SINKS`` count (and a
  ``STEAD_MONITORING_*`` variable makes ``[monitoring]`` present).
- ``documented``: an owner, at least one assumption and the intended use are recorded.
- ``leakage``: the leakage checks recorded with the version's run found nothing the
  settings call an error, re-read against ``stead.toml`` as it is now: a finding whose
  check is now ``error`` fails (a ``too_good`` model fails here, since it was trained),
  as does an input column now marked PII, post-prediction, id or target in
  ``[columns]``. Findings of checks set to ``warn`` pass and are listed.
- ``beats_baseline``: the primary metric beats the fallback baseline's by
  ``[checklist] baseline_margin``.
- ``champion_challenger``: not worse than the production version by more than
  ``[checklist] champion_tolerance``. When a retrain recorded a backtest of this version
  against the current production version (evidence item ``backtest``), judged on that:
  the same recent labelled rows, neither model fitted on them. Otherwise on the
  challenger's evaluation rows that production was not trained on (see
  :mod:`stead.registry.champion`). A loser passes the gate only by an admin's audited
  override.

After deployment (tracked and shown; evidence comes from serving and monitoring, see
:mod:`stead.registry.evidence`): ``drift_detection``, ``performance_logged``,
``alerts_tested``, ``rollback_verified``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from stead.core.errors import IntegrityError, NotFound
from stead.registry.champion import ChampionComparison, NotComparable, compare_with_champion
from stead.registry.evidence import AFTER_DEPLOYMENT, BACKTEST, Evidence
from stead.registry.leakage_review import review_leakage
from stead.registry.settings import ChecklistSettings, better
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.core.settings import Settings
    from stead.registry.loading import VersionLoader
    from stead.training.service import RunService

# The monitoring stage answers "is monitoring configured?" ((found, problems)); the
# registry sits below it, so the composition root passes the function in.
MonitoringReadiness = Callable[["Settings"], tuple[list[str], list[str]]]

Status = Literal["pass", "fail", "pending"]
Phase = Literal["before", "after"]

BEFORE_DEPLOYMENT: dict[str, str] = {
    "reproducible": "reproducible training",
    "signed_artifacts": "versioned and signed artifacts",
    "schema_validation": "schema validation",
    "monitoring_hooks": "monitoring hooks",
    "documented": "documented ownership and assumptions",
    "leakage": "no leakage found",
    "beats_baseline": "beats the fallback baseline",
    "champion_challenger": "not worse than production",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One item: ``detail`` is the evidence when it passes, the reason otherwise."""

    key: str
    title: str
    phase: Phase
    status: Status
    detail: str
    facts: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "phase": self.phase,
            "status": self.status,
            "detail": self.detail,
            "facts": self.facts or {},
        }


@dataclass(frozen=True)
class Checklist:
    model: str
    stage: str
    items: list[ChecklistItem]

    @property
    def before(self) -> list[ChecklistItem]:
        return [i for i in self.items if i.phase == "before"]

    @property
    def after(self) -> list[ChecklistItem]:
        return [i for i in self.items if i.phase == "after"]

    @property
    def blocking(self) -> list[ChecklistItem]:
        """Before-deployment items that do not pass: each one blocks production."""
        return [i for i in self.before if i.status != "pass"]

    @property
    def ready(self) -> bool:
        return not self.blocking

    def statuses(self) -> dict[str, str]:
        return {i.key: i.status for i in self.items}

    def summary(self) -> str:
        counts = {s: sum(1 for i in self.items if i.status == s) for s in ("pass", "fail")}
        pending = sum(1 for i in self.items if i.status == "pending")
        verdict = "ready for production" if self.ready else "not ready for production"
        return (
            f"{self.model} ({self.stage}) is {verdict}: {counts['pass']} pass, "
            f"{counts['fail']} fail, {pending} pending"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage": self.stage,
            "ready": self.ready,
            "blocking": [i.key for i in self.blocking],
            "summary": self.summary(),
            "items": [i.to_dict() for i in self.items],
        }


class ChecklistBuilder:
    """Evaluates the checklist of a version from records (and, for the champion
    comparison, by scoring the production version)."""

    def __init__(
        self,
        ctx: Context,
        *,
        runs: RunService,
        loader: VersionLoader,
        settings: ChecklistSettings,
        monitoring_readiness: MonitoringReadiness,
    ) -> None:
        self._ctx = ctx
        self._runs = runs
        self._loader = loader
        self._settings = settings
        self._monitoring_readiness = monitoring_readiness

    def build(
        self, version: ModelVersion, *, champion: ModelVersion | None, evidence: list[Evidence]
    ) -> Checklist:
        checks: dict[str, Callable[[], tuple[Status, str, dict[str, Any] | None]]] = {
            "reproducible": lambda: self._reproducible(version),
            "signed_artifacts": lambda: self._signed(version),
            "schema_validation": lambda: self._schema(version),
            "monitoring_hooks": lambda: self._monitoring(version),
            "documented": lambda: self._documented(version),
            "leakage": lambda: self._leakage(version),
            "beats_baseline": lambda: self._baseline(version),
            "champion_challenger": lambda: self._champion(version, champion, evidence),
        }
        items = []
        for key, check in checks.items():
            status, detail, facts = check()
            items.append(
                ChecklistItem(key, BEFORE_DEPLOYMENT[key], "before", status, detail, facts)
            )
        latest: dict[str, Evidence] = {}
        for recorded in sorted(evidence, key=lambda e: e.recorded_at):
            latest[recorded.item] = recorded
        for key, title in AFTER_DEPLOYMENT.items():
            record = latest.get(key)
            if record is None:
                deployed = version.stage == "production"
                reason = (
                    "no evidence recorded yet"
                    if deployed
                    else f"not deployed ({version.stage}); evidence comes once it serves"
                )
                items.append(ChecklistItem(key, title, "after", "pending", reason))
                continue
            items.append(
                ChecklistItem(
                    key,
                    title,
                    "after",
                    "pass" if record.passed else "fail",
                    f"{record.evidence} (recorded by {record.recorded_by} at "
                    f"{record.recorded_at:%Y-%m-%d %H:%M} UTC)",
                    {"evidence_id": record.id, **record.details},
                )
            )
        return Checklist(model=version.ref, stage=version.stage, items=items)

    # -- before deployment ----------------------------------------------------------

    def _reproducible(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        attempts = self._runs.verifications(version.run_id)
        verified = [a for a in attempts if a.verified]
        if verified:
            first = verified[-1]
            mismatches = len(attempts) - len(verified)
            extra = f"; {mismatches} other attempt(s) did not match" if mismatches else ""
            when = f"{first.checked_at:%Y-%m-%d %H:%M} UTC" if first.checked_at else "?"
            return (
                "pass",
                f"run {version.run_id} reproduced bit for bit (verification {first.id} by "
                f"{first.checked_by} at {when}){extra}",
                {"verification_id": first.id},
            )
        if attempts:
            return (
                "fail",
                f"{len(attempts)} `stead reproduce {version.run_id}` attempt(s), none matched; "
                "see `stead runs show` for what differs",
                {"verification_id": attempts[0].id},
            )
        return (
            "pending",
            f"run {version.run_id} has not been reproduced; run `stead reproduce {version.run_id}`",
            None,
        )

    def _signed(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        try:
            result = self._loader.verify(version)
        except (IntegrityError, NotFound) as error:
            return "fail", error.message, None
        return "pass", result.describe(), {"key_fingerprint": result.key_fingerprint}

    def _schema(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        contract = version.contract
        if not contract.columns:
            return "fail", "no input contract was recorded", None
        missing = [c for c in version.input_columns if c not in contract.names]
        if missing:
            return "fail", f"the input contract lacks input column(s) {', '.join(missing)}", None
        return (
            "pass",
            f"input contract from {contract.source or version.snapshot_ref} covers all "
            f"{len(version.input_columns)} inputs ({', '.join(version.input_columns)}); "
            f"sha256 {version.contract_hash[:12]}",
            {"contract_hash": version.contract_hash},
        )

    def _monitoring(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        problems: list[str] = []
        found: list[str] = []
        covered = set(version.reference.get("columns", []))
        uncovered = [c for c in version.input_columns if c not in covered]
        if uncovered:
            problems.append(
                f"the drift reference profile of {version.snapshot_ref} lacks bins or levels "
                f"for {', '.join(uncovered)}"
            )
        else:
            found.append(f"drift reference profile of {version.snapshot_ref} covers every input")
        more_found, more_problems = self._monitoring_readiness(self._ctx.settings)
        found += more_found
        problems += more_problems
        if problems:
            return "fail", "; ".join(problems), None
        return "pass", "; ".join(found), {"reference": version.reference}

    def _documented(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        project = version.project
        missing = []
        if not version.owner:
            missing.append("an owner")
        if not [a for a in project.get("assumptions") or [] if str(a).strip()]:
            missing.append("at least one assumption")
        if not str(project.get("intended_use") or "").strip():
            missing.append("the intended use")
        if missing:
            return (
                "fail",
                f"not recorded at registration: {', '.join(missing)} (set them in [project] "
                "and register the run again)",
                None,
            )
        count = len(project.get("assumptions") or [])
        return (
            "pass",
            f"owner {version.owner}, {count} assumption(s), intended use recorded "
            f"(from {project.get('source', 'the project')})",
            None,
        )

    def _leakage(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        run = self._runs.get(version.run_id)
        review = review_leakage(run, self._ctx.settings)
        facts = review.to_dict()
        if review.failing:
            return "fail", "; ".join(review.failing), facts
        text = f"the leakage checks of run {run.id} found no leak"
        if review.accepted:
            text += f"; accepted as warnings: {'; '.join(review.accepted)}"
        return "pass", text, facts

    def _primary(self, version: ModelVersion) -> tuple[str, dict[str, float | None]]:
        run = self._runs.get(version.run_id)
        metric = self._settings.primary_for(version.task, list(run.spec.metrics))
        return metric, {
            "model": run.metrics.get(metric),
            "baseline": run.baseline_metrics.get(metric),
        }

    def _baseline(self, version: ModelVersion) -> tuple[Status, str, dict[str, Any] | None]:
        metric, values = self._primary(version)
        model, baseline = values["model"], values["baseline"]
        if model is None or baseline is None:
            return (
                "fail",
                f"{metric} was not computed for the {'model' if model is None else 'baseline'}"
                " (add it to [training] metrics, or set [checklist] primary_metric)",
                None,
            )
        margin = self._settings.baseline_margin
        gain = better(metric, model, baseline)
        facts = {"metric": metric, "model": model, "baseline": baseline, "margin": margin}
        text = f"{metric} {model:.4f} vs baseline {baseline:.4f} ({gain:+.4f})"
        if gain > 0 and gain >= margin:
            return "pass", f"{text}; margin {margin:g}", facts
        return "fail", f"{text}: does not beat the baseline by the margin {margin:g}", facts

    def _champion(
        self, version: ModelVersion, champion: ModelVersion | None, evidence: list[Evidence]
    ) -> tuple[Status, str, dict[str, Any] | None]:
        if champion is None:
            return "pass", f"no version of {version.name} is in production: nothing to beat", None
        if champion.id == version.id:
            return "pass", f"{version.ref} is the production version", None
        backtests = [
            e for e in evidence if e.item == BACKTEST and e.details.get("champion") == champion.ref
        ]
        extra: dict[str, Any] = {}
        if backtests:
            latest = max(backtests, key=lambda e: e.recorded_at)
            comparison = ChampionComparison.from_dict(latest.details)
            extra = {
                "evidence_id": latest.id,
                "backtest_run": latest.details.get("backtest_run"),
            }
        else:
            metric, _ = self._primary(version)
            try:
                comparison = compare_with_champion(
                    self._ctx,
                    version,
                    champion,
                    metric=metric,
                    runs=self._runs,
                    loader=self._loader,
                )
            except NotComparable as exc:
                return "fail", f"cannot compare with production {champion.ref}: {exc}", None
            except (IntegrityError, NotFound) as error:
                return "fail", f"cannot load production {champion.ref}: {error.message}", None
        tolerance = self._settings.champion_tolerance
        facts = {**comparison.to_dict(), **extra, "tolerance": tolerance}
        if comparison.advantage >= -tolerance:
            return "pass", f"{comparison.describe()}; tolerance {tolerance:g}", facts
        return (
            "fail",
            f"{comparison.describe()}: worse than production by more than the tolerance "
            f"{tolerance:g}",
            facts,
        )
