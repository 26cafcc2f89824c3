"""Feed an image to Chromium's fake camera: YUV4MPEG2 frames for --use-file-for-fake-video-capture."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

FRAME = (640, 480)


def write_y4m(png: bytes, path: Path, *, frames: int = 5) -> None:
    """Write a PNG (say, a screenshot of a phone's QR code) centred on white as 4:2:0 grey frames."""
    image = Image.open(io.BytesIO(png)).convert("L")
    image.thumbnail((FRAME[0] - 40, FRAME[1] - 40), Image.Resampling.NEAREST)
    canvas = Image.new("L", FRAME, 255)
    canvas.paste(image, ((FRAME[0] - image.width) // 2, (FRAME[1] - image.height) // 2))
    chroma = b"\x80" * (FRAME[0] // 2 * FRAME[1] // 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n" + canvas.tobytes() + chroma + chroma)
