"""The commented clearance.yaml that `clearance init` writes: a working example of every key."""

from __future__ import annotations

STARTER_CONFIG = """\
# clearance.yaml: how this project is released and deployed.
# Every problem in this file is reported as `clearance.yaml:LINE: key: why`.

version: 1            # schema version of this file; only 1 exists

# Project name: lowercase letters, digits, '.', '_' and '-' (at most 63 characters).
project: shop

# What you deploy. Each service is released and deployed on its own.
services:
  - name: web
    description: "The storefront"     # optional, for people
  - name: worker
    description: "Background jobs"

# Where you deploy. Names follow the same rules as the project name.
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true                  # default false; production gets the strictest rules
    # allow_prerelease: false         # may prereleases (1.2.0-rc.1) deploy here?
    #                                 # default: yes everywhere except production environments

# The road a release travels. A release enters the next phase only after the phase before it
# is done; each environment belongs to exactly one phase.
lifecycle:
  phases:
    - name: development               # optional; default: the environment names joined with '+'
      environments: [dev]             # at least one environment
      required: all                   # how many must be deployed before moving on:
                                      #   all (default) | optional (none) | a number N
      auto_deploy: true               # deploy here as soon as a release is created (default false)
    - name: testing
      environments: [staging]
    - name: production
      environments: [prod]

# Optional: hotfix releases follow this lifecycle instead (same shape as `lifecycle`).
# hotfix_lifecycle:
#   phases:
#     - environments: [staging]
#       required: optional
#     - environments: [prod]

# Steps run in order on every deployment. A script runs in bash (in this file's directory) with
# CLEARANCE_PROJECT, CLEARANCE_RELEASE_VERSION, CLEARANCE_ENVIRONMENT, CLEARANCE_SERVICE,
# CLEARANCE_DEPLOYMENT_ID and the variables below in its environment.
process:
  - name: migrate                     # unique name of the step
    script: "echo migrating $CLEARANCE_SERVICE in $CLEARANCE_ENVIRONMENT"
    timeout: 5m                       # seconds (90) or 250ms / 30s / 5m / 1h / 1h30m; default 10m
    environments: [staging, prod]     # optional: only these environments (default: all)
    services: [web]                   # optional: only these services (default: all)
    # working_dir: scripts            # optional, relative to this file's directory

# Variables given to every step. A variable scoped to an environment overrides the unscoped one
# of the same name; two that could apply to one environment are an error.
variables:
  - name: LOG_LEVEL                   # letters, digits and '_'
    value: debug
  - name: LOG_LEVEL
    value: warning
    environments: [prod]
  - name: DB_PASSWORD
    secret_env: PROD_DB_PASSWORD      # a secret: read from this environment variable at deploy
    environments: [prod]              # time, never written to this file or the database
"""
