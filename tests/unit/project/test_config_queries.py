"""What the rest of clearance asks of a project: its steps, variables and lifecycle per case."""

from __future__ import annotations

import pytest

from clearance.project import Environment, Phase, ProjectConfig, parse_config

PROJECT = """\
project: shop
services:
  - name: web
  - name: worker
environments:
  - name: dev
  - name: qa
  - name: staging
    allow_prerelease: false
  - name: prod
    production: true
  - name: prod-eu
    production: true
    allow_prerelease: true
lifecycle:
  phases:
    - environments: [dev, qa]
      required: 1
      auto_deploy: true
    - name: testing
      environments: [staging]
      required: optional
    - environments: [prod, prod-eu]
hotfix_lifecycle:
  phases:
    - environments: [prod, prod-eu]
process:
  - name: backup
    script: ./backup.sh
    environments: [prod]
  - name: migrate
    script: ./migrate.sh
    services: [web]
    timeout: 1h30m
  - name: warm-cache
    script: ./warm.sh
    environments: [staging, prod]
    services: [web]
variables:
  - {name: LOG_LEVEL, value: debug}
  - {name: DB_PASSWORD, secret_env: PROD_DB_PASSWORD, environments: [prod]}
  - {name: LOG_LEVEL, value: warning, environments: [prod, prod-eu]}
  - {name: REPLICAS, value: 3, environments: [prod]}
"""


@pytest.fixture
def config() -> ProjectConfig:
    return parse_config(PROJECT, "clearance.yaml")


def test_steps_for_keeps_file_order_and_filters_by_scope(config: ProjectConfig) -> None:
    assert [step.name for step in config.steps_for("prod", "web")] == ["backup", "migrate", "warm-cache"]
    assert [step.name for step in config.steps_for("prod", "worker")] == ["backup"]
    assert [step.name for step in config.steps_for("dev", "worker")] == []
    assert config.steps_for("dev", "web")[0].timeout_seconds == 5400.0


def test_variables_for_gives_one_per_name_with_environment_overrides(config: ProjectConfig) -> None:
    prod = {variable.name: variable for variable in config.variables_for("prod")}
    assert list(prod) == ["LOG_LEVEL", "DB_PASSWORD", "REPLICAS"]
    assert prod["LOG_LEVEL"].value == "warning"
    assert prod["REPLICAS"].value == "3"
    assert prod["DB_PASSWORD"].is_secret and prod["DB_PASSWORD"].value is None

    dev = [(variable.name, variable.value) for variable in config.variables_for("dev")]
    assert dev == [("LOG_LEVEL", "debug")]


def test_hotfixes_follow_the_hotfix_lifecycle_when_there_is_one(config: ProjectConfig) -> None:
    assert config.lifecycle_for(hotfix=False) is config.lifecycle
    assert config.lifecycle_for(hotfix=True) is config.hotfix_lifecycle
    without_hotfix = config.model_copy(update={"hotfix_lifecycle": None})
    assert without_hotfix.lifecycle_for(hotfix=True) is config.lifecycle


def test_phases_say_how_many_environments_a_release_must_reach(config: ProjectConfig) -> None:
    development, testing, production = config.lifecycle.phases
    assert [phase.min_required() for phase in (development, testing, production)] == [1, 0, 2]
    assert [phase.display_name() for phase in (development, testing, production)] == [
        "dev+qa",
        "testing",
        "prod+prod-eu",
    ]


def test_prereleases_stay_out_of_production_unless_allowed(config: ProjectConfig) -> None:
    allowed = {env.name: env.allows_prerelease() for env in config.environments}
    assert allowed == {"dev": True, "qa": True, "staging": False, "prod": False, "prod-eu": True}


def test_lookups_by_name(config: ProjectConfig) -> None:
    assert config.environment("prod") == Environment(name="prod", production=True)
    assert config.environment("prodd") is None
    assert config.service("worker") is not None
    assert config.environment_names() == ["dev", "qa", "staging", "prod", "prod-eu"]
    assert config.service_names() == ["web", "worker"]


def test_models_are_frozen(config: ProjectConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        config.lifecycle.phases[0].auto_deploy = False  # type: ignore[misc]


def test_phases_can_be_built_in_code_too() -> None:
    assert Phase(environments=("a", "b", "c"), required=2).min_required() == 2
    assert Phase(environments=("a",)).display_name() == "a"
