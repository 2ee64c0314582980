"""Tests of media.transcript."""
