"""Change requests (ITIL mode): an environment with `change_control:` deploys only under an approved
change request. `policy` is the config, `risk` scores and classifies a change, `cab` judges the
decisions on it — all pure; `service` keeps the requests in the store and hooks into deployments."""
