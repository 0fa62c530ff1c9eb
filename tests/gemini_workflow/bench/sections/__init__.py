"""Tests of the bench sections."""
