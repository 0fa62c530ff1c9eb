"""Tests (a package, so every test module has a unique name)."""
