"""Tests of the bench package, one module per module of it."""
