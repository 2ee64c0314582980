"""Tests of media.selection."""
