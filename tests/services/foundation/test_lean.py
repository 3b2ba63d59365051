"""main and the launcher keep OpenSSL out (skip_tls), and a command that needs TLS gets it back."""

from __future__ import annotations

import pytest

from tests.fixtures.processes import python_output

# Imports an entry package the way its process does, uses what main and the launcher use of
# asyncio, hashlib and secrets, then prints which OpenSSL libraries the process maps.
PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
import asyncio, hashlib, secrets
assert len(hashlib.blake2b(b"request", digest_size=16).digest()) == 16
assert len(secrets.token_urlsafe(32)) == 43

async def plain_http_round_trip():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    server.close()

asyncio.run(plain_http_round_trip())
maps = open("/proc/self/maps").read()
print(",".join(lib for lib in ("libssl", "libcrypto") if lib in maps) or "none")
"""


def probe(*modules: str) -> str:
    return python_output(PROBE, *modules).strip()


@pytest.mark.parametrize(
    "entry",
    [
        ("services.main.__main__", "services.main.cli"),  # `python -m services.main`
        ("services.cli", "services.cli.entry"),  # `ctxbus up` (the launcher), and every tool
    ],
)
def test_main_and_the_launcher_map_no_openssl(entry: tuple[str, ...]) -> None:
    """With their modules imported, asyncio, hashlib and secrets work and OpenSSL is not mapped."""
    assert probe(*entry) == "none"


def test_a_process_that_does_not_skip_tls_maps_openssl() -> None:
    """The probe sees OpenSSL where nothing keeps it out (asyncio imports ssl)."""
    assert "libcrypto" in probe()


def test_allow_tls_makes_ssl_importable_again() -> None:
    """After allow_tls, ssl imports and can make a TLS context (`ctxbus search`'s httpx)."""
    code = (
        "from services.foundation.lean import allow_tls, skip_tls\n"
        "skip_tls()\n"
        "try:\n    import ssl\nexcept ImportError:\n    print('blocked')\n"
        "allow_tls()\n"
        "import ssl\n"
        "ssl.create_default_context()\n"
        "print('allowed')\n"
    )
    assert python_output(code).split() == ["blocked", "allowed"]


def test_skip_tls_is_a_no_op_once_ssl_is_loaded() -> None:
    """A process that already loaded ssl (pytest's) keeps it: nothing is blocked after the fact."""
    code = (
        "import ssl, sys\n"
        "from services.foundation.lean import skip_tls\n"
        "skip_tls()\n"
        "import hashlib\n"
        "print(sys.modules['_hashlib'] is not None)\n"
    )
    assert python_output(code).strip() == "True"


@pytest.mark.parametrize(
    "entry",
    [
        ("services.main.__main__", "services.main.cli"),
        ("services.cli", "services.cli.entry", "services.launcher.run"),
    ],
)
def test_main_and_the_launcher_start_without_psutil(entry: tuple[str, ...]) -> None:
    """psutil is for rare paths (a predecessor's records, a forced stop): not imported at start."""
    code = "import importlib, sys\nfor n in sys.argv[1:]: importlib.import_module(n)\n"
    assert python_output(code + "print('psutil' in sys.modules)", *entry).strip() == "False"
