"""The foundation every ctxbus process stands on, between the bus and the processes.

- :mod:`.supervision`: child processes (spawn, exit by pidfd, stop order, restart policy, process
  records, one supervisor per runtime dir) and the lifeline a child follows to its parent.
- :mod:`.parent_death`: die with the parent, set up before the heavy imports.
- :mod:`.backend_contract`: what main hands a backend it spawns (the spawn contract).
- :mod:`.config`: the layered configuration (defaults < file < ``CTXBUS_*`` < flags).
- :mod:`.exits`: the exit codes every entry point speaks, and what a supervisor makes of them.
- :mod:`.logconfig`, :mod:`.lean`, :mod:`.gc_pause`: structlog set-up; no optional extras in
  background processes; no garbage collection while a process starts.
- :mod:`.terminal`: how the launcher and the CLI write to a terminal.

It imports :mod:`bus` and nothing else of ctxbus (``make lint`` checks it with import-linter).
"""
