"""Files are never clobbered: special files are written in place, `-` is stdout for every file
option, an output that is an input or another output is refused, regular files stay atomic; and
every command declares its path options so that one mechanism (CheckedCommand) checks them all."""

from __future__ import annotations

import json
import os
import stat
import threading

import click
import numpy as np
import pytest

from corpus import build_workspace, copy_workspace, device_copy, invoke, snapshot
from trtdiff.options.paths import CheckedCommand, refuse_outputs_read_as_samples
from trtdiff.errors import UsageError
from trtdiff.fileio import atomic_output, check_paths, write_text_atomic, writes_in_place

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outputs")
    build_workspace(folder)
    return folder


@pytest.fixture
def here(workspace, tmp_path, monkeypatch):
    copy_workspace(workspace, tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the mechanism ------------------------------------------------------------------------------

@needs_root
def test_a_device_is_written_in_place_never_replaced(tmp_path):
    null = tmp_path / "null"
    device_copy(1, 3)(null)
    write_text_atomic(null, "{}")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temporary left beside it


@needs_root
def test_a_full_device_is_one_usage_error_and_stays_a_device(tmp_path):
    full = tmp_path / "full"
    device_copy(1, 7)(full)
    with pytest.raises(UsageError, match="No space left"):
        write_text_atomic(full, "x" * 10)
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_receives_the_content_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_text_atomic(fifo, '{"passed": true}')
    reader.join(timeout=10)
    assert received == [b'{"passed": true}'] and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_symlink_to_dev_stdout_stays_a_symlink_and_appends(tmp_path, capfd):
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    assert writes_in_place(link)
    write_text_atomic(link, "through the link\n")
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert "through the link" in capfd.readouterr().out


def test_a_symlink_to_a_regular_file_keeps_the_link_and_replaces_its_target(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_dash_is_stdout(capfd):
    write_text_atomic("-", "to stdout\n")
    assert capfd.readouterr().out == "to stdout\n"


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("before")
    with pytest.raises(RuntimeError), atomic_output(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("the writer failed half-way")
    assert target.read_text() == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_regular_files_are_replaced_atomically_with_shared_permissions(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("before")
    inode = target.stat().st_ino
    write_text_atomic(target, "after")
    assert target.read_text() == "after" and target.stat().st_ino != inode  # renamed over, not rewritten
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_only_a_data_set_folder_refuses_what_it_would_read_as_a_sample(tmp_path, monkeypatch):
    """An .npz in the --load-inputs folder is refused, naming the folder's real path even when
    given as "."; a --json there, or an .npz in a folder that is not read sample by sample (a
    baseline), is allowed."""
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    with pytest.raises(UsageError, match=f"inside the --load-inputs folder {tmp_path / 'data'}:"):
        refuse_outputs_read_as_samples([("--save-inputs", "more.npz")], [("the --load-inputs file", ".")])
    with pytest.raises(UsageError, match="inside the --calibration-data folder"):
        refuse_outputs_read_as_samples([("--save-outputs", str(tmp_path / "data" / "input_0.pb"))],
                    [("the --calibration-data file", str(tmp_path / "data"))])
    refuse_outputs_read_as_samples([("--json", "r.json")], [("the --load-inputs file", ".")])
    refuse_outputs_read_as_samples([("--save-outputs", "golden.npz")], [("the --baseline file", ".")])


def test_check_paths_refuses_input_and_duplicate_outputs_but_not_sinks(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    with pytest.raises(UsageError, match="is also the MODEL"):
        check_paths([("--json", str(model))], [("the MODEL", str(model))])
    with pytest.raises(UsageError, match="--json and --report both write"):
        check_paths([("--json", str(tmp_path / "x")), ("--report", str(tmp_path / "x"))])
    with pytest.raises(UsageError, match="both write -"):
        check_paths([("--json", "-"), ("--report", "-")])
    check_paths([("--json", "/dev/null"), ("--report", "/dev/null")])  # a sink keeps nothing: allowed


# -- through the commands -----------------------------------------------------------------------

@needs_root
def test_run_outputs_to_a_device_copy_keep_the_device(here):
    device_copy(1, 3)(here / "null")
    before = snapshot(here)
    result = invoke(["run", "m.onnx", "--fp16", "--json", "null", "--save-inputs", "null", "--report", "null"])
    assert result.exit_code in (0, 1), result.output
    assert stat.S_ISCHR((here / "null").lstat().st_mode) and snapshot(here).keys() == before.keys()


@pytest.mark.parametrize("args, parse", [
    (["run", "m.onnx", "--fp16", "--json", "-"], json.loads),
    (["run", "m.onnx", "--fp16", "--report", "-"], lambda text: text.startswith("<!DOCTYPE html>") or None),
    (["report", "result.json", "-o", "-"], lambda text: text.startswith("<!DOCTYPE html>") or None),
    (["plan", "export", "plan.json", "--model", "m.onnx", "--format", "trtdiff", "-o", "-"], json.loads),
    (["bisect", "m.onnx", "--fp16", "--json", "-"], json.loads),
    (["bisect", "m.onnx", "--fp16", "--report", "-"], lambda text: text.startswith("<!DOCTYPE html>") or None),
    (["split", "m.onnx", "--json", "-", "-o", "pieces"], json.loads),
    (["diff", "result.json", "result.json", "--json", "-"], json.loads),
])
def test_dash_means_stdout_for_every_file_option(here, args, parse):
    before = {name for name in os.listdir(here)}
    result = invoke(args)
    assert result.exit_code in (0, 1), result.output
    assert parse(result.stdout) is not None, result.stdout[:200]
    assert "-" not in set(os.listdir(here)) - before  # no file named '-'


def test_run_save_inputs_to_stdout_is_a_readable_npz(here, tmp_path_factory):
    result = invoke(["run", "m.onnx", "--fp16", "--save-inputs", "-"])
    assert result.exit_code in (0, 1)
    path = tmp_path_factory.mktemp("npz") / "inputs.npz"
    path.write_bytes(result.stdout_bytes)
    with np.load(path) as saved:
        assert saved["x"].shape == (1, 3, 8, 8)


def test_a_refused_output_leaves_the_folder_unchanged(here):
    before = snapshot(here)
    result = invoke(["run", "m.onnx", "--fp16", "--json", "r.json", "--report", "r.json"])
    assert result.exit_code == 2 and snapshot(here) == before


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


def test_every_command_checks_its_paths_and_every_path_option_says_its_role():
    """A new command or path option cannot bypass the output-path rules unnoticed."""
    from trtdiff.cli import cli

    commands = _commands(cli)
    assert len(commands) >= 7
    for name, command in commands:
        assert isinstance(command, CheckedCommand), f"`trtdiff {name}` is not a CheckedCommand"
        for param in command.params:
            if isinstance(param.type, click.Path):
                assert getattr(param.type, "role", None), f"`trtdiff {name}` {param.name}: a click.Path without a role"
