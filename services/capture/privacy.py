"""Privacy rules: windows whose frames are never recorded.

A rule (:class:`~bus.messages.ExcludeRule`) holds glob patterns for a window's ``app``, ``title``
and ``process``, matched case-insensitively against the whole value; a rule matches a window that
matches every pattern it sets. The rules in force are the built-in :data:`DEFAULT_EXCLUDES` (unless
``capture.default_excludes`` is off), ``capture.exclude`` from the configuration, and the rules
added at run time (``add_exclude``), which :class:`RuleFile` keeps in a small JSON file so that
they hold across restarts.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import msgspec

from bus.errors import SetupError
from bus.messages import ExcludeRule
from services.capture.windows import WindowInfo

DEFAULT_EXCLUDES: tuple[ExcludeRule, ...] = (
    # password managers, by window class and by process
    ExcludeRule(app="KeePassXC"),
    ExcludeRule(app="KeePass*"),
    ExcludeRule(process="keepassxc"),
    ExcludeRule(app="1Password"),
    ExcludeRule(process="1password"),
    ExcludeRule(app="Bitwarden"),
    ExcludeRule(process="bitwarden"),
    ExcludeRule(app="Seahorse"),
    ExcludeRule(process="seahorse"),
    # GNOME Keyring's password prompts
    ExcludeRule(app="Gcr-prompter"),
    ExcludeRule(process="gcr-prompter"),
    # private browser windows, by title
    ExcludeRule(title="*Private Browsing*"),  # Firefox
    ExcludeRule(title="*Incognito*"),  # Chromium, Chrome
    ExcludeRule(title="*InPrivate*"),  # Edge
)

_FIELDS = ("app", "title", "process")


def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(glob), re.IGNORECASE | re.DOTALL)


class _Compiled:
    def __init__(self, rule: ExcludeRule) -> None:
        self.rule = rule
        self.tests = [
            (name, _pattern(glob)) for name in _FIELDS if (glob := getattr(rule, name)) is not None
        ]

    def matches(self, window: WindowInfo) -> bool:
        for name, pattern in self.tests:
            value = getattr(window, name)
            if value is None or pattern.fullmatch(value) is None:
                return False
        return True


class Rules:
    """The rules in force; :meth:`add` applies a new one at once."""

    def __init__(self, rules: Iterable[ExcludeRule] = ()) -> None:
        self._compiled: list[_Compiled] = []
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return len(self._compiled)

    def __contains__(self, rule: object) -> bool:
        return any(compiled.rule == rule for compiled in self._compiled)

    def add(self, rule: ExcludeRule) -> bool:
        """Put ``rule`` in force; False if it already was."""
        if rule in self:
            return False
        self._compiled.append(_Compiled(rule))
        return True

    def match(self, window: WindowInfo | None) -> ExcludeRule | None:
        """The first rule that ``window`` matches, if any."""
        if window is None:
            return None
        return next((c.rule for c in self._compiled if c.matches(window)), None)


_rules_decoder = msgspec.json.Decoder(list[ExcludeRule])


class RuleFile:
    """The rules added at run time, as a JSON list in ``path``, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[ExcludeRule]:
        """The saved rules (none if the file is missing); :class:`SetupError` if unreadable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SetupError(f"cannot read the privacy rules {self.path}: {exc.strerror}") from exc
        try:
            return _rules_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise SetupError(
                f"the privacy rules file {self.path} is damaged ({exc}); fix it, or move it "
                "aside and add the rules again"
            ) from exc

    def add(self, rule: ExcludeRule) -> None:
        """Save ``rule`` with the others (blocking: a write, an fsync and a rename)."""
        rules = self.load()
        if rule in rules:
            return
        self._write(msgspec.json.encode([*rules, rule]))

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".exclude-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
