"""Deploys beyond one host: a verified release on Docker Swarm, or rendered for Kubernetes
and Cloud Run, always pinned to the digest `invoke push` recorded."""
