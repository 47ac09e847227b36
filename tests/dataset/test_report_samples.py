"""The HTML report's Samples section: the data set, and per output its sample verdicts, task metric
and the distribution of each sample's own max_abs error."""

from __future__ import annotations

import html
import re

import numpy as np

import trtdiff
from data_helpers import scale_model
from model_builders import save
from trtdiff.report.html import write_report


def test_report_shows_each_outputs_samples(tmp_path):
    reference, target = save(scale_model(1.0), tmp_path / "r.onnx"), save(scale_model(1.01), tmp_path / "t.onnx")
    samples = [{"x": np.full((1, 4), float(i), np.float32)} for i in range(10)]  # sample i errs by 0.01 * i
    result = trtdiff.compare(reference, target=target, inputs=samples, atol=0.055, rtol=0, check=["y:max"])
    write_report(result, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    section = page[page.index('<section id="samples">'):]
    section = section[:section.index("</section>")]
    assert "10 samples (given)" in section and result.samples.fingerprint in section
    assert "4 of 10 samples fail (6, 7, 8, 9)" in section and "worst sample 9" in section
    assert "max error 0.09 in the worst sample (4 samples fail it)" in section
    # per-sample max_abs by decade: sample 0 has no error, 1..9 lie in (1e-3, 1e-1]
    counts = dict(re.findall(r'title="([^"]+?): (\d+) samples', html.unescape(section)))
    assert counts["0"] == "1" and counts["<=1e-2"] == "1" and counts["<=1e-1"] == "8"
