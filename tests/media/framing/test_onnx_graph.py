"""The wire-level ONNX edit, on a model written byte by byte: Add(X, W) with a fixed 1×1×2×2
input and its weight W listed as a graph input too, as CenterFace's exporter left its graph."""

from __future__ import annotations

import numpy as np
import pytest

from media.framing import onnx_graph as g


def _msg(number: int, payload: bytes) -> bytes:
    return g.length_delimited(number, payload)


def _int(number: int, value: int) -> bytes:
    return g.varint(number << 3 | g.VARINT) + g.varint(value)


def _value_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_msg(1, _int(1, d)) for d in dims)  # TensorShapeProto.dim.dim_value
    tensor = _int(1, 1) + _msg(g.TENSOR_TYPE_SHAPE, shape)  # elem_type FLOAT, shape
    return _msg(g.VALUE_INFO_NAME, name.encode()) + _msg(g.VALUE_INFO_TYPE, _msg(1, tensor))


def tiny_model() -> bytes:
    node = _msg(1, b"X") + _msg(1, b"W") + _msg(2, b"Y") + _msg(4, b"Add")
    weight = _int(1, 1) + _int(2, 1) + _msg(g.TENSOR_NAME, b"W")
    weight += _msg(9, np.float32(1.5).tobytes())  # dims [1], FLOAT, raw_data
    graph = _msg(1, node) + _msg(2, b"tiny") + _msg(g.GRAPH_INITIALIZER, weight)
    graph += _msg(g.GRAPH_INPUT, _value_info("X", [1, 1, 2, 2]))
    graph += _msg(g.GRAPH_INPUT, _value_info("W", [1]))
    graph += _msg(g.GRAPH_OUTPUT, _value_info("Y", [1, 1, 2, 2]))
    opset = _msg(1, b"") + _int(2, 9)
    return _int(1, 4) + _msg(8, opset) + _msg(g.MODEL_GRAPH, graph)  # IR 4, opset 9


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def test_the_fixed_model_refuses_another_size_and_the_freed_one_runs_it():
    x = np.arange(15, dtype=np.float32).reshape(1, 1, 3, 5)
    with pytest.raises(Exception, match="dimensions"):
        _session(tiny_model()).run(None, {"X": x})
    freed = _session(g.free_shapes(tiny_model()))
    assert [i.name for i in freed.get_inputs()] == ["X"]  # the weight is no longer an input
    (y,) = freed.run(None, {"X": x})
    np.testing.assert_array_equal(y, x + 1.5)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**35])
def test_varints_round_trip(value):
    encoded = g.varint(value)
    assert g.read_varint(encoded + b"\x00", 0) == (value, len(encoded))


@pytest.mark.parametrize("broken", [b"\x0a\x05abc", b"\x08", b"\x0b"])
def test_bytes_that_are_not_a_message_are_refused(broken):
    with pytest.raises(ValueError, match="protobuf"):
        list(g.fields(broken))
