"""What TensorRT's ONNX parser says about a model, without building an engine: which nodes it
cannot take (and why), and the data type of every tensor of the parsed, strongly typed network.

Like `trt_build`, every function takes the TensorRT module (`tensorrt` or `tensorrt_rtx`) as its
first argument and never imports it. Both run on a CPU with TensorRT-RTX.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import onnx

from trtdiff.model import session_source
from trtdiff.runners import trt_build
from trtdiff.trt import capability, dtypes
from trtdiff.trt.options import TrtOptions


def unsupported_nodes(trt: ModuleType, model: onnx.ModelProto) -> dict[str, str]:
    """Node name -> reason, for the nodes the ONNX parser cannot take: `supports_model_v2`
    (10.1+; `supports_model` before it, removed in 11.1), asked again about each subgraph it
    could not settle (`trtdiff.trt.capability` says why). The parser's own log goes to -vv:
    its rejections are the answer here, not a failure."""
    logger = trt_build.make_logger(trt, quiet=True)

    def probe(piece: onnx.ModelProto) -> tuple[capability.Subgraphs, list[capability.ParserIssue]]:
        network = trt.Builder(logger).create_network(trt_build.network_flags(trt, TrtOptions()))
        parser = trt.OnnxParser(network, logger)
        with session_source(piece) as source:
            path = source if isinstance(source, str) else None
            data = Path(source).read_bytes() if isinstance(source, str) else source
            if hasattr(parser, "supports_model_v2"):
                parser.supports_model_v2(data, path)
                subgraphs = [(bool(parser.is_subgraph_supported(i)), list(parser.get_subgraph_nodes(i)))
                             for i in range(parser.num_subgraphs)]
            else:
                _, legacy = parser.supports_model(data, path)
                subgraphs = [(bool(ok), list(nodes)) for nodes, ok in legacy]
        issues = []
        for i in range(parser.num_errors):
            err = parser.get_error(i)
            code = getattr(err.code(), "name", str(err.code()))
            issues.append(capability.ParserIssue(int(err.node()), err.node_name(), err.node_operator(),
                                                 code, err.desc()))
        return subgraphs, issues

    return capability.find_unsupported(model, probe)


def parser_accepts(trt: ModuleType, model: onnx.ModelProto) -> tuple[bool, str]:
    """Parse only: (accepted, the parser's first error as one line)."""
    logger = trt_build.make_logger(trt, quiet=True)
    network = trt.Builder(logger).create_network(trt_build.network_flags(trt, TrtOptions()))
    parser = trt.OnnxParser(network, logger)
    with session_source(model) as source:
        ok = parser.parse_from_file(source) if isinstance(source, str) else parser.parse(source)
    if ok or not parser.num_errors:
        return bool(ok), ""
    first = parser.get_error(0)
    code = getattr(first.code(), "name", str(first.code()))
    return False, " ".join(f"{code}: {first.desc()}".split())


def network_tensor_types(trt: ModuleType, model: onnx.ModelProto) -> dict[str, str]:
    """Tensor name -> short type ("fp16", "fp32", ...) of every network input and layer output
    after a strongly typed parse: the types TensorRT will build with. ModelError (with the
    parser's own words) when the parser rejects the model."""
    logger = trt_build.make_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(trt_build.network_flags(trt, TrtOptions()))
    parser = trt.OnnxParser(network, logger)
    trt_build.parse_model(parser, model)
    tensors = {network.get_input(i).name: network.get_input(i) for i in range(network.num_inputs)}
    tensors.update(trt_build.network_tensors(network))
    return {name: dtypes.short_name(tensor.dtype.name) for name, tensor in tensors.items()}
