"""Render documents: Jinja templates (StrictUndefined) to HTML, then to PDF with WeasyPrint; QR codes with segno."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
import weasyprint
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError, select_autoescape

from openzone.config import get_settings
from openzone.core.documents import domain
from openzone.core.documents.domain import DocumentIncomplete, DocumentTemplateNotFound
from openzone.kit import i18n

_dirs: list[Path] = [Path(__file__).resolve().parent / "templates"]
_env: Environment | None = None


def add_template_dir(path: Path | str) -> None:
    """Add a module's document templates folder to the search path (call once at import time)."""
    global _env
    path = Path(path).resolve()
    if path not in _dirs:
        _dirs.append(path)
        _env = None


def verify_url(path: str) -> str:
    """Return the public verification URL for a site path, on this deployment's base URL."""
    return domain.verification_url(get_settings().base_url, path)


def qr_svg(data: str) -> str:
    """Return a QR code (error correction M) for data as an inline SVG string."""
    return segno.make(data, error="m", micro=False).svg_inline(scale=4, border=4, title=data)


def qr_data_uri(data: str) -> str:
    """Return a QR code for data as an SVG data URI, for an <img> in a document."""
    return segno.make(data, error="m", micro=False).svg_data_uri(scale=4, border=4)


def qr_png(data: str) -> bytes:
    """Return a QR code for data as PNG bytes."""
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def environment() -> Environment:
    """Return the document Jinja environment, building it on first use."""
    global _env
    if _env is None:
        env = Environment(
            loader=FileSystemLoader([str(d) for d in _dirs]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
        env.globals.update(pick=i18n.pick, qr_svg=qr_svg, qr_data_uri=qr_data_uri, verify_url=verify_url,
                           page_size=domain.PAGE_SIZE, sans=domain.SANS, serif=domain.SERIF)
        _env = env
    return _env


def render_html(template_name: str, context: dict[str, Any], *, lang: str = "zh-CN") -> str:
    """Render a document template to HTML in a language; a missing variable is refused, never left blank."""
    lang = i18n.normalise(lang)
    token = i18n.current_language.set(lang)
    try:
        template = environment().get_template(template_name)
        return template.render({**context, "lang": lang})
    except TemplateNotFound as exc:
        raise DocumentTemplateNotFound(f"找不到文书模板：{template_name}",
                                       f"No document template named {template_name}") from exc
    except UndefinedError as exc:
        raise DocumentIncomplete(f"文书模板 {template_name} 缺少内容：{exc.message}",
                                 f"The document template {template_name} lacks a value: {exc.message}") from exc
    finally:
        i18n.current_language.reset(token)


def render_pdf(template_name: str, context: dict[str, Any], *, lang: str = "zh-CN") -> bytes:
    """Render a document template to a tagged A4 PDF with Noto CJK fonts."""
    html = render_html(template_name, context, lang=lang)
    # Only data: URIs load: a document never reaches the network or the file system while rendering.
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(pdf_tags=True)
