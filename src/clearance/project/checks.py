"""Rules that compare parts of clearance.yaml: duplicate names, unknown references, overlaps.

They run on the raw data, not on the validated models, so a file with a type error somewhere
still gets every other problem reported in the same run. Shapes the schema rejects are skipped
here: the schema already reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from clearance.project.document import KeyPath, Problem
from clearance.project.schema import VARIABLE_WITH_TWO_SOURCES, VARIABLE_WITHOUT_SOURCE
from clearance.project.suggestions import did_you_mean

LineOf = Callable[[KeyPath], int]


def cross_check(data: dict[str, object], line_of: LineOf) -> list[Problem]:
    """Every cross-reference problem of the file, as (key path, message)."""
    services = _named(data, "services")
    environments = _named(data, "environments")
    problems = _duplicates("services", "service", services, line_of)
    problems += _duplicates("environments", "environment", environments, line_of)
    # A broken `environments:` would make every reference look unknown; report it once instead.
    known_envs = [name for _, name in environments] if isinstance(data.get("environments"), list) else None
    known_services = [name for _, name in services] if isinstance(data.get("services"), list) else None
    for key in ("lifecycle", "hotfix_lifecycle"):
        lifecycle = data.get(key)
        if isinstance(lifecycle, dict):
            problems += _lifecycle((key,), lifecycle, known_envs, line_of)
    problems += _process(data, known_envs, known_services, line_of)
    problems += _variables(data, known_envs, line_of)
    problems += _ports(data, known_envs, line_of)
    problems += _analysis_references(data)
    return problems


def _entries(data: dict[str, object], key: str) -> Iterator[tuple[int, dict[str, object]]]:
    items = data.get(key)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _named(data: dict[str, object], key: str) -> list[tuple[int, str]]:
    return [(index, name) for index, item in _entries(data, key) if isinstance(name := item.get("name"), str)]


def _strings(value: object) -> list[tuple[int, str]]:
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, str)]


def _duplicates(key: str, kind: str, names: list[tuple[int, str]], line_of: LineOf) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, name in names:
        if name in first:
            line = line_of((key, first[name], "name"))
            problems.append(((key, index, "name"), f"duplicate {kind} name '{name}' (first at line {line})"))
        else:
            first[name] = index
    return problems


def _references(path: KeyPath, value: object, known: list[str] | None, kind: str) -> list[Problem]:
    if known is None:
        return []
    return [
        ((*path, index), f"unknown {kind} '{name}'{did_you_mean(name, known)}")
        for index, name in _strings(value)
        if name not in known
    ]


def _lifecycle(
    path: KeyPath, lifecycle: dict[str, object], known_envs: list[str] | None, line_of: LineOf
) -> list[Problem]:
    problems: list[Problem] = []
    phase_names: dict[str, tuple[int, bool]] = {}  # name -> (first phase index, written out)
    placed: dict[str, tuple[int, str, KeyPath]] = {}  # environment -> (phase index, phase name, where)
    for index, phase in _entries(lifecycle, "phases"):
        phase_path: KeyPath = (*path, "phases", index)
        envs_path: KeyPath = (*phase_path, "environments")
        problems += _references(envs_path, phase.get("environments"), known_envs, "environment")
        envs = _strings(phase.get("environments"))
        name = phase.get("name")
        display = name if isinstance(name, str) else "+".join(env for _, env in envs)
        for position, env in envs:
            if env not in placed:
                placed[env] = (index, display, (*envs_path, position))
                continue
            first_index, first_display, first_path = placed[env]
            where = "this phase" if first_index == index else f"phase '{first_display}'"
            message = f"environment '{env}' is already listed in {where} (line {line_of(first_path)})"
            problems.append(((*envs_path, position), message))
        explicit = isinstance(name, str)
        if display not in phase_names:
            phase_names[display] = (index, explicit)
        # Two unnamed phases share a name only if they list the same environments: reported above.
        elif explicit or phase_names[display][1]:
            name_path = (*phase_path, "name") if explicit else phase_path
            first_line = line_of((*path, "phases", phase_names[display][0]))
            problems.append((name_path, f"duplicate phase name '{display}' (first at line {first_line})"))
    return problems


def _process(
    data: dict[str, object], known_envs: list[str] | None, known_services: list[str] | None, line_of: LineOf
) -> list[Problem]:
    problems = _duplicates("process", "step", _named(data, "process"), line_of)
    for index, step in _entries(data, "process"):
        path: KeyPath = ("process", index)
        problems += _references((*path, "environments"), step.get("environments"), known_envs, "environment")
        problems += _references((*path, "services"), step.get("services"), known_services, "service")
    return problems


def _variables(data: dict[str, object], known_envs: list[str] | None, line_of: LineOf) -> list[Problem]:
    problems: list[Problem] = []
    # name -> scope -> where first set; scope None means "every environment".
    seen: dict[str, dict[str | None, KeyPath]] = {}
    for index, variable in _entries(data, "variables"):
        name = variable.get("name")
        scope = variable.get("environments")
        problems += _references(("variables", index, "environments"), scope, known_envs, "environment")
        sources = [variable.get(key) is not None for key in ("value", "secret_env")]
        if all(sources) or not any(sources):
            message = VARIABLE_WITH_TWO_SOURCES if all(sources) else VARIABLE_WITHOUT_SOURCE
            problems.append((("variables", index), message))
        if not isinstance(name, str) or not (scope is None or isinstance(scope, list)):
            continue
        scopes = seen.setdefault(name, {})
        targets: list[tuple[str | None, KeyPath]] = (
            [(None, ("variables", index, "name"))]
            if scope is None
            else [(env, ("variables", index, "environments", position)) for position, env in _strings(scope)]
        )
        for env, path in targets:
            if env in scopes:
                where = "all environments" if env is None else f"environment '{env}'"
                message = f"ambiguous variable '{name}' for {where}: also set at line {line_of(scopes[env])}"
                problems.append((path, message))
            else:
                scopes[env] = path
    return problems


def _ports(data: dict[str, object], known_envs: list[str] | None, line_of: LineOf) -> list[Problem]:
    """Every `run:` service needs a port in each environment, and no two listeners may share one."""
    problems: list[Problem] = []
    taken: dict[int, tuple[str, KeyPath]] = {}  # port -> (who, where)

    def claim(port: object, who: str, path: KeyPath) -> None:
        if not isinstance(port, int) or isinstance(port, bool):
            return
        if port in taken:
            other, where = taken[port]
            problems.append((path, f"port {port} is already used by {other} (line {line_of(where)})"))
        else:
            taken[port] = (who, path)

    envs = known_envs or []
    for index, service in _entries(data, "services"):
        run = service.get("run")
        if not isinstance(run, dict):
            continue
        name = service.get("name")
        port_path: KeyPath = ("services", index, "run", "port")
        port = run.get("port")
        if isinstance(port, dict):
            for env in port:
                if known_envs is not None and env not in known_envs:
                    message = f"unknown environment '{env}'{did_you_mean(str(env), known_envs)}"
                    problems.append(((*port_path, env), message))
            for env in envs:
                if env not in port:
                    problems.append((port_path, f"no port for environment '{env}'"))
                else:
                    claim(port[env], f"service '{name}' in {env}", (*port_path, env))
        elif len(envs) > 1 and isinstance(port, int):
            # One machine cannot listen on one port for several environments: say so up front.
            problems.append(
                (
                    port_path,
                    f"one port for {len(envs)} environments: give one per environment "
                    f"(port: {{{envs[0]}: {port}, {envs[1]}: {port + 1}, ...}})",
                )
            )
        else:
            claim(port, f"service '{name}'", port_path)
        replicas = run.get("replicas")
        if isinstance(replicas, dict) and known_envs is not None:
            for env in replicas:
                if env not in known_envs:
                    message = f"unknown environment '{env}'{did_you_mean(str(env), known_envs)}"
                    problems.append((("services", index, "run", "replicas", env), message))
    for index, env in _entries(data, "environments"):
        strategy = env.get("strategy")
        if isinstance(strategy, dict):
            claim(
                strategy.get("preview_port"),
                f"the preview of {env.get('name')}",
                ("environments", index, "strategy", "preview_port"),
            )
    return problems


def _analysis_references(data: dict[str, object]) -> list[Problem]:
    """Every `analysis: {template: …}` of a strategy names a template of `analysis_templates`."""
    templates = [name for _, name in _named(data, "analysis_templates")]
    problems: list[Problem] = []
    for index, env in _entries(data, "environments"):
        strategy = env.get("strategy")
        if not isinstance(strategy, dict):
            continue
        base: KeyPath = ("environments", index, "strategy")
        refs: list[tuple[KeyPath, object]] = [
            ((*base, key), strategy.get(key))
            for key in ("background_analysis", "pre_promotion_analysis", "post_promotion_analysis")
        ]
        steps = strategy.get("steps")
        if isinstance(steps, list):
            refs += [
                ((*base, "steps", i, "analysis"), step.get("analysis"))
                for i, step in enumerate(steps)
                if isinstance(step, dict)
            ]
        for path, ref in refs:
            name = ref.get("template") if isinstance(ref, dict) else None
            if isinstance(name, str) and name not in templates:
                hint = did_you_mean(name, templates) if templates else " (no analysis_templates are defined)"
                problems.append(((*path, "template"), f"unknown analysis template '{name}'{hint}"))
    return problems
