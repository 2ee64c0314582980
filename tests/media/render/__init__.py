"""Tests of media.render."""
