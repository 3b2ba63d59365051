"""A forced stop kills every process below this one, grandchildren in groups of their own too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil

from services.foundation.supervision import wait_gone

REPO = Path(__file__).resolve().parents[4]

# Run in a process of its own (a stand-in for the launcher), so that it kills only what it started
# itself and never this test session's own helpers: a child that starts a grandchild in a session
# of its own (as main starts its backends); then the forced stop.
LAUNCHER = """
import json, subprocess, sys
from services.foundation.supervision import kill_descendants, wait_gone
PARENT = '''
import signal, subprocess, sys
grandchild = subprocess.Popen(
    [sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True
)
print(grandchild.pid, flush=True)
signal.pause()
'''
with subprocess.Popen(
    [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
) as child:
    grandchild = int(child.stdout.readline())
    killed = kill_descendants()
    child.wait(timeout=10)  # reaped here, as the launcher's loop reaps main
    left = wait_gone(killed, timeout=10)
print(json.dumps({"child": child.pid, "grandchild": grandchild,
                  "killed": [p.pid for p in killed], "left": left}))
"""


def test_kill_descendants_reaches_grandchildren_in_other_sessions() -> None:
    """The child and its grandchild (in its own session) are both killed and waited for."""
    ran = subprocess.run(
        [sys.executable, "-c", LAUNCHER], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout)
    assert {found["child"], found["grandchild"]} <= set(found["killed"])
    assert found["left"] == []
    assert not psutil.pid_exists(found["grandchild"]) or (
        psutil.Process(found["grandchild"]).status() == psutil.STATUS_ZOMBIE
    )


def test_wait_gone_names_what_still_runs() -> None:
    """A process nobody killed is still running when the wait ends: its pid is returned."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        assert wait_gone([psutil.Process(sleeper.pid)], timeout=0.05) == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()
