"""A user with a broken clearance.yaml sees every problem at once, each as `file:line: key: why`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clearance.errors import ConfigError
from clearance.project import load_config, parse_config

Problems = Callable[[str], list[str]]

VALID_HEAD = """\
project: shop
services:
  - name: web
  - name: worker
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
"""


def test_a_misspelt_environment_is_named_with_its_line_and_a_suggestion(problems: Problems) -> None:
    assert problems(
        """
        project: shop
        services:
          - name: web
        environments:
          - name: dev
          - name: staging
          - name: prod
            production: true
        lifecycle:
          phases:
            - environments: [dev]
              auto_deploy: true
            - environments: [staging]
            - environments: [prodd]
        """
    ) == [
        "clearance.yaml:14: lifecycle.phases[2].environments[0]: "
        "unknown environment 'prodd' (did you mean 'prod'?)"
    ]


def test_malformed_yaml_names_the_line_where_parsing_failed(problems: Problems) -> None:
    assert problems(
        """
        project: shop
        services:
          - name: web
           description: misaligned
        """
    ) == [
        "clearance.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>'"
        " (while parsing a block collection at line 3)"
    ]


def test_an_unclosed_quote_points_at_where_the_string_began(problems: Problems) -> None:
    assert problems('project: "shop\nservices: []\n') == [
        "clearance.yaml:3: invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar at line 1)"
    ]


def test_an_empty_file_is_reported_at_line_1(problems: Problems) -> None:
    assert problems("# nothing yet\n") == [
        "clearance.yaml:1: the file is empty: expected project, services, environments and lifecycle"
    ]


def test_a_list_at_the_top_is_reported_at_line_1(problems: Problems) -> None:
    assert problems("- project: shop\n") == [
        "clearance.yaml:1: the top level is not a mapping of keys: "
        "expected project, services, environments and lifecycle"
    ]


def test_an_unknown_key_suggests_the_allowed_key_it_resembles(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle:
  phases:
    - environments: [dev, staging, prod]
      auto_deploi: true
"""
    ) == ["clearance.yaml:13: lifecycle.phases[0].auto_deploi: unknown key (did you mean 'auto_deploy'?)"]


def test_an_unknown_top_level_key_lists_the_allowed_keys_when_nothing_is_close(problems: Problems) -> None:
    assert problems(VALID_HEAD + "lifecycle: {phases: [{environments: [dev]}]}\nzebra: 1\n") == [
        "clearance.yaml:11: zebra: unknown key (expected one of: version, project, services, environments, "
        "lifecycle, hotfix_lifecycle, process, variables, analysis_templates, versioning, flags)"
    ]


def test_the_same_key_twice_in_a_mapping_is_a_problem_not_a_silent_overwrite(problems: Problems) -> None:
    assert problems(VALID_HEAD + "lifecycle: {phases: [{environments: [dev]}]}\nproject: other\n") == [
        "clearance.yaml:11: project: duplicate key (first at line 1; YAML would keep only the last)"
    ]


def test_missing_required_keys_point_at_the_mapping_that_lacks_them(problems: Problems) -> None:
    assert problems(
        """
        # shop
        project: shop
        services:
          - description: no name
        """
    ) == [
        "clearance.yaml:2: environments: required key is missing",
        "clearance.yaml:2: lifecycle: required key is missing",
        "clearance.yaml:4: services[0].name: required key is missing",
    ]


def test_wrong_types_say_what_was_expected_and_what_was_found(problems: Problems) -> None:
    assert problems(
        """
        project: shop
        services: web
        environments:
          - name: prod
            production: maybe
        lifecycle:
          phases:
            - environments: prod
        """
    ) == [
        "clearance.yaml:2: services: expected a list, got 'web'",
        "clearance.yaml:5: environments[0].production: expected true or false, got 'maybe'",
        "clearance.yaml:8: lifecycle.phases[0].environments: expected a list, got 'prod'",
    ]


def test_a_value_that_is_one_thing_or_a_mapping_per_environment_gets_one_line_about_what_it_is(
    problems: Problems,
) -> None:
    """`port: 8080` or `port: {dev: 8080, prod: 8081}`: the problem of the form the value has, in
    words, never pydantic's member names (`constrained-int`, `dict[str,constrained-int]`)."""
    assert problems(
        """
        project: shop
        services:
          - name: web
            run:
              command: serve
              port: {dev: 22081, prod: 70000}
              replicas: {prod: 0}
          - name: api
            run:
              command: serve
              port: [1, 2]
              replicas: zero
        environments:
          - name: dev
          - name: prod
        lifecycle:
          phases:
            - environments: [dev, prod]
        """
    ) == [
        "clearance.yaml:6: services[0].run.port.prod: must be at most 65535, got 70000",
        "clearance.yaml:7: services[0].run.replicas.prod: must be at least 1, got 0",
        "clearance.yaml:11: services[1].run.port: expected a whole number or a mapping of keys, got a list",
        "clearance.yaml:12: services[1].run.replicas: expected a whole number or a mapping of keys, got 'zero'",
    ]


def test_duplicate_empty_and_invalid_names(problems: Problems) -> None:
    assert problems(
        """
        project: Shop
        services:
          - name: web
          - name: web
        environments:
          - name: ""
          - name: dev
        lifecycle:
          phases:
            - name: first
              environments: [dev]
            - name: first
              environments: [""]
        process:
          - {name: migrate, script: ./migrate.sh}
          - {name: migrate, script: ./seed.sh}
          - {name: " ", script: ./x.sh}
        """
    ) == [
        "clearance.yaml:1: project: invalid name 'Shop': use lowercase letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, at most 63 characters",
        "clearance.yaml:4: services[1].name: duplicate service name 'web' (first at line 3)",
        "clearance.yaml:6: environments[0].name: must not be empty",
        "clearance.yaml:12: lifecycle.phases[1].name: duplicate phase name 'first' (first at line 10)",
        "clearance.yaml:16: process[1].name: duplicate step name 'migrate' (first at line 15)",
        "clearance.yaml:17: process[2].name: must not be empty",
    ]


def test_a_lifecycle_needs_phases_and_a_phase_needs_environments(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle:
  phases: []
hotfix_lifecycle:
  phases:
    - environments: []
"""
    ) == [
        "clearance.yaml:11: lifecycle.phases: needs at least one phase",
        "clearance.yaml:14: hotfix_lifecycle.phases[0].environments: needs at least one environment",
    ]


def test_an_environment_belongs_to_one_phase_only(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle:
  phases:
    - name: early
      environments: [dev, staging, dev]
    - environments: [staging, prod]
"""
    ) == [
        "clearance.yaml:13: lifecycle.phases[0].environments[2]: "
        "environment 'dev' is already listed in this phase (line 13)",
        "clearance.yaml:14: lifecycle.phases[1].environments[0]: "
        "environment 'staging' is already listed in phase 'early' (line 13)",
    ]


def test_required_count_must_fit_the_phase(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle:
  phases:
    - environments: [dev, staging]
      required: 3
    - environments: [prod]
      required: 0
hotfix_lifecycle:
  phases:
    - environments: [prod]
      required: most
"""
    ) == [
        "clearance.yaml:13: lifecycle.phases[0].required: "
        "3 is out of range: this phase has only 2 environment(s)",
        "clearance.yaml:15: lifecycle.phases[1].required: 0 is out of range: "
        "use 'optional' for a phase that may be skipped",
        "clearance.yaml:19: hotfix_lifecycle.phases[0].required: "
        "must be 'all', 'optional' or a number of environments",
    ]


def test_process_steps_reference_known_environments_and_services(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle: {phases: [{environments: [dev, staging, prod]}]}
process:
  - name: migrate
    script: ./migrate.sh
    environments: [stagin]
    services: [wrker, api]
"""
    ) == [
        "clearance.yaml:14: process[0].environments[0]: "
        "unknown environment 'stagin' (did you mean 'staging'?)",
        "clearance.yaml:15: process[0].services[0]: unknown service 'wrker' (did you mean 'worker'?)",
        "clearance.yaml:15: process[0].services[1]: unknown service 'api' (expected one of: web, worker)",
    ]


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (
            "5x",
            "invalid duration '5x': use seconds (30) or numbers with units ms, s, m, h, d (days), w (weeks): 250ms, 30s, 5m, 1h30m, 2d12h, 1w",
        ),
        ("0", "invalid duration 0: must be more than zero"),
        ("'0s'", "invalid duration '0s': must be more than zero"),
        ("-3", "invalid duration -3: must be more than zero"),
    ],
)
def test_bad_durations(problems: Problems, timeout: str, message: str) -> None:
    config = (
        VALID_HEAD
        + "lifecycle: {phases: [{environments: [dev]}]}\n"
        + f"process:\n  - {{name: a, script: b, timeout: {timeout}}}\n"
    )
    assert problems(config) == [f"clearance.yaml:12: process[0].timeout: {message}"]


def test_working_dir_stays_inside_the_project(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle: {phases: [{environments: [dev]}]}
process:
  - {name: a, script: b, working_dir: /srv/app}
  - {name: b, script: b, working_dir: scripts/../../elsewhere}
  - {name: c, script: b, working_dir: scripts/../tools}
"""
    ) == [
        "clearance.yaml:12: process[0].working_dir: "
        "'/srv/app' must be relative to the project root, not absolute",
        "clearance.yaml:13: process[1].working_dir: 'scripts/../../elsewhere' leads outside the project root",
    ]


def test_variables_need_one_source_and_an_unambiguous_scope(problems: Problems) -> None:
    assert problems(
        VALID_HEAD
        + """\
lifecycle: {phases: [{environments: [dev, staging, prod]}]}
variables:
  - {name: LOG_LEVEL, value: debug}
  - {name: LOG_LEVEL, value: info}
  - {name: REGION, value: eu, environments: [staging, prod]}
  - {name: REGION, value: us, environments: [prod]}
  - {name: TOKEN, value: abc, secret_env: TOKEN}
  - {name: EMPTY}
  - {name: 2FAST, value: x}
"""
    ) == [
        "clearance.yaml:13: variables[1].name: ambiguous variable 'LOG_LEVEL' for all environments: "
        "also set at line 12",
        "clearance.yaml:15: variables[3].environments[0]: "
        "ambiguous variable 'REGION' for environment 'prod': also set at line 14",
        "clearance.yaml:16: variables[4]: set either value or secret_env, not both",
        "clearance.yaml:17: variables[5]: set value (a literal) or secret_env "
        "(read from the environment at deploy time)",
        "clearance.yaml:18: variables[6].name: invalid variable name '2FAST': "
        "use letters, digits and '_', not starting with a digit",
    ]


def test_only_version_1_of_the_file_format_is_read(problems: Problems) -> None:
    assert problems("version: 2\n" + VALID_HEAD + "lifecycle: {phases: [{environments: [dev]}]}\n") == [
        "clearance.yaml:1: version: unsupported file version 2: this clearance reads version 1"
    ]


def test_every_problem_of_the_file_is_reported_together_in_file_order(problems: Problems) -> None:
    assert problems(
        """
        project: shop
        services:
          - name: web
            descripton: typo
        environments:
          - name: prod
            production: true
        lifecycle:
          phases:
            - environments: [prodd]
        process:
          - name: migrate
            script: ./migrate.sh
            timeout: soon
        variables:
          - {name: DB, secret_env: DB_PASSWORD, environments: [dev]}
        project: shop
        """
    ) == [
        "clearance.yaml:4: services[0].descripton: unknown key (did you mean 'description'?)",
        "clearance.yaml:10: lifecycle.phases[0].environments[0]: "
        "unknown environment 'prodd' (did you mean 'prod'?)",
        "clearance.yaml:14: process[0].timeout: invalid duration 'soon': "
        "use seconds (30) or numbers with units ms, s, m, h, d (days), w (weeks): 250ms, 30s, 5m, 1h30m, 2d12h, 1w",
        "clearance.yaml:16: variables[0].environments[0]: unknown environment 'dev' (expected one of: prod)",
        "clearance.yaml:17: project: duplicate key (first at line 1; YAML would keep only the last)",
    ]


def test_a_missing_file_tells_the_user_to_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "clearance.yaml")
    assert caught.value.problems == ["clearance.yaml: file not found"]
    assert caught.value.hint is not None and "clearance init" in caught.value.hint
    assert caught.value.exit_code == 2


def test_a_file_outside_the_working_directory_is_shown_with_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = tmp_path / "clearance.yaml"
    config.write_text("project: shop\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.problems[0].startswith(f"{config.resolve()}:1: ")


def test_parse_config_labels_problems_with_the_given_file_name() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("project: [", "deploy/clearance.yaml")
    assert caught.value.problems[0].startswith("deploy/clearance.yaml:")
