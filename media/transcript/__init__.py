"""Transcripts: one model (words with times and speakers, sentences, turns) read from sidecar
cues (WebVTT, SRT) or word-level JSON, or recognised from the audio (pocketsphinx,
faster-whisper); cue-estimated word times are refined against speech activity (VAD)."""
