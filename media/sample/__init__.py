"""The generated two-person sample recording (Zoom gallery view, espeak-ng voices, WebVTT
sidecar) that the demo, the tests and the benchmarks run on; its script is the ground truth."""
