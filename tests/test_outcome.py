"""Attempt outcomes are one string-valued enum: every failure kind has one, JSON and text read as plain strings."""

from __future__ import annotations

import json

import pytest

from tppc_router import Attempt, FailureKind, Outcome


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_failure_kind_is_a_failed_outcome(kind: FailureKind) -> None:
    """Each failure kind maps to the outcome of the same value, and that outcome counts as failed."""
    outcome = Outcome.of(kind)
    assert outcome.value == kind.value and outcome.failed


@pytest.mark.parametrize("outcome", [Outcome.OK, Outcome.SKIPPED, Outcome.INTERRUPTED])
def test_non_failure_outcomes_are_not_failures(outcome: Outcome) -> None:
    """ok, skipped and interrupted are the outcomes that are not a failure kind."""
    assert not outcome.failed
    assert outcome.value not in {kind.value for kind in FailureKind}


def test_attempt_json_and_text_carry_the_plain_string() -> None:
    """An attempt's dict, JSON and description show the outcome's string value."""
    attempt = Attempt("primary", "gpt-5", Outcome.of(FailureKind.SERVER), 502, "bad gateway", 0.25)
    body = attempt.as_dict()
    assert type(body["outcome"]) is str and body["outcome"] == "server_error"
    assert json.loads(json.dumps(body))["outcome"] == "server_error"
    assert attempt.describe() == "primary [server_error 502]: bad gateway (250 ms)"
