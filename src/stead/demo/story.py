"""The demo story: stead's lifecycle on the credit scenario, step by step.

Each step is an ordinary call to the public API, so the demo doubles as an example of
using stead from Python. The story grows with the stages that exist.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from rich.markup import escape

from stead.core.errors import GateFailed
from stead.demo.credit import generate_applications
from stead.demo.project import (
    CATEGORICAL,
    LEAKY,
    MONITORING_SETTINGS,
    NUMERIC,
    PROJECT_SETTINGS,
    features_source,
)
from stead.demo.services import AlertInbox, Traffic, running_server, send
from stead.features.leakage import LeakageDetected
from stead.workspace import Workspace

FEATURE_COLUMNS = [*NUMERIC, *CATEGORICAL]
MONTH_ONE = datetime(2026, 1, 1, tzinfo=UTC)

# The demo acts as a member of the owning team who is also an admin.
ACTOR = "demo-lead"
MARKER = ".stead/demo"

Say = Callable[[str], None]


@dataclass
class DemoOutcome:
    root: Path
    facts: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)


class Story:
    """Runs the steps in order, narrating each, and collects facts for the summary."""

    def __init__(self, root: Path, *, fast: bool, say: Say) -> None:
        self.root = root
        self.fast = fast
        self.say = say
        self.per_month = 600 if fast else 2000
        self.outcome = DemoOutcome(root=root)
        self.recent = pd.DataFrame()
        self.answered: dict[str, str] = {}  # application id -> request id of its answer

    def step(self, title: str) -> None:
        self.outcome.steps.append(title)
        self.say(f"\n[bold cyan]▶ {len(self.outcome.steps)}. {title}[/]")

    def open(self) -> Workspace:
        return Workspace.open(self.root, actor=ACTOR)

    # -- the story ------------------------------------------------------------------

    def run(self) -> DemoOutcome:
        self.init()
        with self.open() as ws:
            self.snapshot(ws)
            self.leakage_check(ws)
            run_id = self.train(ws)
            ref = self.register(ws, run_id)
            self.gate(ws, ref, run_id)
        with AlertInbox() as inbox:
            self.configure_monitoring(inbox.url)
            with self.open() as ws:
                self.promote_and_deploy(ws, ref)
            with (
                running_server(self.root, actor=ACTOR, now=month_time(7)) as url,
                self.open() as ws,
            ):
                self.serve_traffic(ws, url)
            with (
                running_server(self.root, actor=ACTOR, now=month_time(8)) as url,
                self.open() as ws,
            ):
                self.canary_and_rollback(ws, url)
            with running_server(self.root, actor=ACTOR, now=month_time(9)) as url:
                self.month_nine(url)
            with pinned_clock(month_time(10, day=20)), self.open() as ws:
                self.monitor(ws, inbox)
                self.feedback_and_retrain(ws, inbox)
                self.promote_candidate(ws)
                self.audit(ws)
                self.lineage_and_report(ws)
        self.summary()
        self.say(f"\n[bold green]done[/]: the workspace is at {self.root}")
        return self.outcome

    def init(self) -> None:
        self.step("init: a workspace with the embedded store (SQLite + local artifacts)")
        init = Workspace.init(self.root, actor=ACTOR)
        (self.root / MARKER).write_text("created by `stead demo`\n")
        settings = self.root / "stead.toml"
        text = settings.read_text()
        for table in ("columns", "teams", "auth", "validation"):
            text = _drop_table(text, table)
        max_iter = 60 if self.fast else 150
        settings.write_text(text + PROJECT_SETTINGS.format(max_iter=max_iter))
        (self.root / "features.py").write_text(features_source(leaky=True))
        self.say(init.message)
        self.say("project: credit-default, owned by team risk; features in features.py")

    def snapshot(self, ws: Workspace) -> None:
        self.step("snapshot: months 1–6 of loan applications become credit@1")
        history = generate_applications(months=range(1, 7), per_month=self.per_month)
        source = self.root / "applications_m1_6.csv"
        history.to_csv(source, index=False)
        snap = ws.datasets.snapshot_file(source, name="credit").snapshot
        self.say(
            f"{snap.ref}: {snap.rows} rows, content {snap.content_hash[:12]}; PII columns "
            f"{snap.schema.with_role('pii')} are marked and can never become features"
        )
        self.outcome.facts["snapshot"] = snap.ref

    def leakage_check(self, ws: Workspace) -> None:
        self.step(f"leakage check: the first feature draft uses {LEAKY!r}")
        try:
            ws.runs.train()
        except LeakageDetected as caught:
            self.say(f"[yellow]refused[/]: {escape(caught.message)}")
            self.outcome.facts["leakage_caught"] = LEAKY in caught.message
        else:  # pragma: no cover - the generator guarantees the leak
            raise AssertionError("the leakage check did not catch the leaky column")
        (self.root / "features.py").write_text(features_source(leaky=False))
        self.say(f"features.py no longer uses {LEAKY!r}; nothing was trained or stored")

    def train(self, ws: Workspace) -> str:
        self.step("train: gradient boosting, with a logistic-regression fallback baseline")
        outcome = ws.runs.train()
        run = outcome.run
        model_auc = run.metrics.get("roc_auc") or 0.0
        base_auc = run.baseline_metrics.get("roc_auc") or 0.0
        self.say(outcome.message)
        self.say(
            f"ROC AUC {model_auc:.3f} vs baseline {base_auc:.3f} on the latest 20% (time split)"
        )
        self.outcome.facts.update(run=run.id, train_auc=model_auc, baseline_auc=base_auc)
        return run.id

    def register(self, ws: Workspace, run_id: str) -> str:
        self.step("register: credit@1 with its signed manifest, card and lineage")
        version = ws.models.register(run_id, name="credit", reason="first model").version
        self.say(
            f"registered {version.ref} (owner {version.owner}), manifest signed "
            f"with key {version.key_fingerprint[:23]}"
        )
        card = ws.models.card(version.ref)
        card_path = self.root / "model_card_credit_1.md"
        card_path.write_text(card.to_markdown())
        lineage = ws.models.lineage(version.ref)
        chain = " → ".join(
            k
            for k in ("model", "run", "snapshot", "feature_set", "code", "environment")
            if lineage.find(k)
        )
        self.say(f"model card written to {card_path.name}; lineage: {chain}")
        self.outcome.facts["model"] = version.ref
        return version.ref

    def gate(self, ws: Workspace, ref: str, run_id: str) -> None:
        self.step("checklist: the production gate refuses an unready model")
        checklist = ws.models.checklist(ref)
        for item in checklist.blocking:
            self.say(f"  [red]{item.status}[/] {item.title}: {escape(item.detail)}")
        try:
            ws.models.promote(ref, to="production", reason="first deployment")
        except GateFailed as refused:
            self.say("[yellow]promotion refused[/]: " + escape(refused.message.splitlines()[0]))
        self.outcome.facts["gate_failed_first"] = not checklist.ready

        self.step("reproduce the run, configure monitoring and alerts, then pass the gate")
        verification = ws.runs.reproduce(run_id)
        self.say(
            f"reproduce: {verification.status} — evaluation predictions identical, bit for bit"
        )

    def configure_monitoring(self, webhook: str) -> None:
        settings = self.root / "stead.toml"
        settings.write_text(settings.read_text() + MONITORING_SETTINGS.format(webhook=webhook))
        self.say(f"monitoring on; alerts go to a webhook at {webhook} and .stead/alerts.jsonl")

    def promote_and_deploy(self, ws: Workspace, ref: str) -> None:
        checklist = ws.models.checklist(ref)
        self.say(escape(checklist.summary()))
        ws.models.promote(ref, to="production", reason="reproduced, monitored, beats the baseline")
        outcome = ws.endpoints.deploy("credit", ref, reason="first deployment")
        self.say(f"promoted {ref} to production and deployed: {escape(outcome.message)}")
        self.outcome.facts["gate_passed"] = checklist.ready

    def month(self, number: int) -> pd.DataFrame:
        start = (number - 7) * self.per_month
        return self.recent.iloc[start : start + self.per_month]

    def requests(self, rows: pd.DataFrame) -> pd.DataFrame:
        """What a client sends: the application as a form would, without the outcome."""
        return rows[["application_id", "applied_at", "name", "email", *FEATURE_COLUMNS]]

    def remember(self, traffic: Traffic) -> None:
        for response in traffic.responses:
            self.answered[response["entity"]] = response["request_id"]

    def serve_traffic(self, ws: Workspace, url: str) -> None:
        self.step("serve: `stead serve` on loopback answers month 7 over real HTTP")
        self.recent = generate_applications(months=range(7, 10), per_month=self.per_month)
        traffic = send(url, "credit", self.requests(self.month(7)), id_column="application_id")
        self.remember(traffic)
        self.say(
            f"{len(traffic.responses)} predictions, {traffic.refused} refused by the contract, "
            f"{traffic.failures} failed, answered by {traffic.versions()}; the applicants' "
            "names and emails arrive with each request and are logged only as keyed hashes"
        )
        self.outcome.facts["served"] = len(traffic.responses)
        self.outcome.facts["request_id"] = traffic.responses[0]["request_id"]

    def canary_and_rollback(self, ws: Workspace, url: str) -> None:
        self.step("canary: a second model takes 30% of customers, sticky per customer")
        second = ws.runs.train(seed=7).run
        version = ws.models.register(second.id, name="credit", reason="candidate, seed 7").version
        ws.runs.reproduce(second.id)
        ws.models.promote(version.ref, to="staging", reason="canary trial")
        ws.endpoints.canary("credit", version.ref, share=30, reason="try the seed-7 model")
        time.sleep(1.5)  # servers pick up a new revision within about a second
        month8 = self.requests(self.month(8))
        inputs = month8.iloc[: self.per_month // 2]
        first = send(url, "credit", inputs, id_column="application_id")
        again = send(url, "credit", inputs, id_column="application_id")
        self.remember(first)
        seen: dict[str, set[str]] = {}
        for response in [*first.responses, *again.responses]:
            seen.setdefault(response["entity"], set()).add(response["model_version"])
        sticky = all(len(versions) == 1 for versions in seen.values())
        self.say(f"answered by {first.versions()}; every customer saw one version: {sticky}")

        self.step("rollback: back to the previous revision, under traffic")
        rest = month8.iloc[self.per_month // 2 :]
        with ThreadPoolExecutor(1) as pool:
            load = pool.submit(send, url, "credit", rest, id_column="application_id")
            time.sleep(0.3)  # the rollback lands while those requests are in flight
            outcome = ws.endpoints.rollback("credit", reason="canary not needed yet")
            during = load.result()
        time.sleep(1.5)
        after = send(url, "credit", rest.iloc[:50], id_column="application_id")
        self.remember(during)
        failed = first.failures + again.failures + during.failures + after.failures
        self.say(escape(outcome.message))
        self.say(
            f"during the rollback: {during.versions()}; after it: {after.versions()}; "
            f"failed requests: {failed}"
        )
        self.outcome.facts.update(
            sticky=sticky, canary=version.ref, after_rollback=after.versions(), failed=failed
        )

    def month_nine(self, url: str) -> None:
        self.step("month 9: incomes keep falling and a new mobile channel keeps growing")
        traffic = send(url, "credit", self.requests(self.month(9)), id_column="application_id")
        self.remember(traffic)
        self.say(f"{len(traffic.responses)} more predictions")

    def monitor(self, ws: Workspace, inbox: AlertInbox) -> None:
        self.step("monitor: each month's traffic against credit@1's training profile")
        run = ws.monitors.run("credit", window="1d")
        self.say(escape(run.message))
        drifted = sorted(
            {
                feature
                for window in run.windows
                for result in window.results
                for feature in result.summary.get("drifted", [])
            }
        )
        self.say(f"drifted features: {', '.join(drifted) or 'none'}")
        for alert in run.alerts[:4]:
            self.say(escape(f"  alert [{alert.severity}] {alert.title}"))
        self.say(f"the webhook received {len(inbox.alerts)} alert(s)")
        self.outcome.facts.update(drifted=drifted, webhook_alerts=len(inbox.alerts))

    def feedback_and_retrain(self, ws: Workspace, inbox: AlertInbox) -> None:
        self.step("feedback: labels arrive 60 days late; performance drop confirmed; retrain")
        known = self.recent[self.recent["label_known_at"] <= pd.Timestamp(month_time(10, day=20))]
        labels = pd.DataFrame(
            {
                "request_id": [
                    self.answered[a] for a in known["application_id"] if a in self.answered
                ],
                "label": [
                    int(v)
                    for a, v in zip(known["application_id"], known["defaulted"], strict=True)
                    if a in self.answered
                ],
                "loss_amount": [
                    float(v)
                    for a, v in zip(known["application_id"], known["loss_amount"], strict=True)
                    if a in self.answered
                ],
            }
        )
        outcome = ws.feedback.ingest_frame("credit", labels, source="the loan book, 60 days on")
        self.say(escape(outcome.message))
        run = ws.monitors.run("credit", window="1d")
        self.say(escape(run.message))
        for trigger in run.triggers:
            self.say(f"retrain trigger {trigger.id} ({trigger.kind}): {escape(trigger.reason)}")
            self.say(f"  → {trigger.status}")
            for key, value in trigger.outcome.items():
                if isinstance(value, str | int | float):
                    self.say(f"    {key}: {value}")
        self.outcome.facts["triggers"] = [t.status for t in run.triggers]
        self.outcome.facts["candidates"] = [
            t.outcome.get("candidate") for t in run.triggers if t.outcome.get("candidate")
        ]

    def promote_candidate(self, ws: Workspace) -> None:
        self.step("promote: the retrained candidate goes to production through the gate")
        candidates = self.outcome.facts.get("candidates") or []
        if not candidates:
            self.say("[yellow]no candidate to promote[/]")
            return
        ref = candidates[-1]
        checklist = ws.models.checklist(ref)
        self.say(escape(checklist.summary()))
        ws.models.promote(ref, to="production", reason="retrained on drifted data, canary healthy")
        endpoint = ws.endpoints.get("credit")
        if endpoint.policy.canary == ref:
            outcome = ws.endpoints.promote_canary("credit", reason="candidate promoted")
        else:
            outcome = ws.endpoints.deploy("credit", ref, reason="candidate promoted")
        self.say(escape(outcome.message))
        self.outcome.facts["production"] = ws.endpoints.get("credit").policy.production

    def lineage_and_report(self, ws: Workspace) -> None:
        self.step("lineage of one prediction, and the monitoring report")
        request_id = self.outcome.facts["request_id"]
        self.say(escape(ws.lineage(request_id).render(facts=False)))
        report = ws.monitors.report("credit", self.root / "monitoring-report.html")
        self.say(f"report: {report}")
        self.outcome.facts["report"] = str(report)

    def summary(self) -> None:
        facts = self.outcome.facts
        self.say("\n[bold]what happened[/]")
        self.say(
            f"  leakage caught: {facts.get('leakage_caught')}; gate refused then passed: "
            f"{facts.get('gate_failed_first')} / {facts.get('gate_passed')}"
        )
        self.say(
            f"  predictions served: {len(self.answered)}; canary sticky: {facts.get('sticky')}"
        )
        self.say(
            f"  drifted features: {', '.join(facts.get('drifted', [])) or 'none'}; "
            f"alerts at the webhook: {facts.get('webhook_alerts')}"
        )
        self.say(f"  retrain triggers: {facts.get('triggers')}")
        self.say(f"  production now: {facts.get('production')}")
        self.say(f"  audit trail intact: {facts.get('audit_ok')}; report: {facts.get('report')}")

    def audit(self, ws: Workspace) -> None:
        self.step("audit: every change above is in a hash-chained trail")
        verification = ws.audit.verify()
        self.say(f"audit trail intact: {verification.ok} ({verification.events_checked} events)")
        self.outcome.facts["audit_ok"] = verification.ok


def run_demo(directory: Path, *, fast: bool = False, say: Say = print) -> DemoOutcome:
    """Run the story in ``directory`` (created fresh, or replaced when it is a demo)."""
    root = directory.resolve()
    if (root / "stead.toml").exists() and not (root / MARKER).exists():
        raise FileExistsError(
            f"{root} is a stead workspace that the demo did not create; choose another --dir"
        )
    if root.exists():
        shutil.rmtree(root)
    return Story(root, fast=fast, say=say).run()


def month_time(month: int, *, day: int = 15) -> str:
    """A moment in month ``month`` of the scenario (30-day months from 2026-01-01)."""
    return (MONTH_ONE + timedelta(days=30 * (month - 1) + day - 1)).isoformat()


@contextmanager
def pinned_clock(when: str) -> Iterator[None]:
    """Make stead's clock read ``when`` in this process (``STEAD_NOW``)."""
    before = os.environ.get("STEAD_NOW")
    os.environ["STEAD_NOW"] = when
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("STEAD_NOW", None)
        else:
            os.environ["STEAD_NOW"] = before


def _drop_table(text: str, table: str) -> str:
    """Remove one ``[table]`` section (header to the next header) from TOML text."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == f"[{table}]"
        if not skipping:
            out.append(line)
    return "".join(out)
