"""Approvals: users and their roles, per-environment approval rules, and the decisions (approve or
reject) that count while the release's content is unchanged."""
