"""Copy pinned npm front-end assets into src/openzone/web/static/vendor, dropping GOV.UK's font and crest."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "assets" / "node_modules"
OUT = ROOT / "src" / "openzone" / "web" / "static" / "vendor"

# GOV.UK Frontend's licence lets us use the code, not the GDS Transport typeface or the crown:
# the CSS gets a CJK-first font stack and loses the @font-face rules and crest images.
FONT_STACK = '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",arial,sans-serif'


def govuk_css(text: str) -> str:
    """Return GOV.UK Frontend's CSS with our font stack and without the Crown's assets."""
    text = re.sub(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", text)
    text = text.replace("font-family:GDS Transport,arial,sans-serif", f"font-family:{FONT_STACK}")
    text = text.replace("font-family:GDS Transport", f"font-family:{FONT_STACK}")
    text = re.sub(r"url\(/assets/images/govuk-crest\.svg\)", "none", text)
    text = re.sub(r"/\*# sourceMappingURL=[^*]*\*/", "", text)
    if "GDS Transport" in text or "/assets/" in text:
        raise SystemExit("GOV.UK Frontend CSS still names GDS Transport or /assets/: update vendor_assets.py")
    return text


def strip_map(text: str) -> str:
    """Drop the source-map comment of a minified file whose map we do not ship."""
    return re.sub(r"\n?//# sourceMappingURL=\S+\s*$", "\n", text)


def main() -> None:
    if not MODULES.exists():
        sys.exit("assets/node_modules is missing: run `npm ci --ignore-scripts --prefix assets` first")
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "govuk").mkdir(parents=True)
    (OUT / "swagger").mkdir()
    govuk = MODULES / "govuk-frontend" / "dist" / "govuk"
    (OUT / "govuk" / "govuk-frontend.min.css").write_text(govuk_css((govuk / "govuk-frontend.min.css").read_text()))
    (OUT / "govuk" / "govuk-frontend.min.js").write_text(strip_map((govuk / "govuk-frontend.min.js").read_text()))
    (OUT / "htmx.min.js").write_text(strip_map((MODULES / "htmx.org" / "dist" / "htmx.min.js").read_text()))
    swagger = MODULES / "swagger-ui-dist"
    for name in ("swagger-ui.css", "swagger-ui-bundle.js"):
        (OUT / "swagger" / name).write_text(strip_map((swagger / name).read_text()))
    # jsQR (Apache-2.0) decodes QR codes from camera frames on the e-license clerk's page; UMD, sets window.jsQR.
    (OUT / "jsQR.js").write_text((MODULES / "jsqr" / "dist" / "jsQR.js").read_text())
    print(f"vendored assets into {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
