"""Files another user prepared (issue 12 §4): data, log and spool dirs must be the user's own
and not writable by others; a symbolic link ctxbus did not create is never followed."""

from __future__ import annotations

import asyncio
import os
import pwd
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.capture.spool import Spool
from services.foundation.backend_contract import BackendConfig
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.foundation.private_dirs import PrivateDirError, ensure_private_dir

EXIT_TIMEOUT = 30.0  # seconds for a refusing process to start Python and exit
SECRET = b"root only\n"

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="chown to another user needs root")


def other_uid() -> int:
    return pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def foreign_dir(tmp_path: Path) -> Path:
    """A 0777 directory owned by another user (``nobody``)."""
    path = tmp_path / "shared"
    path.mkdir()
    os.chown(path, other_uid(), -1)
    path.chmod(0o777)
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A root-only file that planted links point at."""
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
def umask_kept() -> Iterator[None]:
    """configure_logging sets the umask: put the test process's back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@needs_root
def test_a_dir_of_another_user_is_refused(foreign_dir: Path) -> None:
    """A 0777 dir owned by another uid: refused, the message names the owner and what to do."""
    with pytest.raises(PrivateDirError, match=f"belongs to uid {other_uid()}.*choose another"):
        ensure_private_dir(foreign_dir, "the log dir", "choose another")


def test_a_dir_others_may_write_is_refused(tmp_path: Path) -> None:
    """A dir of ours with group or other write: refused, saying how to fix it."""
    for mode in (0o770, 0o707, 0o777):
        tmp_path.chmod(mode)
        with pytest.raises(PrivateDirError, match=rf"mode {mode:o}.*chmod go-w"):
            ensure_private_dir(tmp_path, "the data dir", "choose another")


def test_a_new_dir_is_made_private(tmp_path: Path) -> None:
    """A dir that does not exist yet is created 0700; one of ours, 0755, is accepted."""
    made = ensure_private_dir(tmp_path / "a" / "logs", "the log dir", "choose another")
    assert made.stat().st_mode & 0o777 == 0o700
    tmp_path.chmod(0o755)
    assert ensure_private_dir(tmp_path, "the log dir", "choose another") == tmp_path


def test_a_planted_log_link_is_not_followed(tmp_path: Path, secret: Path, umask_kept: None) -> None:
    """``main.log`` planted as a link in a private log dir: refused, the target untouched."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / "main.log").symlink_to(secret)
    with pytest.raises(PrivateDirError, match="symbolic link"):
        configure_logging("main", logs)
    assert secret.read_bytes() == SECRET


def test_a_planted_spool_link_is_neither_loaded_nor_read(tmp_path: Path, secret: Path) -> None:
    """A ``.shot`` link planted in the spool is not a shot; the target is never read."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o700)
    (spool_dir / "000000000001-planted.shot").symlink_to(secret)
    spool = Spool(spool_dir, max_bytes=1 << 20, max_age=3600.0)
    assert spool.ids() == []
    assert spool.oldest() is None


@needs_root
def test_a_spool_in_a_dir_of_another_user_is_refused(foreign_dir: Path) -> None:
    """Capture's spool dir gets the same check: another user's dir is refused."""
    with pytest.raises(PrivateDirError, match="the spool dir"):
        Spool(foreign_dir, max_bytes=1 << 20, max_age=3600.0)


async def _exit_of(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(EXIT_TIMEOUT):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


@needs_root
async def test_main_refuses_a_log_dir_another_user_prepared(
    foreign_dir: Path, secret: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    """The probe's set-up: main exits 78 saying why, and writes nothing through the links."""
    for name in ("main.log", "launcher.log"):
        (foreign_dir / name).symlink_to(secret)
    argv = ["--runtime-dir", str(runtime_dir), "--data-dir", str(tmp_path / "data")]
    code, err = await _exit_of("-m", "services.main", *argv, "--log-dir", str(foreign_dir))
    assert code == EXIT_CONFIG, err
    assert f"the log dir {foreign_dir} belongs to uid {other_uid()}" in err
    assert secret.read_bytes() == SECRET  # noqa: ASYNC240 - a tiny file, after the fact


@needs_root
async def test_backend_refuses_a_data_dir_another_user_prepared(
    foreign_dir: Path, tmp_path: Path
) -> None:
    """The backend exits 78 on a data dir another user owns, before opening anything in it."""
    config = BackendConfig(
        port=1, token="t", instance="i", data_dir=foreign_dir, log_dir=tmp_path / "log"
    )
    code, err = await _exit_of("-m", "backend", env=os.environ | config.to_env())
    assert code == EXIT_CONFIG, err
    assert f"the data dir {foreign_dir} belongs to uid {other_uid()}" in err
    assert list(foreign_dir.iterdir()) == []  # noqa: ASYNC240 - a listing, after the fact
