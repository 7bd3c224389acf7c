"""Gates: the evidence a release carries (parsed test, coverage and security reports) and, later, the
policies, approvals and windows that judge it."""
