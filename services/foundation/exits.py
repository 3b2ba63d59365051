"""The exit contract of every ctxbus entry point, and what a supervisor makes of an exit.

- ``EXIT_OK`` (0): a planned stop (a signal, ``shutdown``, the supervisor gone).
- ``EXIT_CONFIG`` (78, sysexits' ``EX_CONFIG``): the process cannot run as configured or set up
  (a bad setting, a runtime dir it may not use, a port it may not have). It prints one line
  saying what to fix; a supervisor never restarts it, since a restart would only repeat it.
- Anything else (an uncaught error, a signal): a crash, restarted under the restart policy.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CONFIG = 78


def is_permanent(returncode: int) -> bool:
    """Whether an exit says "fix the configuration", so restarting would only repeat it."""
    return returncode == EXIT_CONFIG
