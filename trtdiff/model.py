"""ONNX model handling: load and save (external data, models over 2 GB), node naming,
topological order, the list of comparable tensors, and marking tensors as graph outputs.

Nothing here runs a model; runners take what `session_source` gives them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx
from google.protobuf.message import EncodeError
from onnx import helper

from trtdiff.errors import ModelError, UsageError
from trtdiff.fileio import atomic_output
from trtdiff.result import UnmarkedTensors

log = logging.getLogger(__name__)

PROTOBUF_LIMIT = 2**31 - 1
SUBGRAPH_OPS = ("If", "Loop", "Scan")
SHAPE_SOURCE_OPS = ("Shape", "Size")


@dataclass(frozen=True)
class TensorInfo:
    """One tensor that can be compared: the output of a node in the main graph."""

    name: str
    node: str
    op_type: str
    index: int  # topological index of the producing node
    elem_type: int  # onnx.TensorProto data type, 0 when unknown
    shape: tuple[int | str | None, ...] | None

    @property
    def dtype_name(self) -> str:
        if not self.elem_type:
            return "unknown"
        return str(helper.tensor_dtype_to_np_dtype(self.elem_type))


def load_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load a model with its external data; every node gets a unique name."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(
            f"model file not found: {file}",
            "the path does not name a file",
            "check the path, or pass the .onnx file itself rather than its folder",
        )
    try:
        model = onnx.load(str(file), load_external_data=True)
    except Exception as err:  # onnx raises DecodeError, OSError, ValidationError...
        raise ModelError(
            f"cannot read {file} as an ONNX model",
            f"{type(err).__name__}: {str(err)[:200]}".strip(": "),
            "check that it is a complete .onnx file and that its external data files sit beside it",
        ) from err
    if not model.graph.node:
        raise ModelError(f"{file} has no nodes", "the graph is empty or the file is not an ONNX model",
                         "pass a model exported by your framework")
    _check_opsets(model, file)
    ensure_node_names(model)
    return model


def _check_opsets(model: onnx.ModelProto, file: Path) -> None:
    """Refuse an ai.onnx opset newer than any the installed onnx defines: no operator of it has a
    known meaning, and ONNX Runtime's own refusal names a C++ source line instead of the model."""
    newest = onnx.defs.onnx_opset_version()
    for imported in model.opset_import:
        if imported.domain in ("", "ai.onnx") and imported.version > newest:
            raise ModelError(f"{file} imports ai.onnx opset {imported.version}",
                             f"the newest opset the installed onnx {onnx.__version__} knows is {newest}",
                             "export the model with an older opset, or upgrade onnx and onnxruntime")


def exceeds_protobuf_limit(model: onnx.ModelProto) -> bool:
    """True when the model cannot be serialized in one piece (protobuf's 2 GB limit); newer
    protobuf raises instead of answering ByteSize() for such a message."""
    try:
        return model.ByteSize() > PROTOBUF_LIMIT
    except EncodeError:
        return True


def _save_external(model: onnx.ModelProto, path: str, location: str) -> None:
    """Save with weights in `location` beside `path`. onnx moves the weights out of the in-memory
    model while saving; they are read back so the caller's model is unchanged afterwards."""
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=1024)
    onnx.load_external_data_for_model(model, os.path.dirname(path))


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write atomically; models over 2 GB get their weights in `<name>.data` beside them."""
    target = Path(path)
    with atomic_output(target) as temporary:
        if exceeds_protobuf_limit(model):
            _save_external(model, str(temporary), f"{target.name}.data")
        else:
            onnx.save_model(model, str(temporary))


@contextlib.contextmanager
def session_source(model: onnx.ModelProto) -> Iterator[bytes | str]:
    """What an inference session is built from: serialized bytes, or for a model over the 2 GB
    protobuf limit a temporary .onnx file with external data. (Serializing is tried first: asking
    protobuf for the size takes about twice as long as serializing.)"""
    try:
        serialized: bytes | None = model.SerializeToString()
    except (ValueError, EncodeError):  # over protobuf's 2 GB limit
        serialized = None
    if serialized is not None:
        yield serialized
        return
    with tempfile.TemporaryDirectory(prefix="trtdiff-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        _save_external(model, path, "model.onnx.data")
        yield path


def ensure_node_names(model: onnx.ModelProto) -> None:
    """Give every main-graph node a unique, stable name: `<op_type>_<position>` where missing or
    repeated. Plans, attribution and reports all refer to nodes by name."""
    seen: set[str] = set()
    for position, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            base = f"{node.op_type}_{position}"
            name = base
            suffix = 1
            while name in seen:
                name = f"{base}_{suffix}"
                suffix += 1
            node.name = name
        seen.add(node.name)


def topological_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes in an order where producers come before consumers, keeping the file's order where
    it is already valid. Raises ModelError on a cycle."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        progressed = False
        rest = []
        for node in pending:
            if all(name in available for name in node_inputs(node)):
                ordered.append(node)
                available.update(node.output)
                progressed = True
            else:
                rest.append(node)
        if not progressed:
            raise _unorderable(rest, available)
        pending = rest
    return ordered


def _unorderable(stuck: list[onnx.NodeProto], available: set[str]) -> ModelError:
    """The error for nodes that can never run: a cycle among them, or inputs nobody produces."""
    cycle = _cycle(stuck)
    if cycle:
        path = " -> ".join(f"'{n.name}'" if n.name else f"{n.op_type} '{n.output[0]}'" for n in [*cycle, cycle[0]])
        return ModelError("the graph has a cycle", f"{path} feed each other, so none of them can run first",
                          "check how the model was exported or edited (onnx.checker.check_model)")
    missing = sorted({n for node in stuck for n in node_inputs(node)} - available)[:5]
    return ModelError("the graph cannot be put in topological order",
                      f"{len(stuck)} nodes wait on tensors nobody produces ({', '.join(missing)})",
                      "check the model with onnx.checker.check_model")


def _cycle(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Some cycle among `nodes` (each feeding the next, the last feeding the first), or []."""
    producer = {name: index for index, node in enumerate(nodes) for name in node.output}
    feeds = [[producer[name] for name in node_inputs(node) if name in producer] for node in nodes]
    state = [0] * len(nodes)  # 0 unseen, 1 on the current path, 2 done
    for start in range(len(nodes)):
        path: list[int] = []
        stack = [(start, iter(feeds[start]))] if state[start] == 0 else []
        while stack:
            index, following = stack[-1]
            if state[index] == 0:
                state[index] = 1
                path.append(index)
            step = next(following, None)
            if step is None:
                state[index] = 2
                path.pop()
                stack.pop()
            elif state[step] == 1:
                return [nodes[i] for i in reversed(path[path.index(step):])]
            elif state[step] == 0:
                stack.append((step, iter(feeds[step])))
    return []


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The bodies of an If/Loop/Scan (or any node with graph attributes). (A list, at once empty for
    a node without attributes: transforms ask it of every node.)"""
    if not node.attribute:
        return []
    bodies: list[onnx.GraphProto] = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            bodies.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            bodies.extend(attr.graphs)
    return bodies


def outer_names(graph: onnx.GraphProto) -> set[str]:
    """Tensors a (sub)graph reads from enclosing scopes, nested bodies included."""
    local = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    used: set[str] = set()
    for node in graph.node:
        local.update(node.output)
        used.update(node_inputs(node))
    return used - local


def body_reads(node: onnx.NodeProto) -> set[str]:
    """Tensors of the enclosing graph that a node's bodies read (beyond its listed inputs)."""
    return {name for sub in subgraphs(node) for name in outer_names(sub)}


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """A node's non-empty inputs, then the outer-scope tensors its bodies read: everything that
    must exist before the node can run."""
    inputs = [n for n in node.input if n]
    outer = body_reads(node) if node.attribute else None  # (only a graph attribute reads outer names)
    return inputs + sorted(outer - set(node.input)) if outer else inputs


def user_input_names(model: onnx.ModelProto) -> list[str]:
    """Graph inputs the user must feed: inputs that also have an initializer are weights."""
    weights = {init.name for init in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in weights]


def inferred_value_info(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Value info for every tensor shape inference can type, plus inputs and outputs."""
    try:
        if exceeds_protobuf_limit(model):
            inferred = _infer_shapes_large(model)
        else:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as err:  # onnx raises InferenceError, ValidationError, ...: shapes are best effort
        log.debug("shape inference failed, shapes stay unknown: %s", err)
        inferred = model
    infos = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        infos[vi.name] = vi
    for init in model.graph.initializer:
        infos.setdefault(init.name, helper.make_tensor_value_info(init.name, init.data_type, init.dims))
    return infos


def _infer_shapes_large(model: onnx.ModelProto) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory(prefix="trtdiff-shapes-") as tmp:
        src = os.path.join(tmp, "in.onnx")
        dst = os.path.join(tmp, "out.onnx")
        _save_external(model, src, "in.data")
        onnx.shape_inference.infer_shapes_path(src, dst)
        return onnx.load(dst, load_external_data=False)


INSERTED = "inserted by trtdiff"  # doc_string of the Casts and Q/DQ a precision plan inserts


def original_readers(model: onnx.ModelProto, node_name: str) -> list[str]:
    """The nodes of the original model that read what inserted node `node_name` makes (through
    other inserted nodes): those a user can keep in FP32. [node_name] when it is not inserted."""
    nodes = {n.name: n for n in model.graph.node}
    if node_name not in nodes or nodes[node_name].doc_string != INSERTED:
        return [node_name]
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found: list[str] = []
    stack, seen = [nodes[node_name]], set()
    while stack:
        node = stack.pop()
        for reader in (r for out in node.output for r in readers.get(out, ())):
            if reader.name in seen:
                continue
            seen.add(reader.name)
            (stack.append(reader) if reader.doc_string == INSERTED else found.append(reader.name))
    return sorted(found)


def value_shape(vi: onnx.ValueInfoProto | None) -> tuple[int | str | None, ...] | None:
    """A value's dimensions (ints, symbolic names, None where neither is set); None: rank unknown.
    A negative dim_value (exporters such as PaddlePaddle's write -1 for "any") is dynamic: None."""
    if vi is None or not vi.type.tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for dim in vi.type.tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value >= 0:
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _elem_type_of(vi: onnx.ValueInfoProto | None) -> int:
    return int(vi.type.tensor_type.elem_type) if vi is not None else 0


def data_dependent_tensors(model: onnx.ModelProto) -> set[str]:
    """Tensors whose values depend on the values of user inputs (not only on their shapes)."""
    return data_tensors(model.graph, set(), is_main=True)


def data_tensors(graph: onnx.GraphProto, outer_data: set[str], is_main: bool) -> set[str]:
    """Tensors of `graph` whose values depend on the values fed to the model (not only on shapes
    and constants). In the main graph, inputs that are not initializers are data; in a body, every
    body input is data; outer-scope names are data when they were data outside."""
    inits = {i.name for i in graph.initializer}
    data = set(outer_data)
    data.update(i.name for i in graph.input if not (is_main and i.name in inits))
    for node in topological_nodes(graph) if is_main else graph.node:
        if node.op_type not in SHAPE_SOURCE_OPS and any(n in data for n in node_inputs(node)):
            data.update(o for o in node.output if o)
    return data


def comparable_tensors(
    model: onnx.ModelProto, include_shape_tensors: bool = False,
    infos: dict[str, onnx.ValueInfoProto] | None = None,
) -> tuple[list[TensorInfo], list[UnmarkedTensors]]:
    """Every main-graph node output worth comparing, in topological order, and what was left
    out because it cannot be a graph output (tensors inside If/Loop/Scan bodies).

    Left out on purpose: Constant outputs, and unless `include_shape_tensors`, integer/bool
    tensors that depend only on shapes and constants (shape plumbing: identical on both sides)."""
    infos = infos if infos is not None else inferred_value_info(model)
    dependent = data_dependent_tensors(model)
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                   onnx.TensorProto.BFLOAT16}
    tensors: list[TensorInfo] = []
    unmarked: list[UnmarkedTensors] = []
    for index, node in enumerate(topological_nodes(model.graph)):
        if node.op_type in SUBGRAPH_OPS:
            inner = sum(_count_subgraph_tensors(g) for g in subgraphs(node))
            if inner:
                unmarked.append(UnmarkedTensors(
                    node.name, node.op_type, inner,
                    f"tensors inside {node.op_type} bodies cannot be graph outputs; "
                    "only the node's own outputs are compared"))
        if node.op_type == "Constant":
            continue
        for name in node.output:
            if not name:
                continue
            vi = infos.get(name)
            if vi is not None and vi.type.WhichOneof("value") not in (None, "tensor_type"):
                unmarked.append(UnmarkedTensors(node.name, node.op_type, 1,
                                                f"'{name}' is a {vi.type.WhichOneof('value')[:-5]}, not a tensor"))
                continue
            elem_type = _elem_type_of(vi)
            is_plumbing = name not in dependent and elem_type not in float_types
            if is_plumbing and not include_shape_tensors:
                continue
            tensors.append(TensorInfo(name, node.name, node.op_type, index, elem_type, value_shape(vi)))
    return tensors, unmarked


def tensor_info(model: onnx.ModelProto, name: str, infos: dict[str, onnx.ValueInfoProto] | None = None,
                nodes: Sequence[onnx.NodeProto] | None = None) -> TensorInfo:
    """The TensorInfo of any tensor of the main graph (node output, graph input or initializer),
    for tensors a user names explicitly even where --mark-all would skip them. `infos` and `nodes`
    (the topological order): the model's, when the caller has them."""
    vi = (infos if infos is not None else inferred_value_info(model)).get(name)
    for index, node in enumerate(nodes if nodes is not None else topological_nodes(model.graph)):
        if name in node.output:
            return TensorInfo(name, node.name, node.op_type, index, _elem_type_of(vi), value_shape(vi))
    return TensorInfo(name, "", "", -1, _elem_type_of(vi), value_shape(vi))


def _count_subgraph_tensors(graph: onnx.GraphProto) -> int:
    count = 0
    for node in graph.node:
        count += sum(1 for o in node.output if o)
        count += sum(_count_subgraph_tensors(g) for g in subgraphs(node))
    return count


def with_outputs(model: onnx.ModelProto, names: Iterable[str],
                 infos: dict[str, onnx.ValueInfoProto] | None = None) -> onnx.ModelProto:
    """A copy of `model` whose graph outputs are its own outputs plus `names`, typed from
    shape inference where known (left untyped otherwise: ONNX Runtime accepts that)."""
    wanted = [n for n in dict.fromkeys(names)]
    existing = {o.name for o in model.graph.output}
    if infos is None:
        infos = inferred_value_info(model) if any(n not in existing for n in wanted) else {}
    marked = onnx.ModelProto()
    marked.CopyFrom(model)
    for name in wanted:
        if name in existing:
            continue
        vi = infos.get(name)
        if vi is not None and vi.type.tensor_type.elem_type:
            out = onnx.ValueInfoProto()
            out.CopyFrom(vi)
            out.type.tensor_type.ClearField("shape")  # shapes may be symbolic; let the runtime decide
        else:
            out = helper.make_empty_tensor_value_info(name)
        marked.graph.output.append(out)
    return marked


def drop_unread_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model`, changed in place, without the main graph's Constant nodes whose value nothing reads
    (no node, body or graph output). ONNX Runtime drops them itself when it loads a model, after
    parsing them: a precision transform leaves the original of every constant it converted, which
    for a model of Constant weights doubles what a session is built from."""
    read = {o.name for o in model.graph.output}
    for node in model.graph.node:
        read.update(node_inputs(node))
    nodes = model.graph.node
    for index in reversed(range(len(nodes))):
        node = nodes[index]
        if node.op_type == "Constant" and not node.domain and node.output and not read.intersection(node.output):
            del nodes[index]
    return model


def check_names_exist(model: onnx.ModelProto, names: Iterable[str]) -> None:
    """Raise a UsageError naming close matches for tensor names that are not in the graph."""
    from trtdiff.errors import close_names

    known = {o for node in model.graph.node for o in node.output} | {i.name for i in model.graph.input}
    for name in names:
        if name not in known:
            raise UsageError(f"no tensor named '{name}' in the model",
                             "--outputs takes tensor names, not node names",
                             f"close names: {close_names(name, sorted(known))}")
