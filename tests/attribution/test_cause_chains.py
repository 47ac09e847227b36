"""Cause chains link only the nodes that show the root's damage: a node that passes on rounding
charged to another producer is not a step of this root's chain (on an INT8 OCR detector, every
quantized Conv's readers carried `inherited` hints, and the chain of one root listed readers of
four other Convs as if its damage flowed through them)."""

from __future__ import annotations

from trtdiff.attribution.chains import cause_chains
from trtdiff.result import CauseHint, GraphNode, Offender, TensorResult


def _tensor(name: str, node: str, index: int, kind: str | None = None, output: bool = False) -> TensorResult:
    hints = (CauseHint(kind, node, f"{node} {kind}", {}, f"{kind} at {node}"),) if kind else ()
    return TensorResult(name, node, "Conv", index, (4,), "float32", is_output=output,
                        passed=False if output else None, hints=hints)


# x -> root -> a ; x -> other -> b ; (a, b) -> join -> y
GRAPH = (GraphNode("root", "Conv", 0, ("x",), ("a",)), GraphNode("other", "Conv", 1, ("x",), ("b",)),
         GraphNode("reader_a", "Relu", 2, ("a",), ("ra",)), GraphNode("reader_b", "Relu", 3, ("b",), ("rb",)),
         GraphNode("join", "Add", 4, ("ra", "rb"), ("y",)))
TENSORS = (_tensor("a", "root", 0, "quantization"), _tensor("b", "other", 1), _tensor("ra", "reader_a", 2, "inherited"),
           _tensor("rb", "reader_b", 3, "inherited"), _tensor("y", "join", 4, "inherited", output=True))
OFFENDERS = (Offender(1, "root", "a", "Conv", 0, 0.1, ("quantization",)),)


def test_a_step_charged_to_another_producer_is_left_out() -> None:
    charged = {"ra": ("a",), "rb": ("b",), "y": ("ra", "rb")}
    (chain,) = cause_chains(TENSORS, OFFENDERS, GRAPH, charged)
    assert [s.node for s in chain.steps] == ["root", "reader_a", "join"]
    assert chain.outputs == ("y",)


def test_a_step_charged_only_elsewhere_breaks_no_link_after_it() -> None:
    """`join` is charged to 'rb' alone (reader_b's story): it is not shown as root's damage."""
    charged = {"ra": ("a",), "rb": ("b",), "y": ("rb",)}
    (chain,) = cause_chains(TENSORS, OFFENDERS, GRAPH, charged)
    assert [s.node for s in chain.steps] == ["root", "reader_a"]


def test_an_inherited_hint_agrees_with_the_node_s_score() -> None:
    """On the demo at emulated INT8, 'block_relu' ranked 4th with score 0.0095 (the quantization of
    its own output) while its hint said it "adds no error of its own"; the hint now states that
    error, the score's own number."""
    from model_builders import REPO

    import trtdiff

    comparison = trtdiff.compare(REPO / "fixtures" / "demo_convnet.onnx", target="emulate:int8", mark_all=True,
                                 attribute=True)
    by_tensor = {t.name: t for t in comparison.tensors}
    checked = 0
    for offender in comparison.offenders:
        hint = next((h for h in by_tensor[offender.tensor].hints if h.kind == "inherited"), None)
        if hint is None or offender.score == 0:
            continue
        assert "adds no error of its own" not in hint.message
        assert f"adds only rounding of its own (relative error {offender.score:.3g})" in hint.message
        assert hint.figures["own_relative_rms"] == offender.score
        checked += 1
    assert checked >= 2
