"""Data-set sources: every format read lazily, sample K alone, validation naming the sample."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from trtdiff.dataset import DataSet, Digest, npz_writer, open_dataset, open_path
from trtdiff.dataset.files import file_source
from trtdiff.dataset.sources import GeneratedSource, sample_rng
from trtdiff.errors import UsageError
from trtdiff.inputs import InputSettings, generate_inputs
from trtdiff.runners.base import TensorSpec

SPECS = [TensorSpec("x", np.dtype(np.float32), (1, 3)), TensorSpec("k", np.dtype(np.int64), (2,))]


def _samples(count: int) -> list[dict[str, np.ndarray]]:
    return [{"x": np.full((1, 3), i, np.float32), "k": np.array([i, -i], np.int64)} for i in range(count)]


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def test_generated_sample_zero_is_the_one_sample_run_and_any_sample_regenerates_alone():
    settings = InputSettings({}, {"": (-1.0, 1.0)}, seed=7, iterations=4)
    source = GeneratedSource(SPECS, settings, 4)
    samples = list(source)
    assert len(samples) == 4 and source.count() == 4
    assert _equal(samples[0], generate_inputs(SPECS, settings))  # exactly the old single sample
    assert _equal(source.sample(3), samples[3])  # drawn again without the others
    assert not np.array_equal(samples[1]["x"], samples[2]["x"])
    assert sample_rng(7, 2).random() == sample_rng(7, 2).random() != sample_rng(8, 2).random()
    with pytest.raises(UsageError, match="no sample 4"):
        source.sample(4)


def test_directory_of_npz_is_one_sample_per_file_in_natural_order(tmp_path):
    for i, sample in enumerate(_samples(11)):
        np.savez(tmp_path / f"sample_{i}.npz", **sample)
    source = file_source(str(tmp_path))
    assert source.count() == 11 and source.kind == "npz-directory"
    got = list(source)
    assert [int(s["x"][0, 0]) for s in got] == list(range(11))  # sample_2 before sample_10
    assert _equal(source.sample(10), _samples(11)[10])


@pytest.mark.parametrize("compressed", [False, True])
def test_batched_npz_reads_row_i_of_every_array(tmp_path, compressed):
    samples = _samples(5)
    stacked = {"x": np.stack([s["x"] for s in samples]), "k": np.stack([s["k"] for s in samples])}
    (np.savez_compressed if compressed else np.savez)(tmp_path / "b.npz", **stacked)
    source = file_source(str(tmp_path / "b.npz"), batched=True)
    assert source.count() == 5
    assert all(_equal(a, b) for a, b in zip(source, samples))
    assert _equal(source.sample(3), samples[3])


def test_batched_npz_with_different_lengths_is_refused(tmp_path):
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 1, 3), np.float32), k=np.zeros((2, 2), np.int64))
    with pytest.raises(UsageError, match="different sample counts"):
        file_source(str(tmp_path / "b.npz"), batched=True)


def test_trtdiff_multi_sample_npz_round_trips(tmp_path):
    with npz_writer(tmp_path / "many.npz") as writer:
        for i, sample in enumerate(_samples(3)):
            for name, array in sample.items():
                writer.add(f"{i}:{name}", array)
    source = file_source(str(tmp_path / "many.npz"))
    assert source.count() == 3 and all(_equal(a, b) for a, b in zip(source, _samples(3)))


def test_polygraphy_inputs_json_gives_every_iteration(tmp_path):
    from polygraphy.json import save_json  # Polygraphy's own writer: the real format

    save_json(_samples(3), str(tmp_path / "in.json"))
    source = file_source(str(tmp_path / "in.json"))
    assert source.count() == 3 and _equal(source.sample(2), _samples(3)[2])


def test_onnx_test_data_set_folders_are_one_sample_each(tmp_path):
    for i, sample in enumerate(_samples(3)):
        folder = tmp_path / f"test_data_set_{i}"
        folder.mkdir()
        for j, (name, array) in enumerate(sample.items()):
            (folder / f"input_{j}.pb").write_bytes(numpy_helper.from_array(array, name).SerializeToString())
    source = file_source(str(tmp_path))
    assert source.kind == "onnx-test-sets" and source.count() == 3
    assert all(_equal(a, b) for a, b in zip(source, _samples(3)))


def test_loader_script_with_default_and_named_function(tmp_path):
    script = tmp_path / "loader.py"
    script.write_text("import numpy as np\n"
                      "def load_data():\n"
                      "    for i in range(4):\n"
                      "        yield {'x': np.full((1, 3), i, np.float32), 'k': np.array([i, -i])}\n"
                      "def two():\n"
                      "    return [{'x': np.zeros((1, 3), np.float32), 'k': np.zeros(2, np.int64)}] * 2\n")
    default = open_path(str(script))
    assert default.count() is None and len(list(default)) == 4
    assert int(default.sample(3)["x"][0, 0]) == 3
    assert len(list(open_path(f"{script}:two"))) == 2
    with pytest.raises(UsageError, match="no function 'three'.*load_data, two"):
        open_path(f"{script}:three")


def test_max_samples_caps_any_source_and_samples_are_validated_with_their_index(tmp_path):
    dataset = open_dataset(InputSettings({}, {}, iterations=10, max_samples=3), SPECS)
    assert dataset.count == 3 and len(list(dataset)) == 3
    samples = _samples(3)
    samples[2]["x"] = np.zeros((1, 4), np.float32)
    for i, sample in enumerate(samples):
        np.savez(tmp_path / f"{i}.npz", **sample)
    bad = DataSet(file_source(str(tmp_path)), SPECS)
    with pytest.raises(UsageError, match=r"sample 2 of .*: input 'x' has shape \[1, 4\]"):
        list(bad)
    with pytest.raises(UsageError, match="sample 2"):
        bad.sample(2)


def test_digest_tells_data_sets_apart():
    def digest(samples):
        d = Digest()
        for s in samples:
            d.update(s)
        return d.hexdigest()

    base = _samples(3)
    changed = _samples(3)
    changed[1]["x"] = changed[1]["x"] + 1e-7
    assert digest(base) == digest(_samples(3)) != digest(changed) != digest(base[:2])


def test_a_batched_npz_read_without_the_flag_points_to_it(cli_run, tmp_path):
    """An .npz of 12 rows for a model of rank-1 input: the refusal names --batched-npz."""
    from model_builders import make_model, save
    from onnx import TensorProto, helper

    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    path = save(model, tmp_path / "m.onnx")
    np.savez(tmp_path / "rows.npz", x=np.zeros((12, 4), np.float32))
    result = cli_run("run", path, "--fp16", "--load-inputs", tmp_path / "rows.npz")
    assert result.exit_code == 2
    assert "read with --batched-npz" in result.stderr
    assert cli_run("run", path, "--fp16", "--load-inputs", tmp_path / "rows.npz", "--batched-npz").exit_code == 0


def test_the_dataset_benchmark_draws_the_samples_trtdiff_draws():
    """benchmarks/bench_dataset.py's plain variant writes the generator out (it must not import
    trtdiff); both variants must still run the same samples."""
    from model_builders import load_fixture_builder

    bench = load_fixture_builder("benchmarks/bench_dataset.py")
    for index in (0, 1, 7):
        assert bench._sample_rng(1, index).random(4).tolist() == sample_rng(1, index).random(4).tolist()


def test_a_sample_larger_than_the_memory_available_is_refused_before_it_is_copied(tmp_path, monkeypatch):
    """Uncompressed members are memory-mapped; a sample is copied out of its file whole, so its
    size is checked first (here against a machine pretending to have 512 bytes free)."""
    import trtdiff.resources

    np.savez(tmp_path / "one.npz", x=np.ones((1, 3, 8, 8), np.float32))
    source = open_path(str(tmp_path / "one.npz"))
    assert source.sample(0)["x"].shape == (1, 3, 8, 8)
    monkeypatch.setattr(trtdiff.resources, "available_memory", lambda: 512)
    with pytest.raises(UsageError, match=r"sample 0 of .*one\.npz would take 768 B.*--batched-npz"):
        source.sample(0)  # a batched file given without --batched-npz: the fix says so
    (tmp_path / "folder").mkdir()
    np.savez(tmp_path / "folder" / "s0.npz", x=np.ones((1, 3, 8, 8), np.float32))
    with pytest.raises(UsageError, match=r"the sample in .*s0\.npz would take 768 B"):
        open_path(str(tmp_path / "folder")).sample(0)
