"""A workspace with one deployed endpoint, for the serving benchmarks (imported by
``serve.py`` and ``oip_binary.py``, which run from this directory)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from stead.core.context import current_actor
from stead.workspace import Workspace


def deploy_workspace(
    root: Path, frame: pd.DataFrame, *, name: str, endpoint: str, features: str, problem: str
) -> None:
    """Init ``root``, train a LogisticRegression on ``frame`` (binary ``target``) with the
    feature code ``features``, register, reproduce, promote and deploy it as ``endpoint``."""
    Workspace.init(root)
    (root / "features.py").write_text(textwrap.dedent(features))
    with (root / "stead.toml").open("a") as fh:
        fh.write(
            textwrap.dedent(
                f"""
                [project]
                name = "{name}"
                owner = "{current_actor()}"
                problem = "{problem}"
                task = "binary"
                kpi = "none"
                assumptions = ["Synthetic features."]
                intended_use = "Benchmarking only."

                [features]
                definition = "features:build"

                [training]
                snapshot = "{name}"
                estimator = "sklearn.linear_model.LogisticRegression"
                seed = 7

                [monitoring]
                enabled = true

                [alerts]
                sinks = ["log"]
                """
            )
        )
    text = (root / "stead.toml").read_text()
    (root / "stead.toml").write_text(text.replace('# target = "default"', 'target = "target"', 1))
    with Workspace.open(root) as ws:
        ws.datasets.snapshot(frame, name=name)
        run = ws.runs.train().run.id
        ref = ws.models.register(run, name=name).version.ref
        ws.runs.reproduce(run)
        ws.models.promote(ref, to="production", reason="benchmark")
        ws.endpoints.deploy(endpoint, ref, reason="benchmark")
