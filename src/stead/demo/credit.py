"""A realistic, seeded credit-default data generator.

Applicants arrive month by month with income, age, employment length, loan amount and
term, debt ratio, credit history, region and channel; each carries PII (name, email)
that must never reach a feature or a log, an id and an application time. The label
(``defaulted``) is known only 60 days after the application (``label_known_at``), and
the business KPI is the loss on a default (``loss_amount``).

Months 1–6 are stable. From month 7 three things change, as they do in real lending:
incomes shift down (data drift), a new ``mobile`` channel appears (a new category), and
the relationship between debt ratio and default weakens while the loan term starts to
matter (concept drift), so a model trained on months 1–6 really loses accuracy.

``collections_flag`` is a leaky column: it is set when the account went to collections,
which happens only after a default. Leakage checks must catch it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

LABEL_DELAY = timedelta(days=60)
REGIONS = ["north", "south", "east", "west", "central"]
CHANNELS = ["branch", "web", "partner"]
NEW_CHANNEL = "mobile"
PURPOSES = ["car", "home_improvement", "debt_consolidation", "education", "other"]
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
LAST_NAMES = ["Smith", "Okafor", "Garcia", "Kim", "Novak", "Rossi", "Sato", "Haddad"]
DRIFT_STARTS = 7


def generate_applications(
    *,
    months: range = range(1, 10),
    per_month: int = 2000,
    seed: int = 7,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> pd.DataFrame:
    """Applications for the given months (1-based), deterministic for a seed.

    Args:
        months: which months to generate; month 1 starts at ``start``.
        per_month: applications per month.
        seed: the whole table is a pure function of the seed and the arguments.
        start: the first day of month 1.

    Returns:
        One row per application, ordered by application time.
    """
    frames = [
        _month(month, per_month, np.random.default_rng([seed, month]), start) for month in months
    ]
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values("applied_at", kind="stable").reset_index(drop=True)


def _month(month: int, n: int, rng: np.random.Generator, start: datetime) -> pd.DataFrame:
    drifted = month >= DRIFT_STARTS
    month_start = start + timedelta(days=30 * (month - 1))
    applied_at = [
        month_start + timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 30 * 86400, n))
    ]

    age = np.clip(rng.normal(41, 12, n), 18, 85).round().astype(np.int64)
    income_scale = 0.75 if drifted else 1.0  # incomes fall from month 7
    income = (np.exp(rng.normal(np.log(52_000), 0.45, n)) * income_scale).round(-2)
    employment_years = np.clip(rng.gamma(2.0, 3.5, n), 0, age - 17).round(1)
    loan_amount = np.clip(np.exp(rng.normal(np.log(14_000), 0.6, n)), 1_000, 80_000).round(-2)
    loan_term_months = rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.35, 0.2, 0.15])
    debt_ratio = np.clip(rng.beta(2.2, 4.5, n) + loan_amount / income / 8, 0.01, 0.95).round(3)
    credit_history_years = np.clip(age - 18 - rng.gamma(2.0, 2.0, n), 0, None).round(1)
    open_accounts = rng.poisson(3.5, n)
    region = rng.choice(REGIONS, n, p=[0.22, 0.2, 0.2, 0.18, 0.2])
    channel_p = [0.45, 0.35, 0.2]
    channels = CHANNELS
    if drifted:  # a mobile app launches and takes a quarter of applications
        channels, channel_p = [*CHANNELS, NEW_CHANNEL], [0.33, 0.27, 0.15, 0.25]
    channel = rng.choice(channels, n, p=channel_p)
    purpose = rng.choice(PURPOSES, n)

    z_debt = (debt_ratio - 0.35) / 0.15
    z_income = (np.log(income) - np.log(52_000)) / 0.45
    z_loan = (np.log(loan_amount) - np.log(14_000)) / 0.6
    # Concept drift: after a change in lending policy, debt ratio stops predicting default
    # while the loan term starts to, so the trained model's ranking degrades.
    debt_effect = 0.1 if drifted else 0.8
    debt_cliff = 0.2 if drifted else 1.6  # risk jumps once debt passes half of income
    term_effect = 1.2 if drifted else 0.2
    logit = (
        -2.6
        + debt_effect * z_debt
        + debt_cliff * (debt_ratio > 0.5)
        - 0.55 * z_income
        + 0.25 * z_loan
        + 0.6 * z_loan * (z_income < -0.5)  # big loans hurt only the low earners
        - 0.06 * employment_years
        + 0.7 * ((age - 41) / 12) ** 2  # the youngest and the oldest default more
        - 0.03 * credit_history_years
        + 0.08 * (open_accounts - 3.5)
        + np.where(channel == "partner", 0.35, 0.0)
        + np.where(channel == NEW_CHANNEL, 0.25, 0.0)
        + np.where(region == "south", 0.15, 0.0)
        + term_effect * (loan_term_months - 36) / 16
    )
    defaulted = rng.random(n) < 1 / (1 + np.exp(-logit))
    loss_given_default = rng.uniform(0.4, 0.9, n)
    loss_amount = np.where(defaulted, (loan_amount * loss_given_default).round(2), 0.0)
    # Collections happen only after a default (and rarely by mistake): a leaky column.
    collections_flag = (defaulted & (rng.random(n) < 0.995)) | (rng.random(n) < 0.001)

    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    ids = [f"A{month:02d}-{i:06d}" for i in range(n)]
    return pd.DataFrame(
        {
            "application_id": ids,
            "applied_at": pd.to_datetime(applied_at, utc=True),
            "name": [f"{f} {s}" for f, s in zip(first, last, strict=True)],
            "email": [
                f"{f.lower()}.{s.lower()}{i}@example.com"
                for i, (f, s) in enumerate(zip(first, last, strict=True))
            ],
            "age": age,
            "income": income,
            "employment_years": employment_years,
            "loan_amount": loan_amount,
            "loan_term_months": loan_term_months.astype(np.int64),
            "debt_ratio": debt_ratio,
            "credit_history_years": credit_history_years,
            "open_accounts": open_accounts.astype(np.int64),
            "region": pd.array(region, dtype="str"),
            "channel": pd.array(channel, dtype="str"),
            "purpose": pd.array(purpose, dtype="str"),
            "collections_flag": collections_flag,
            "defaulted": defaulted.astype(np.int64),
            "loss_amount": loss_amount,
            "label_known_at": pd.to_datetime(applied_at, utc=True) + LABEL_DELAY,
        }
    )
