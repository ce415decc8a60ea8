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

from stead.demo.credit import generate_applications
from stead.workspace import Workspace

DEMO_SETTINGS = """
[columns]
id = "application_id"
time = "applied_at"
target = "defaulted"
pii = ["name", "email"]
post_prediction = ["collections_flag", "loss_amount", "label_known_at"]
"""


@dataclass
class DemoOutcome:
    root: Path
    facts: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)


Say = Callable[[str], None]


def run_demo(directory: Path, *, fast: bool = False, say: Say = print) -> DemoOutcome:
    """Run the story in ``directory`` (created fresh, or reused when it is a demo)."""
    per_month = 600 if fast else 2000
    root = directory.resolve()
    if (root / "stead.toml").exists() and not (root / ".stead" / "demo").exists():
        raise FileExistsError(
            f"{root} is a stead workspace that the demo did not create; choose another --dir"
        )
    if root.exists():
        shutil.rmtree(root)
    outcome = DemoOutcome(root=root)

    def step(title: str) -> None:
        outcome.steps.append(title)
        say(f"\n[bold cyan]▶ {title}[/]")

    step("1. init: a workspace with the embedded store (SQLite + local artifacts)")
    init = Workspace.init(root)
    (root / ".stead" / "demo").write_text("created by `stead demo`\n")
    settings = root / "stead.toml"
    settings.write_text(_drop_table(settings.read_text(), "columns") + DEMO_SETTINGS)
    say(init.message)

    with Workspace.open(root) as ws:
        step("2. snapshot: months 1–6 of loan applications become credit@1")
        history = generate_applications(months=range(1, 7), per_month=per_month)
        source = root / "applications_m1_6.csv"
        history.to_csv(source, index=False)
        snap = ws.datasets.snapshot_file(source, name="credit").snapshot
        say(
            f"{snap.ref}: {snap.rows} rows, content {snap.content_hash[:12]}; PII columns "
            f"{snap.schema.with_role('pii')} marked, never to become features"
        )
        outcome.facts["snapshot"] = snap.ref

        step("3. contract: months 7–9 checked against credit@1's contract")
        recent = generate_applications(months=range(7, 10), per_month=per_month)
        report = ws.datasets.validate(recent, snap.ref)
        for violation in report.violations:
            say(f"  {violation.severity}: {violation.message}")
        outcome.facts["contract_violations"] = [v.kind for v in report.violations]

        step("4. audit: every change above is in a hash-chained trail")
        verification = ws.audit.verify()
        say(f"audit trail intact: {verification.ok} ({verification.events_checked} events)")
        outcome.facts["audit_ok"] = verification.ok

    say(f"\n[bold green]done[/]: the workspace is at {root}")
    return outcome


def _drop_table(text: str, table: str) -> str:
    """Remove one ``[table]`` section (header to the next header) from TOML text."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("["):
            skipping = line.strip() == f"[{table}]"
        if not skipping:
            out.append(line)
    return "".join(out)
