"""The data-set side of `trtdiff bisect` and `bisect reduce`: the samples, the reference outputs of
each (computed once, or golden outputs), INT8/FP8 calibration, the judge that decides a plan over
every sample, and the one sample the ranking (or the reduction) runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import onnx

from trtdiff.bisect.over_data import DataJudge, plan_applier, reference_outputs, worst_sample
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.dataset import DataSet, Digest, SampleStore, open_dataset, open_golden, open_path
from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds, InputSettings, input_specs
from trtdiff.progress import progress
from trtdiff.reference import reference_runner

DATA_KEYS = ("load_outputs", "calibration_data", "attribute_sample")


@dataclass
class DataSetup:
    dataset: DataSet
    store: SampleStore  # reference outputs per sample (close it when done)
    judge: DataJudge
    apply: Callable[..., Any]
    digest: str  # fingerprint of the samples
    sample: int  # the sample the ranking (or the reduction) runs on
    warnings: list[str] = field(default_factory=list)
    calibration: DataSet | None = None  # the samples INT8/FP8 ranges were measured on (None: no calibration)

    @property
    def feeds(self) -> Feeds:
        return self.dataset.sample(self.sample)


def prepare_data(model: onnx.ModelProto, plan: Any, settings: InputSettings, tolerances: ToleranceSpec,
                 make_runner: Callable[[onnx.ModelProto], Any], options: dict[str, Any],
                 show_progress: bool = True) -> DataSetup:
    """`options`: the data options (--load-outputs, --calibration-data, --attribute-sample), taken out."""
    given = {key: options.pop(key, None) for key in DATA_KEYS}
    dataset = open_dataset(settings, input_specs(model))
    outputs = [o.name for o in model.graph.output]
    golden = open_golden(given["load_outputs"]) if given["load_outputs"] else None
    if golden is not None:
        golden.check_against(outputs, dataset.count)
    warnings = []
    calibration: Any = dataset
    if given["calibration_data"]:
        calibration = DataSet(open_path(given["calibration_data"], settings.batched_npz), dataset.specs)
    apply = plan_applier(model, plan, calibration)
    if not given["calibration_data"] and _calibrates(plan):
        warnings.append(f"INT8/FP8 scales were calibrated on the samples being judged ({dataset.describe()}), "
                        "which flatters the target; pass --calibration-data with other samples")
    store, digest = _reference(model, dataset, outputs, golden, show_progress)
    judge = DataJudge(model, dataset, store, tolerances, make_runner, apply, outputs)
    sample = given["attribute_sample"]
    if sample is not None and sample >= len(store):
        store.close()
        raise UsageError(f"--attribute-sample {sample}: no sample {sample}", f"the data set holds {len(store)}",
                         f"choose an index below {len(store)}")
    if sample is None:  # the worst sample of the plan as asked (every node lowered)
        sample = worst_sample(judge(plan, exhaustive=True)) if len(store) > 1 else 0
    return DataSetup(dataset, store, judge, apply, digest, sample, warnings,
                     calibration if _calibrates(plan) else None)


def _reference(model: onnx.ModelProto, dataset: DataSet, outputs: list[str], golden: Any,
               show_progress: bool) -> tuple[SampleStore, str]:
    """Every sample's reference outputs, and the samples' fingerprint."""
    digest = Digest()
    store = SampleStore()
    runner = reference_runner(model, outputs, ("CPUExecutionProvider",)) if golden is None else None
    with progress("reference outputs", dataset.count, show_progress and dataset.count != 1) as advance:

        class Hashed:  # the data set, hashed (and counted on the bar) as it streams past
            def __iter__(self) -> Any:
                for feeds in dataset:
                    digest.update(feeds)
                    yield feeds
                    advance()

        try:
            if runner is None:
                reference_outputs(Hashed(), outputs, None, golden, store)  # type: ignore[arg-type]
            else:
                with runner as opened:
                    reference_outputs(Hashed(), outputs, opened, None, store)  # type: ignore[arg-type]
        except BaseException:
            store.close()
            raise
    return store, digest.hexdigest()


def _calibrates(plan: Any) -> bool:
    from trtdiff.precision.apply import TARGETS

    target = TARGETS.get((getattr(plan, "default", ""), getattr(plan, "mode", "")))
    return bool(target is not None and target[0].qdq and plan.lowers)
