"""Tests of the deploys beyond one host."""
