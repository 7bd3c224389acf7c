"""The supervisor's answers that need no running service: bad input, unknown versions, start failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clearance.agent.replicas import ReplicaSupervisor
from clearance.delivery.targets.base import ServiceSpec
from clearance.errors import UsageError


def test_a_negative_count_is_a_usage_error(tmp_path: Path) -> None:
    with ReplicaSupervisor(tmp_path) as sup, pytest.raises(UsageError):
        sup.ensure("1.0.0", -1, ServiceSpec(command="true", port=1), {})


def test_unknown_versions_are_empty_and_stopping_them_is_a_no_op(tmp_path: Path) -> None:
    with ReplicaSupervisor(tmp_path) as sup:
        assert sup.status("9.9.9") == [] and sup.versions() == []
        sup.stop_version("9.9.9")
        sup.poll()


def test_a_missing_working_directory_is_reported_and_retried_later(tmp_path: Path) -> None:
    spec = ServiceSpec(command="true", port=1, cwd=str(tmp_path / "missing"))
    with ReplicaSupervisor(tmp_path / "work") as sup:
        sup.ensure("1.0.0", 2, spec, {})
        (first, second) = sup.status("1.0.0")
        assert first.pid is None and not first.ready and first.port != second.port
        assert "cannot start `true`" in first.last_error and "missing" in first.last_error
        sup.poll()  # within the backoff: no new attempt yet
        assert sup.status("1.0.0")[0].restarts == 0
        time.sleep(0.6)
        sup.poll()
        assert sup.status("1.0.0")[0].restarts == 1
        sup.ensure("1.0.0", 0, spec, {})
        assert sup.versions() == []


def test_scaling_to_zero_forgets_the_version(tmp_path: Path) -> None:
    with ReplicaSupervisor(tmp_path) as sup:
        sup.ensure("1.0.0", 1, ServiceSpec(command="sleep 30", port=1, drain_timeout=1), {})
        sup.ensure("2.0.0", 1, ServiceSpec(command="sleep 30", port=1, drain_timeout=1), {})
        assert sup.versions() == ["1.0.0", "2.0.0"]
        sup.ensure("1.0.0", 0, ServiceSpec(command="sleep 30", port=1), {})
        assert sup.versions() == ["2.0.0"] and len(sup.status()) == 1
