"""Data sets: many samples in, one at a time.

    open_dataset(settings, specs)   the samples --load-inputs / --data-loader-script / --iterations name
    open_path(path)                 a file, directory or loader script (--calibration-data)
    open_golden(path)               reference outputs of an earlier run (--load-outputs)
    npz_writer(path)                .npz written array by array (--save-inputs, --save-outputs)
    SampleStore                     arrays of many samples, spilled to disk past a budget
"""

from __future__ import annotations

from trtdiff.dataset.dataset import DataSet, Digest, NonFiniteTally, open_dataset, open_path, sample_digest
from trtdiff.dataset.golden import GoldenOutputs, open_golden
from trtdiff.dataset.npz import npz_writer, save_npz
from trtdiff.dataset.store import SampleStore

__all__ = ["DataSet", "Digest", "GoldenOutputs", "NonFiniteTally", "SampleStore", "npz_writer", "open_dataset", "save_npz",
           "open_golden", "open_path", "sample_digest"]
