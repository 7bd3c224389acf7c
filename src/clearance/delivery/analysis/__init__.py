"""Analysis: conditions and limits over measurements (Argo Rollouts' rules) and the statistical judge."""
