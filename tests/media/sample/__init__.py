"""Tests of media.sample."""
