"""The golden store through the command line, on scratch copies, never golden/: exit codes (data problems
found before grading = 2, all at once, one line each), the writers' lock, and read-only goldens as an
unprivileged user. The reference is a torch-free stand-in (tests/meta/fakes/halving_reference.py). Most
commands run in process, pointed at the scratch copy; a few run as new processes through
$LR_CONFORMANCE_GOLDENS, as a user would."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from fakes.halving_reference import HalvingReference
from helpers import lock_held_elsewhere

from conformance import cases, cli, golden, resources
from conformance.regenerate import regenerate

FAKE = str(Path(__file__).parent / "fakes" / "halving_reference.py")
CASES = '''
[defaults]
scheduler = "StepLR"
kwargs = { step_size = 2 }
groups = [{ lr = 0.1 }]
steps = 4

[[case]]
id = "steplr/a"
why = "first"

[[case]]
id = "steplr/b"
why = "second"
groups = [{ lr = 0.1 }, { lr = 0.2 }]

[[case]]
id = "steplr/c"
why = "third"
steps = 6
'''


def make_goldens(directory: Path) -> Path:
    """A scratch golden/ with three cases and their goldens; returns it."""
    golden_dir = directory / "golden"
    (golden_dir / "cases").mkdir(parents=True)
    (golden_dir / "cases" / "steplr.toml").write_text(CASES)
    store = golden.load(golden_dir / "traces")
    assert regenerate(HalvingReference(), cases.load_cases(golden_dir / "cases"), store, out=lambda s: None) == 0
    return golden_dir


@pytest.fixture
def scratch(tmp_path):
    return make_goldens(tmp_path)


def lr(golden_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`lr-conformance ARGS` in a new process, pointed at `golden_dir` through $LR_CONFORMANCE_GOLDENS."""
    env = {**os.environ, resources.GOLDENS_ENV: str(golden_dir)}
    return subprocess.run([sys.executable, "-m", "conformance", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def point_at(golden_dir: Path, set_attribute) -> None:
    """Make the commands of this process read and write `golden_dir` (what $LR_CONFORMANCE_GOLDENS does for a
    new process). `set_attribute` is monkeypatch.setattr, or the builtin setattr in a throwaway child."""
    set_attribute(cases.load_cases, "__defaults__", (golden_dir / "cases",))
    set_attribute(golden, "TRACES_DIR", golden_dir / "traces")
    set_attribute(golden.load, "__defaults__", (golden_dir / "traces",))
    target = resources.regen_target  # regen writes where --goldens (or $LR_CONFORMANCE_GOLDENS) says
    set_attribute(resources, "regen_target", lambda goldens=None, cwd=None: target(goldens or golden_dir, cwd))


@pytest.fixture
def main_on(scratch, monkeypatch, capsys):
    """cli.main(args) on the scratch copy, in process: (exit code, stdout, stderr)."""
    point_at(scratch, monkeypatch.setattr)

    def run(*args: str):
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def problem_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert all(line.startswith("lr-conformance: ") for line in lines), stderr
    return [line.removeprefix("lr-conformance: ") for line in lines]


def test_a_clean_scratch_copy_passes_and_the_checkout_is_not_touched(scratch):
    before = {p: p.stat().st_mtime_ns for p in golden.TRACES_DIR.rglob("*")}
    assert lr(scratch, "check").returncode == 0
    done = lr(scratch, "run", "--adapter", FAKE)
    assert done.returncode == 0 and "3 pass" in done.stdout
    assert lr(scratch, "regen", "--adapter", FAKE).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in golden.TRACES_DIR.rglob("*")} == before


def test_run_reports_every_data_problem_before_grading_exit_2(scratch, main_on):
    traces = scratch / "traces"
    (traces / "steplr/a.csv").write_text("edited by hand\n")  # hash mismatch
    manifest = json.loads((traces / golden.MANIFEST).read_text())  # a hash-matching golden that does not parse
    (traces / "steplr/b.csv").write_text("not,a,trace\n")
    manifest["cases"]["steplr/b"]["traces"][0]["sha256"] = golden.csv_hash("not,a,trace\n")
    (traces / golden.MANIFEST).write_text(json.dumps(manifest))
    case_file = scratch / "cases" / "steplr.toml"
    case_file.write_text(case_file.read_text().replace('why = "third"\nsteps = 6', 'why = "third"\nsteps = 5'))
    code, out, err = main_on("run", "--adapter", FAKE)
    assert code == 2 and out == "", out  # nothing graded
    found = problem_lines(err)
    assert len(found) == 3, found
    assert "steplr/a.csv: content does not match its manifest hash" in found[0]
    assert "steplr/b.csv:1: header must be" in found[1]
    assert found[2].endswith("steplr/c: case changed since its golden: run `lr-conformance regen`")
    code, out, _ = main_on("check")
    assert code == 2 and "check: 3 cases, 3 problem(s)" in out


@pytest.mark.parametrize("command", [["run", "--adapter", FAKE], ["check"]])
def test_a_deleted_manifest_is_one_line_exit_2(scratch, main_on, command):
    (scratch / "traces" / golden.MANIFEST).unlink()
    code, out, err = main_on(*command)
    found = [line for line in (out + err).splitlines() if "manifest.json" in line]
    assert code == 2 and len(found) == 1 and "missing" in found[0], out + err


@pytest.mark.parametrize("command", [["run", "--adapter", FAKE], ["check"]])
def test_a_crlf_golden_fails_run_and_check(scratch, main_on, command):
    path = scratch / "traces" / "steplr/a.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    code, out, err = main_on(*command)
    assert code == 2 and "a.csv: content does not match its manifest hash" in out + err


@pytest.mark.parametrize("command", [["run", "--adapter", FAKE], ["check"], ["regen", "--adapter", FAKE]])
def test_a_bad_torch_range_in_the_manifest_is_one_line_exit_2(scratch, main_on, command):
    path = scratch / "traces" / golden.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["cases"]["steplr/a"]["traces"].append(
        {"file": "steplr/a@torch2.0.csv", "torch": ">=banana", "sha256": "sha256:0", "generated_by": ["2.0.1"]})
    path.write_text(json.dumps(manifest))
    code, _, err = main_on(*command)
    (line,) = problem_lines(err)
    assert code == 2 and "manifest.json: case 'steplr/a': traces[1]: 'torch' '>=banana' is not a PEP 440" in line


@pytest.mark.parametrize("command", [["run", "--adapter", FAKE], ["check"], ["list"]])
def test_a_non_utf8_case_file_is_one_line_exit_2(scratch, main_on, command):
    (scratch / "cases" / "steplr.toml").write_bytes(CASES.encode().replace(b"third", b"th\xffrd"))
    code, _, err = main_on(*command)
    (line,) = problem_lines(err)
    assert code == 2 and "steplr.toml:19: not UTF-8 text (byte 0xff)" in line


def test_regen_with_filters_matching_nothing_is_exit_2(capsys):
    assert cli.main(["regen", "-k", "no-such-case/*"]) == 2  # like run: before loading any adapter
    assert "no case matches" in capsys.readouterr().err


def test_a_second_regen_waits_then_fails_with_one_line_naming_the_lock(scratch):
    with lock_held_elsewhere(scratch / "traces") as pid:
        done = lr(scratch, "regen", "--accept", "--adapter", FAKE, "--wait", "0.5")
    waiting, failed = done.stderr.splitlines()
    assert done.returncode == 2
    assert waiting.startswith("regen: waiting up to 0.5 s for") and f"pid {pid}" in waiting
    assert failed.startswith("lr-conformance: ") and ".traces.lock: still held after 0.5 s by" in failed
    assert lr(scratch, "regen", "--adapter", FAKE).returncode == 0  # the holder is gone: the lock is free


# --- read-only goldens, as an unprivileged user -------------------------------------------------


def nobody():
    """The unprivileged user to drop to when the tests run as root."""
    import pwd  # POSIX only

    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to drop to")


def as_unprivileged(function) -> tuple[int, str]:
    """Run function() -> exit code in a forked child as an unprivileged user ('nobody' when we are root,
    else ourselves); return the exit code and everything the child printed."""
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    user = nobody() if os.geteuid() == 0 else None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(read_end)
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            sys.stdout = sys.stderr = os.fdopen(write_end, "w", buffering=1)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            code = function()
        except BaseException:  # noqa: BLE001 - reported to the parent through the pipe
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code if isinstance(code, int) else 98)
    os.close(write_end)
    with os.fdopen(read_end) as output:
        text = output.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def give_to_the_unprivileged_user(tree_root: Path) -> None:
    if os.geteuid() == 0:
        user = nobody()
        for path in [tree_root, *tree_root.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)


@pytest.fixture
def shared_scratch():
    """A scratch golden/ outside pytest's private tmp dir, owned by the unprivileged user."""
    directory = Path(tempfile.mkdtemp(prefix="lr-readonly-"))
    try:
        os.chmod(directory, 0o755)
        golden_dir = make_goldens(directory)
        give_to_the_unprivileged_user(golden_dir)
        yield golden_dir
    finally:
        for path in [directory, *directory.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(directory)


def cli_in(golden_dir: Path, *args: str):
    """cli.main(args) on `golden_dir`, for a forked child."""
    def run():
        point_at(golden_dir, setattr)
        return cli.main(list(args))
    return run


def read_only(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        item.chmod(item.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_regen_on_read_only_traces_is_one_line_and_leaves_nothing_behind(shared_scratch):
    traces = shared_scratch / "traces"
    (shared_scratch / "cases" / "steplr.toml").write_text(CASES.replace("steps = 6", "steps = 7"))  # work to do
    before = tree(traces)
    read_only(traces)
    code, output = as_unprivileged(cli_in(shared_scratch, "regen", "--accept", "--adapter", FAKE))
    lines = output.splitlines()
    assert code == 2 and "Traceback" not in output, output
    assert lines[-1] == f"lr-conformance: {traces}: not writable; regen writes nothing into a read-only golden " \
                        "directory (make it writable, e.g. chmod -R u+w, to regenerate)", output
    assert tree(traces) == before and sorted(p.name for p in shared_scratch.iterdir()) == [
        ".traces.lock", "cases", "traces"]
    code, output = as_unprivileged(cli_in(shared_scratch, "check"))  # no stuck state: readers work
    assert code == 2 and "steplr/c: case changed since its golden" in output and "Traceback" not in output


def test_regen_in_a_read_only_golden_dir_names_the_lock(shared_scratch):
    read_only(shared_scratch)
    code, output = as_unprivileged(cli_in(shared_scratch, "regen", "--adapter", FAKE))
    assert code == 2 and "Traceback" not in output, output
    assert output.splitlines()[-1].startswith(
        f"lr-conformance: {shared_scratch}/.traces.lock: cannot take the writers' lock (Permission denied)")


def test_a_read_only_leftover_of_a_crashed_writer_is_named_then_cleaned_by_the_next_writer(shared_scratch):
    traces = shared_scratch / "traces"
    staging = golden.staging_dir(traces)
    shutil.copytree(traces, staging)  # what an older regen left: a half-made copy of a read-only tree
    give_to_the_unprivileged_user(staging)
    read_only(staging)
    code, output = as_unprivileged(cli_in(shared_scratch, "check"))
    assert code == 0 and ".traces.new: staging directory of a regen that is running or was interrupted" in output
    assert staging.exists()  # readers never delete
    code, output = as_unprivileged(cli_in(shared_scratch, "regen", "--adapter", FAKE))
    assert code == 0 and f"regen: removed {staging}, left by an interrupted regen" in output, output
    assert not staging.exists()


@pytest.fixture
def full_disk_scratch():
    """A scratch golden/ on a 4 MiB tmpfs of its own, which the test fills up (needs root's mount; skips
    otherwise - a full disk cannot be faked faithfully: the file is created, then its write fails)."""
    mount_point = Path(tempfile.mkdtemp(prefix="lr-fulldisk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs to fill up: {mounted.stderr.strip() or 'mount failed'}")
    try:
        os.chmod(mount_point, 0o755)
        golden_dir = make_goldens(mount_point)
        give_to_the_unprivileged_user(golden_dir)
        yield golden_dir
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def fill_up(directory: Path) -> Path:
    """Write zeros beside `directory` until not one more byte fits."""
    filler = directory.parent / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * chunk)
    finally:
        os.close(descriptor)
    return filler


def test_regen_on_a_full_disk_is_one_line_and_loses_nothing(full_disk_scratch):
    traces = full_disk_scratch / "traces"
    (full_disk_scratch / "cases" / "steplr.toml").write_text(CASES.replace("steps = 6", "steps = 7"))  # work
    before = tree(traces)
    filler = fill_up(full_disk_scratch)
    code, output = as_unprivileged(cli_in(full_disk_scratch, "regen", "--accept", "--adapter", FAKE))
    assert code == 2 and "Traceback" not in output, output
    assert output.splitlines()[-1].endswith(": No space left on device; nothing written, the goldens are as "
                                            "before"), output
    assert tree(traces) == before
    assert sorted(p.name for p in full_disk_scratch.iterdir()) == [".traces.lock", "cases", "traces"]
    filler.unlink()  # space again: the next regen writes, with nothing stuck from the failed one
    code, output = as_unprivileged(cli_in(full_disk_scratch, "regen", "--accept", "--adapter", FAKE))
    assert code == 0 and "removed" not in output, output
    assert tree(traces) != before


def test_run_json_on_a_full_disk_is_one_line_exit_2_after_the_verdict(capsys):
    code = cli.main(["run", "-k", "steplr/gamma-half-step3", "--adapter", FAKE, "--json", "/dev/full"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == ["lr-conformance: --json /dev/full: No space left on device"], err
    assert "1 pass" in out or "1 fail" in out, out  # the verdict was still printed


@pytest.mark.parametrize("wait", ["-1", "nan"])
def test_a_bad_wait_is_a_usage_error(capsys, wait):
    assert cli.main(["regen", "--wait", wait, "-k", "steplr/*"]) == 2
    assert f"--wait {wait}: must be a number of seconds >= 0" in capsys.readouterr().err
