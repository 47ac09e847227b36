"""Keep stderr for what the user needs: messages that ONNX Runtime and numpy emit about trtdiff's
own temporary models (a calibrator's augmented model "Removing initializer '<uuid>'", NaN weights
fake-quantized) become INFO log lines, shown with -v.

    with quiet_backends("minmax calibration"):
        calibrator.collect_data(reader)
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import numpy as np

log = logging.getLogger("trtdiff")
ORT_WARNING, ORT_ERROR = 2, 3  # onnxruntime logger severities; WARNING is ONNX Runtime's default


@contextlib.contextmanager
def numpy_warnings_logged(what: str) -> Iterator[None]:
    """numpy RuntimeWarnings (NaN/Inf met in arithmetic) raised inside the block are logged at
    INFO as '<what>: <warning>' instead of printed; other warnings pass through unchanged."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        yield
    for record in caught:
        if issubclass(record.category, RuntimeWarning):
            log.info("%s: %s", what, record.message)
        else:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)


@contextlib.contextmanager
def quiet_backends(what: str) -> Iterator[None]:
    """ONNX Runtime's default logger at ERROR (WARNING with -v) for sessions trtdiff does not
    configure itself (e.g. inside onnxruntime.quantization), and numpy warnings logged."""
    import onnxruntime

    verbose = log.isEnabledFor(logging.INFO)
    onnxruntime.set_default_logger_severity(ORT_WARNING if verbose else ORT_ERROR)
    try:
        with numpy_warnings_logged(what):
            yield
    finally:
        onnxruntime.set_default_logger_severity(ORT_WARNING)
