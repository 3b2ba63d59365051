"""Two processes writing one data dir at once: WAL and the busy timeout keep both working."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.backend.conftest import Running, encode_image, upload

REPO = Path(__file__).resolve().parents[2]
WRITER = """
import asyncio, sys, time
from functools import partial
from pathlib import Path
from backend.catalog import Capture, insert_capture
from backend.database import Database
from backend.ids import new_capture_id

async def main() -> None:
    db = Database.open(Path(sys.argv[1]))
    for i in range(int(sys.argv[2])):
        now = time.time()  # captured now: the backend's retention pass keeps it
        row = Capture(new_capture_id(), f"other-{i}", now, 0, 1, 1, "image/png", 1, "x", now)
        await db.write(partial(insert_capture, capture=row))
    db.close()

asyncio.run(main())
"""


async def test_uploads_beside_another_writing_process(running: Running) -> None:
    """Uploads succeed while another process commits rows to the same database."""
    rows = 50
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(running.config.data_dir), str(rows), cwd=REPO
    )
    body = encode_image()
    statuses: list[int] = []
    while other.returncode is None:  # keep uploading for as long as the other process writes
        statuses.append(
            (await upload(running.client, f"mine-{len(statuses)}", body=body)).status_code
        )
    assert await other.wait() == 0
    assert statuses == [201] * len(statuses)
    storage = (await running.client.get("/health")).json()["components"]["storage"]
    assert storage["captures"] == rows + len(statuses)
