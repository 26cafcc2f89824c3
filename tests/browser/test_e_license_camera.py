"""The clerk's camera scanner (static/e_license/scan.js with the vendored jsQR) reads a QR code from Chromium's fake
camera and submits it. Served from a plain loopback server: the app's Permissions-Policy (camera=()) blocks cameras."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest
import segno

from tests.browser.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.browser
STATIC = Path(__file__).resolve().parents[2] / "src" / "openzone" / "web" / "static"
FRAME = (640, 480)
PAYLOAD = "ozc1:" + "A" * 43
# The markup of the clerk's application page around the scanner (templates/e_license/application.html).
PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>scan</title></head><body>
<div id="scanner" data-scan-form="present-form" data-scan-input="token" data-no-decoder="no decoder">
<button type="button" id="scan-start" hidden>打开摄像头扫码</button>
<video id="scan-video" muted playsinline hidden></video><p id="scan-status" role="status"></p></div>
<form method="post" action="/present" id="present-form"><input id="token" name="token"></form>
<script src="/static/vendor/jsQR.js"></script><script type="module" src="/static/e_license/scan.js"></script>
</body></html>"""


def write_y4m(text: str, path: Path) -> None:
    """Write a QR code as YUV4MPEG2 4:2:0 frames (black on white, no colour), the fake camera's file format."""
    matrix = [list(row) for row in segno.make(text, error="m").matrix]
    scale, border = 8, 4
    size = (len(matrix) + 2 * border) * scale
    x0, y0 = (FRAME[0] - size) // 2, (FRAME[1] - size) // 2
    luma = bytearray(b"\xff" * (FRAME[0] * FRAME[1]))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (y0 + (r + border) * scale + dy) * FRAME[0] + x0 + (c + border) * scale
                    luma[start:start + scale] = b"\x00" * scale
    chroma = b"\x80" * (FRAME[0] // 2 * FRAME[1] // 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            fh.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


class Handler(http.server.BaseHTTPRequestHandler):
    """Serve the scanner page and the static files; remember what the form posts."""

    posted: ClassVar[list[str]] = []

    def do_GET(self):
        if self.path == "/scan":
            body, kind = PAGE.encode(), "text/html; charset=utf-8"
        elif self.path.startswith("/static/") and ".." not in self.path:
            file = STATIC / self.path[len("/static/"):]
            body, kind = file.read_bytes(), "text/javascript"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", kind)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers["content-length"])).decode()
        Handler.posted.append(parse_qs(data).get("token", [""])[0])
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!DOCTYPE html><title>ok</title><p>ok</p>")

    def log_message(self, *args):
        pass


def test_the_camera_scanner_reads_the_qr_code_and_submits_it(browser, tmp_path):
    camera = tmp_path / "qr.y4m"
    write_y4m(PAYLOAD, camera)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scanner = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}"])
    try:
        page = scanner.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/scan")
        page.get_by_role("button", name="打开摄像头扫码").click()
        page.wait_for_url("**/present", timeout=20_000)
        assert Handler.posted == [PAYLOAD]
    finally:
        scanner.close()
        server.shutdown()
        server.server_close()
