"""A private Xvfb and desktop-like pictures on it, for the benchmarks and the tests alike.

:func:`start_xvfb` starts ``Xvfb -displayfd`` (the server picks a free display number and writes it
to a pipe once it accepts connections: no probe, no race, no sleep) and returns an
:class:`XServer`; :func:`running_xvfb` stops it at the end. Drawing goes through real X clients:
``xsetroot`` paints the root window, ``xwud`` shows a picture written by :func:`to_xwd`, such as
the generated :func:`desktop_image`.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

XVFB_START_TIMEOUT = 30.0
X_CLIENT_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
SCREEN_SIZE = (1920, 1080)
XWD_HEADER_FIELDS = 25
X11_SOCKETS = Path("/tmp/.X11-unix")
XVFB_FLAGS = ("-nolisten", "tcp", "-noreset")


@dataclass
class XServer:
    """A running Xvfb and the X clients started on it."""

    display: str
    size: tuple[int, int]
    process: subprocess.Popen[bytes]
    workdir: Path
    clients: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment of an X client of this server."""
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *argv: str) -> None:
        """Run one X client to completion (its requests are processed when it exits)."""
        subprocess.run(
            argv, env=self.env(), check=True, capture_output=True, timeout=X_CLIENT_TIMEOUT
        )

    def fill(self, color: str) -> None:
        """Paint the whole root window ``color`` (an X colour name or ``#rrggbb``)."""
        self.run("xsetroot", "-solid", color)

    def show(self, image: Image.Image, name: str = "ctxbus-test") -> None:
        """Show ``image`` at the top-left corner in an ``xwud`` window; return once it is mapped.

        ``xwud`` paints on its first Expose, just after the mapping: a caller that needs the pixels
        waits for them on the screen.
        """
        path = self.workdir / f"{name}.xwd"
        path.write_bytes(to_xwd(image, name))
        client = subprocess.Popen(
            ["xwud", "-in", str(path), "-geometry", "+0+0", "-noclick"],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.clients.append(client)
        self.run("xdotool", "search", "--sync", "--onlyvisible", "--name", f"^xwud: {name}$")

    def close(self) -> None:
        """Stop every client, then the server."""
        for proc in [*self.clients, self.process]:
            stop_process(proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, SIGKILL, reap."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


def _read_display_number(read_fd: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + XVFB_START_TIMEOUT
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError(
                f"Xvfb did not start within {XVFB_START_TIMEOUT}s (is xvfb installed?)"
            )
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 64)
            if not chunk:
                raise RuntimeError("Xvfb closed its -displayfd pipe without a display number")
            data += chunk
    return int(data.strip())


def unused_display_number() -> int:
    """A display number no X server holds now (for a test that starts one later on purpose)."""
    for number in range(random.randrange(200, 900), 1000):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not X11_SOCKETS.joinpath(f"X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number from 200 to 999")


def start_xvfb(size: tuple[int, int] = SCREEN_SIZE, number: int | None = None) -> XServer:
    """Start a private Xvfb at ``size`` x 24 bits; return once it accepts connections.

    Without ``number`` the server picks a free display itself (``-displayfd``).
    """
    read_fd, write_fd = os.pipe()
    workdir = Path(tempfile.mkdtemp(prefix="cb-x-"))
    chosen = [f":{number}"] if number is not None else []
    geometry = f"{size[0]}x{size[1]}x24"
    with (workdir / "xvfb.log").open("wb") as log:
        proc = subprocess.Popen(
            ["Xvfb", *chosen, "-displayfd", str(write_fd), "-screen", "0", geometry, *XVFB_FLAGS],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    os.close(write_fd)
    try:
        number = _read_display_number(read_fd, proc)
    except BaseException:
        stop_process(proc)
        raise
    finally:
        os.close(read_fd)
    return XServer(display=f":{number}", size=size, process=proc, workdir=workdir)


@contextlib.contextmanager
def running_xvfb(
    size: tuple[int, int] = SCREEN_SIZE, number: int | None = None
) -> Iterator[XServer]:
    """:func:`start_xvfb` as a context manager that always stops the server."""
    server = start_xvfb(size, number)
    try:
        yield server
    finally:
        server.close()


def to_xwd(image: Image.Image, name: str) -> bytes:
    """``image`` as an X Window Dump (24-bit TrueColor ZPixmap), the format ``xwud`` shows."""
    width, height = image.size
    window_name = name.encode() + b"\0"
    header = [
        XWD_HEADER_FIELDS * 4 + len(window_name),  # header_size
        7,  # file_version
        2,  # pixmap_format: ZPixmap
        24,  # pixmap_depth
        width,
        height,
        0,  # xoffset
        0,  # byte_order: LSBFirst
        32,  # bitmap_unit
        0,  # bitmap_bit_order: LSBFirst
        32,  # bitmap_pad
        32,  # bits_per_pixel
        width * 4,  # bytes_per_line
        4,  # visual_class: TrueColor
        0xFF0000,  # red_mask
        0x00FF00,  # green_mask
        0x0000FF,  # blue_mask
        8,  # bits_per_rgb
        0,  # colormap_entries
        0,  # ncolors
        width,  # window_width
        height,  # window_height
        0,  # window_x
        0,  # window_y
        0,  # window_bdrwidth
    ]
    pixels = image.convert("RGB").tobytes("raw", "BGRX")
    return struct.pack(f">{XWD_HEADER_FIELDS}I", *header) + window_name + pixels


def desktop_image(size: tuple[int, int] = SCREEN_SIZE, seed: int = 0) -> Image.Image:
    """A desktop-like picture (varies with ``seed``): a gradient wallpaper, windows with title bars
    and lines of text, a rendered fractal and a photo-like noisy picture."""
    width, height = size
    shade = Image.linear_gradient("L").resize(size)
    flat = Image.new("L", size, 60 + seed % 5 * 30)
    image = Image.merge("RGB", (shade, shade.transpose(Image.Transpose.FLIP_LEFT_RIGHT), flat))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    for index in range(4):
        left = 40 + index * width // 5 + seed * 13 % 50
        top = 60 + index * 120
        right, bottom = left + width // 2, top + height // 2
        draw.rectangle((left, top, right, bottom), fill=(250, 250, 248), outline=(90, 90, 90))
        draw.rectangle((left, top, right, top + 28), fill=(60 + index * 40, 80, 160))
        draw.text((left + 10, top + 6), f"window {index} - seed {seed}", fill="white", font=font)
        for line in range(20):
            words = " ".join(f"word{(seed + index * 31 + line * 7 + n) % 97}" for n in range(9))
            draw.text((left + 12, top + 40 + line * 20), words, fill=(20, 20, 20), font=font)
    box = (width // 3, height // 3)
    zoom = 1.0 + seed % 4 * 0.3
    fractal = Image.effect_mandelbrot(box, (-2 / zoom, -1.2 / zoom, 1 / zoom, 1.2 / zoom), 100)
    image.paste(fractal.convert("RGB"), (width - box[0] - 30, 100))
    photo = [
        Image.effect_noise(box, 40 + n * 10).filter(ImageFilter.GaussianBlur(3)) for n in range(3)
    ]
    image.paste(Image.merge("RGB", photo), (width - box[0] - 80, height - box[1] - 60))
    return image
