"""Tests of media.framing."""
