"""Root causes (issue 13, item 3): a node whose local error comes only from how its inputs are
represented in the target type is not charged; its producer is. Four planted models, each
docstring naming its culprit; the chain from the root cause to the first NaN/Inf and to the
failing outputs in the result (terminal, JSON `causes`, report)."""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import pytest
from attribution_helpers import attributed, hints_of, offender_nodes, save, score
from onnx import TensorProto, helper, numpy_helper

from trtdiff.attribution import local_error_ranking
from trtdiff.precision import PrecisionPlan


def _model(name: str, nodes: list[onnx.NodeProto], shape: list[int], out_shape: list[int],
           consts: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def underflow_then_log() -> onnx.ModelProto:
    """Culprit: `shrink` (Mul by 1e-9). sigmoid(x) * 1e-9 is below FP16's smallest subnormal, so
    `shrink`'s FP16 output is all zeros; `logit` (Log) then gives -inf, but FP32 log of those same
    zeros gives -inf too: `logit` only shows what `shrink` lost. `cancel` (l - l) makes NaN of the
    infinities and `out` carries it to y."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="squash"),
             helper.make_node("Mul", ["s", "tiny"], ["u"], name="shrink"),
             helper.make_node("Log", ["u"], ["l"], name="logit"),
             helper.make_node("Sub", ["l", "l"], ["c"], name="cancel"),
             helper.make_node("Add", ["c", "x"], ["y"], name="out")]
    return _model("underflow_then_log", nodes, [1, 256], [1, 256], {"tiny": np.array(1e-9)})


def overflow_then_divide() -> onnx.ModelProto:
    """Culprit: `scaled` (Mul by 500 of x * 400): x in [0, 1] times 2e5 passes 65504 for x > 0.33,
    so its FP16 output holds inf (its constants are in range: nothing keeps it in FP32). `norm`
    divides by 1e4 (back in range in FP32, at most 20) and gives inf where `scaled` did: FP32
    division of those infinities does the same, so `norm` is not charged."""
    nodes = [helper.make_node("Mul", ["x", "gain"], ["a"], name="amplify"),
             helper.make_node("Mul", ["a", "more"], ["big"], name="scaled"),
             helper.make_node("Div", ["big", "denom"], ["n"], name="norm"),
             helper.make_node("Add", ["n", "x"], ["y"], name="out")]
    return _model("overflow_then_divide", nodes, [4, 64], [4, 64],
                  {"gain": np.array(400.0), "more": np.array(500.0), "denom": np.array(1e4)})


def input_conversion_overflow() -> onnx.ModelProto:
    """Culprit: `norm` (Div). `scaled` multiplies by 2e5, a constant beyond FP16's range, so the
    plan keeps `scaled` in FP32 and its output is finite; `norm` is lowered and its own conversion
    of that input to FP16 makes inf (FP32 division of the converted input does the same, but no
    lowered producer lost it: the conversion is `norm`'s). Its hint says which input overflowed."""
    nodes = [helper.make_node("Mul", ["x", "gain"], ["big"], name="scaled"),
             helper.make_node("Div", ["big", "denom"], ["n"], name="norm"),
             helper.make_node("Add", ["n", "x"], ["y"], name="out")]
    return _model("input_conversion_overflow", nodes, [4, 64], [4, 64],
                  {"gain": np.array(2e5), "denom": np.array(1e4)})


def qdq_outlier_channel() -> onnx.ModelProto:
    """Culprit (native INT8): `proj` (MatMul). `features` multiplies channel 3 of x by 1000, so the
    per-tensor INT8 scale of `proj`'s input is set by that channel (step ~7.9) and the other seven
    channels (|x| < 1) quantize to zero. `features` itself stays FP32 in a Q/DQ model: the
    quantization is `proj`'s own (keeping `proj` unquantized fixes it), so it is not charged away."""
    gains = np.ones(8, np.float32)
    gains[3] = 1000.0
    weight = np.random.default_rng(3).normal(0, 0.5, (8, 16)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "gains"], ["f"], name="features"),
             helper.make_node("MatMul", ["f", "w"], ["p"], name="proj"),
             helper.make_node("Relu", ["p"], ["y"], name="head")]
    return _model("qdq_outlier_channel", nodes, [32, 8], [32, 16], {"gains": gains, "w": weight})


def nan_by_cancellation() -> onnx.ModelProto:
    """Culprit: `variance` (Sub), E[x^2] - E[x]^2 of x + 100. Both terms are about 10100, where
    FP16 steps are 8 apart, so the difference (about 0.08) cancels to a multiple of 8, some of them
    negative: `std` (Sqrt) makes NaN of those. Neither producer loses more than plain rounding on
    its own, so the cancellation is `variance`'s; `std` is where the NaN first appears."""
    nodes = [helper.make_node("Add", ["x", "offset"], ["shifted"], name="shift"),
             helper.make_node("Mul", ["shifted", "shifted"], ["sq"], name="square"),
             helper.make_node("ReduceMean", ["sq"], ["meansq"], name="mean_of_squares", axes=[1], keepdims=1),
             helper.make_node("ReduceMean", ["shifted"], ["mean"], name="mean", axes=[1], keepdims=1),
             helper.make_node("Mul", ["mean", "mean"], ["sqmean"], name="square_of_mean"),
             helper.make_node("Sub", ["meansq", "sqmean"], ["var"], name="variance"),
             helper.make_node("Sqrt", ["var"], ["y"], name="std")]
    return _model("nan_by_cancellation", nodes, [4, 64], [4, 1], {"offset": np.array(100.0)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("root_causes")
    results = {name: attributed(save(builder(), folder / f"{name}.onnx"), fp16=True)
               for name, builder in (("log", underflow_then_log), ("divide", overflow_then_divide),
                                     ("cancel", nan_by_cancellation))}
    results["qdq"] = attributed(save(qdq_outlier_channel(), folder / "qdq.onnx"), int8=True)
    return results


def test_underflow_then_log_charges_the_producer_not_the_log(runs) -> None:
    comparison = runs["log"]
    assert offender_nodes(comparison)[0] == "shrink" and math.isinf(score(comparison, "shrink"))
    assert score(comparison, "logit") < 1e-3
    (domain,) = [h for t in comparison.tensors if t.node == "logit" for h in t.hints]
    assert domain.kind == "domain"
    assert domain.message.startswith("'logit': log of values that flushed to zero in 'shrink' gives 256 -inf")
    assert not hints_of(comparison, "logit", "overflow")  # main said "overflow: 0 of 256 ... exceed"
    (chain,) = comparison.causes
    assert chain.describe() == ("shrink: underflows fp16: 100% flush to zero -> logit: log of zeros gives -inf "
                                "-> cancel: NaN first appears (256 of 256) -> y")


def test_bisect_ranking_puts_the_producer_first() -> None:
    feeds = {"x": np.random.default_rng(1).uniform(0, 1, (1, 256)).astype(np.float32)}
    assert local_error_ranking(underflow_then_log(), PrecisionPlan("fp16"), feeds)[0] == "shrink"


def test_overflow_then_divide(runs) -> None:
    comparison = runs["divide"]
    assert offender_nodes(comparison)[0] == "scaled" and score(comparison, "norm") < 1e-3
    (overflow,) = hints_of(comparison, "scaled", "overflow")
    assert overflow.figures["beyond_count"] > 0
    (domain,) = hints_of(comparison, "norm", "domain")
    assert "division of values that overflowed to ±inf in 'scaled' gives" in domain.message
    assert domain.figures["inf_count"] == overflow.figures["inf_count"]
    (chain,) = comparison.causes
    assert [s.node for s in chain.steps] == ["scaled", "norm"] and chain.outputs == ("y",)
    assert score(comparison, "amplify") < 1e-3


def test_a_node_that_converts_an_out_of_range_input_itself_is_the_culprit(tmp_path) -> None:
    comparison = attributed(save(input_conversion_overflow(), tmp_path / "conv.onnx"), fp16=True)
    assert offender_nodes(comparison)[0] == "norm" and math.isinf(score(comparison, "norm"))
    (hint,) = hints_of(comparison, "norm", "overflow")
    assert hint.message.startswith("'norm' converts its input 'big' to fp16, where ")
    assert hint.figures["beyond_count"] > 0


def test_qdq_outlier_channel_stays_with_the_quantized_node(runs) -> None:
    comparison = runs["qdq"]
    assert offender_nodes(comparison)[0] == "proj"
    assert score(comparison, "features") < score(comparison, "proj") / 10
    (hint,) = hints_of(comparison, "proj", "quantization")
    assert "'f'" in hint.message and hint.figures["zero_share"] > 0.8
    assert comparison.causes[0].steps[0].node == "proj"


def test_nan_created_by_a_cancellation(runs) -> None:
    comparison = runs["cancel"]
    assert offender_nodes(comparison)[0] == "variance"
    assert hints_of(comparison, "variance", "cancellation")
    assert hints_of(comparison, "std", "nan_origin")
    (chain,) = comparison.causes
    assert [s.node for s in chain.steps] == ["variance", "std"] and chain.outputs == ("y",)
    assert chain.describe().startswith("variance: cancels: inputs ")


def test_every_hint_is_true_to_its_numbers(runs) -> None:
    for comparison in runs.values():
        for tensor in comparison.tensors:
            for hint in tensor.hints:
                if hint.kind == "overflow":
                    assert hint.figures["beyond_count"] > 0 or "inside its computation" in hint.message, hint
                if hint.kind == "underflow":
                    assert hint.figures["flushed_share"] > 0 or hint.figures["subnormal_share"] > 0, hint
                if hint.kind == "domain":
                    assert sum(v for k, v in hint.figures.items() if k.endswith("_count")) > 0, hint


def test_chain_in_terminal_json_and_report(cli_run, tmp_path) -> None:
    model = save(underflow_then_log(), tmp_path / "log.onnx")
    result = cli_run("run", model, "--fp16", "--mark-all", "--json", tmp_path / "r.json", "--report",
                     tmp_path / "r.html")
    assert result.exit_code == 1, result.output
    text = "shrink: underflows fp16: 100% flush to zero -> logit: log of zeros gives -inf"
    assert f"Cause: {text}" in result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert [s["node"] for s in data["causes"][0]["steps"]] == ["shrink", "logit", "cancel"]
    assert data["causes"][0]["outputs"] == ["y"]
    assert text.replace(">", "&gt;") in (tmp_path / "r.html").read_text()


def test_bisect_ranking_tries_the_charged_reader_right_after_its_producer() -> None:
    """Keeping `shrink` in FP32 alone does not help while `logit` converts its input to FP16 (the
    flush happens there too): the ranking puts `logit` right after `shrink`, so the search's first
    prefix that passes is two nodes long."""
    from trtdiff.attribution.ranking import with_charged_readers

    feeds = {"x": np.random.default_rng(1).uniform(0, 1, (1, 256)).astype(np.float32)}
    assert local_error_ranking(underflow_then_log(), PrecisionPlan("fp16"), feeds)[:2] == ["shrink", "logit"]
    order = ["a", "x", "b", "c"]

    class R:  # the parts of LocalResult the reordering reads
        def __init__(self, node: str, tensor: str, charged_to: tuple[str, ...] = ()) -> None:
            self.node, self.tensor, self.charged_to = node, tensor, charged_to

    results = [R("a", "ta"), R("b", "tb", ("ta",)), R("c", "tc", ("tb",)), R("x", "tx")]
    assert with_charged_readers(order, results) == ["a", "b", "c", "x"]
