"""Tesseract, run as its command-line tool: find it, check its languages, read words off a picture.

Each reading is one ``tesseract stdin stdout -l <langs> tsv`` process fed a greyscale PNM on
stdin, single-threaded (``OMP_THREAD_LIMIT=1``), niced like the indexer that starts it, and killed
by the kernel if the indexer dies (``PR_SET_PDEATHSIG``). Why the command line and not a binding
kept in memory (``tesserocr``) or ``pytesseract``: measured in ``docs/benchmarks.md`` ("Indexer").

Several regions of one frame are read in one process: :func:`read_regions` stacks the crops into
one picture (a mosaic) and maps each word back, so the engine's start-up (~0.07 s for ``eng``,
~0.15 s for ``eng+chi_sim``) is paid once per frame, not once per region.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import os
import resource
import shutil
import signal
import sys
from collections.abc import Sequence

import msgspec
from PIL import Image

from bus import ServiceError
from services.indexer.regions import Box

TESSERACT = "tesseract"
PR_SET_PDEATHSIG = 1
MOSAIC_GAP = 24  # white pixels between stacked regions, so no text line spans two
STDERR_TAIL = 300  # characters of tesseract's complaint kept in a reason

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class Word(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One word read on a capture: its text, its box in the capture's pixels, its confidence."""

    text: str
    x: int
    y: int
    w: int
    h: int
    conf: float

    @property
    def box(self) -> Box:
        return Box(self.x, self.y, self.w, self.h)

    def moved(self, dx: int, dy: int) -> Word:
        return msgspec.structs.replace(self, x=self.x + dx, y=self.y + dy)


class EngineMissing(ServiceError):
    """Tesseract or one of its languages is not installed; the message says how to install it."""


class OcrFailed(ServiceError):
    """Tesseract could not read this picture (it exited with an error)."""


class Engine(msgspec.Struct, frozen=True):
    """A usable tesseract: its executable, version and the languages to read."""

    path: str
    version: str
    languages: str

    @property
    def name(self) -> str:
        """``tesseract-<version>``: the engine a capture's text is keyed by."""
        return f"tesseract-{self.version}"


class Reading(msgspec.Struct, frozen=True):
    """The words of one picture and the CPU seconds tesseract spent on them."""

    words: list[Word]
    cpu_s: float


def install_hint(languages: str) -> str:
    """The command that installs tesseract with ``languages`` (Debian package names)."""
    packages = ["tesseract-ocr"] + [
        "tesseract-ocr-" + lang.replace("_", "-") for lang in languages.split("+")
    ]
    return "sudo apt-get install " + " ".join(packages)


async def _run(argv: Sequence[str], data: bytes = b"") -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        preexec_fn=_die_with_parent,  # a prctl call only: safe between fork and exec
    )
    try:
        out, err = await proc.communicate(data)
    except BaseException:  # cancelled: the child must not outlive the frame
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    return proc.returncode or 0, out, err


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


async def find_engine(languages: str) -> Engine:
    """The installed tesseract, checked to have every language; :class:`EngineMissing` if not."""
    path = shutil.which(TESSERACT)
    if path is None:
        raise EngineMissing(f"tesseract is not installed; run `{install_hint(languages)}`")
    try:
        code, out, err = await _run([path, "--version"])
        _, listed, _ = await _run([path, "--list-langs"])
    except OSError as exc:
        raise EngineMissing(
            f"tesseract cannot run ({exc}); run `{install_hint(languages)}`"
        ) from exc
    first = (out or err).decode(errors="replace").split()
    if code != 0 or len(first) < 2:
        raise EngineMissing(f"tesseract --version failed; run `{install_hint(languages)}`")
    have = set(listed.decode(errors="replace").split())
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        raise EngineMissing(
            f"tesseract has no data for {', '.join(missing)}; run `{install_hint(languages)}`"
        )
    return Engine(path, first[1], languages)


def _pnm(image: Image.Image) -> bytes:
    """``image`` as an uncompressed greyscale PNM (PGM): the cheapest format tesseract reads."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PPM")
    return buffer.getvalue()


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def read(engine: Engine, image: Image.Image) -> Reading:
    """The words tesseract reads on ``image``; :class:`OcrFailed`, or OSError if it is gone."""
    data = await asyncio.to_thread(_pnm, image)
    before = _child_cpu()  # one tesseract at a time: the delta is this one's
    argv = [engine.path, "stdin", "stdout", "-l", engine.languages, "--psm", "3", "tsv"]
    code, out, err = await _run(argv, data)
    cpu = _child_cpu() - before
    if code != 0:
        tail = err.decode(errors="replace").strip()[-STDERR_TAIL:]
        raise OcrFailed(f"tesseract exited with {code}: {tail}")
    return Reading(parse_tsv(out.decode(errors="replace")), cpu)


def parse_tsv(text: str) -> list[Word]:
    """The words (level 5 rows with text) of tesseract's TSV output."""
    words: list[Word] = []
    for line in text.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        x, y, w, h = (int(cell) for cell in cells[6:10])
        words.append(Word(cells[11].strip(), x, y, w, h, round(float(cells[10]), 2)))
    return words


class Mosaic(msgspec.Struct, frozen=True):
    """Crops of one picture stacked top to bottom, and where each one came from."""

    image: Image.Image
    placed: list[tuple[Box, int]]  # (region in the source, its top in the mosaic)

    @classmethod
    def of(cls, image: Image.Image, regions: Sequence[Box]) -> Mosaic:
        width = max(box.w for box in regions)
        height = sum(box.h for box in regions) + MOSAIC_GAP * (len(regions) + 1)
        canvas = Image.new("L", (width + 2 * MOSAIC_GAP, height), 255)
        placed: list[tuple[Box, int]] = []
        top = MOSAIC_GAP
        for box in regions:
            canvas.paste(image.crop((box.x, box.y, box.right, box.bottom)), (MOSAIC_GAP, top))
            placed.append((box, top))
            top += box.h + MOSAIC_GAP
        return cls(canvas, placed)

    def source(self, word: Word) -> Word | None:
        """``word`` in the source picture's pixels; None if it lies in no crop."""
        middle = word.y + word.h // 2
        for box, top in self.placed:
            if top <= middle < top + box.h:
                return word.moved(box.x - MOSAIC_GAP, box.y - top)
        return None


async def read_regions(engine: Engine, image: Image.Image, regions: Sequence[Box]) -> Reading:
    """The words in ``regions`` of ``image`` (source pixels), read in one tesseract run."""
    if not regions:
        return Reading([], 0.0)
    grey = await asyncio.to_thread(image.convert, "L")
    mosaic = await asyncio.to_thread(Mosaic.of, grey, regions)
    reading = await read(engine, mosaic.image)
    words = [moved for word in reading.words if (moved := mosaic.source(word)) is not None]
    return Reading(words, reading.cpu_s)


class ImageUndecodable(ServiceError):
    """The image's bytes are not a whole picture (truncated, corrupt); the message says why."""


def decode_image(data: bytes) -> Image.Image:
    """The picture in ``data``, fully decoded, in grey; :class:`ImageUndecodable` if it is not."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageUndecodable(f"the image cannot be decoded: {exc}") from exc
