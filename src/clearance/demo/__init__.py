"""Demo pieces: a sample service to deploy (`sample_service`) and steady traffic to watch it (`loadgen`)."""
