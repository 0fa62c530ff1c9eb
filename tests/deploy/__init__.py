"""End-to-end deploys on a real engine: `nox -s deploy`."""
