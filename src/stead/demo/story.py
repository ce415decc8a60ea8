"""The demo story: stead's lifecycle on the credit scenario, step by step.

Each step is an ordinary call to the public API, so the demo doubles as an example of
using stead from Python. The story grows with the stages that exist.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape

from stead.core.errors import GateFailed
from stead.demo.credit import generate_applications
from stead.demo.project import LEAKY, MONITORING_SETTINGS, PROJECT_SETTINGS, features_source
from stead.features.leakage import LeakageDetected
from stead.workspace import Workspace

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
            self.audit(ws)
        self.say(f"\n[bold green]done[/]: the workspace is at {self.root}")
        return self.outcome

    def init(self) -> None:
        self.step("init: a workspace with the embedded store (SQLite + local artifacts)")
        init = Workspace.init(self.root, actor=ACTOR)
        (self.root / MARKER).write_text("created by `stead demo`\n")
        settings = self.root / "stead.toml"
        text = settings.read_text()
        for table in ("columns", "teams", "auth"):
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
        settings = self.root / "stead.toml"
        settings.write_text(
            settings.read_text() + MONITORING_SETTINGS.format(webhook="http://127.0.0.1:9/alerts")
        )

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


def _drop_table(text: str, table: str) -> str:
    """Remove one ``[table]`` section (header to the next header) from TOML text."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == f"[{table}]"
        if not skipping:
            out.append(line)
    return "".join(out)
