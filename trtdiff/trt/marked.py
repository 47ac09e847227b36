"""Undo `trtdiff.model.with_outputs` for TensorRT: the comparison pipeline hands every runner a
model whose compared tensors were appended as graph outputs. For ONNX Runtime that is how
intermediate tensors are read; for TensorRT it would be the `outputs` mode (fusions broken, one
allocation per tensor). So the TensorRT target takes the marked model apart again: the original
outputs, and the appended tensors, which it then exposes in the chosen mode.

`with_outputs` appends after the model's own outputs, and an appended tensor is always consumed by
some node (it is an intermediate). The split point is therefore just after the last output that no
node consumes. Limit: a model's own outputs that are also consumed inside the graph and come last
in its output list are taken for appended ones; they are still compared (as wanted tensors), but
in `unfused` mode TensorRT may fuse them away.
"""

from __future__ import annotations

import onnx


def split_marked_outputs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """(the model with only its own outputs, the names of the appended outputs)."""
    consumed = {name for node in model.graph.node for name in node.input if name}
    outputs = list(model.graph.output)
    cut = 0
    for index, output in enumerate(outputs):
        if output.name not in consumed:
            cut = index + 1
    if cut == 0:  # every output is consumed inside: keep the first as the model's own
        cut = min(1, len(outputs))
    if cut == len(outputs):
        return model, []
    own = onnx.ModelProto()
    own.CopyFrom(model)
    del own.graph.output[cut:]
    return own, [o.name for o in outputs[cut:]]
