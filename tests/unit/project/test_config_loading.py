"""A user writes clearance.yaml (or lets `clearance init` write it) and clearance reads it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from clearance.errors import NotFound
from clearance.project import (
    CONFIG_FILENAME,
    STARTER_CONFIG,
    ScriptStep,
    find_config,
    load_config,
    parse_config,
)

WriteConfig = Callable[[str], Path]


def test_the_starter_file_validates_and_describes_a_three_phase_project(write_config: WriteConfig) -> None:
    path = write_config(STARTER_CONFIG)

    loaded = load_config(path)

    config = loaded.config
    assert config.project == "shop"
    assert config.service_names() == ["web", "worker"]
    assert config.environment_names() == ["dev", "staging", "prod"]
    phases = [phase.display_name() for phase in config.lifecycle.phases]
    assert phases == ["development", "testing", "production"]
    assert config.lifecycle.phases[0].auto_deploy
    assert [step.name for step in config.process] == ["migrate"]
    assert any(variable.is_secret for variable in config.variables)


def test_loaded_config_knows_its_file_root_and_digest(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(STARTER_CONFIG)

    loaded = load_config(Path(CONFIG_FILENAME))

    assert loaded.path == path.resolve()
    assert loaded.path.is_absolute()
    assert loaded.root == tmp_path.resolve()
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_defaults_fill_what_the_file_leaves_out(write_config: WriteConfig) -> None:
    path = write_config(
        """
        project: shop
        services: [{name: web}]
        environments: [{name: dev}]
        lifecycle: {phases: [{environments: [dev]}]}
        process:
          - name: smoke
            script: ./smoke.sh
        """
    )

    config = load_config(path).config

    assert config.version == 1
    assert config.hotfix_lifecycle is None
    assert config.variables == ()
    phase = config.lifecycle.phases[0]
    assert (phase.name, phase.required, phase.auto_deploy) == (None, "all", False)
    assert config.process == (
        ScriptStep(name="smoke", script="./smoke.sh", timeout=600, environments=None, services=None),
    )
    assert config.process[0].timeout_seconds == 600.0


def test_variable_values_keep_the_text_the_user_wrote(write_config: WriteConfig) -> None:
    path = write_config(
        """
        project: shop
        services: [{name: web}]
        environments: [{name: dev}]
        lifecycle: {phases: [{environments: [dev]}]}
        variables:
          - {name: VERSION, value: 1.10}
          - {name: DEBUG, value: off}
          - {name: WORKERS, value: 4}
          - {name: RELEASED, value: 2024-05-01}
          - {name: QUOTED, value: "007"}
        """
    )

    values = {variable.name: variable.value for variable in load_config(path).config.variables}

    assert values == {
        "VERSION": "1.10",
        "DEBUG": "off",
        "WORKERS": "4",
        "RELEASED": "2024-05-01",
        "QUOTED": "007",
    }


def test_anchors_and_merge_keys_work_like_in_any_yaml_file(write_config: WriteConfig) -> None:
    path = write_config(
        """
        project: shop
        services: [{name: web}, {name: worker}]
        environments: [{name: staging}, {name: prod, production: true}]
        lifecycle: {phases: [{environments: [staging]}, {environments: [prod]}]}
        process:
          - &defaults
            name: migrate
            script: ./migrate.sh
            timeout: 90
          - <<: *defaults
            name: seed
            services: [web]
        """
    )

    steps = load_config(path).config.process

    assert [(step.name, step.script, step.timeout_seconds, step.services) for step in steps] == [
        ("migrate", "./migrate.sh", 90.0, None),
        ("seed", "./migrate.sh", 90.0, ("web",)),
    ]


def test_find_config_walks_up_from_a_subdirectory(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(STARTER_CONFIG)
    nested = tmp_path / "src" / "shop"
    nested.mkdir(parents=True)

    assert find_config(nested) == path.resolve()
    assert find_config(tmp_path) == path.resolve()


def test_find_config_without_a_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        find_config(tmp_path)

    assert caught.value.exit_code == 4
    assert caught.value.hint is not None and "clearance init" in caught.value.hint


def test_parse_config_reads_text_without_a_file() -> None:
    config = parse_config(STARTER_CONFIG, "clearance.yaml")

    assert config.environment("prod") is not None
    assert config.service("api") is None
