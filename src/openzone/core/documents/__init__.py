"""Documents: Jinja templates (StrictUndefined) rendered to HTML and PDF, with QR codes for verification."""

from openzone.core.documents.domain import (
    PAGE_SIZE,
    DocumentIncomplete,
    DocumentTemplateNotFound,
    InvalidVerificationPath,
    verification_url,
)
from openzone.core.documents.service import (
    add_template_dir,
    qr_data_uri,
    qr_png,
    qr_svg,
    render_html,
    render_pdf,
    verify_url,
)

__all__ = [
    "PAGE_SIZE",
    "DocumentIncomplete",
    "DocumentTemplateNotFound",
    "InvalidVerificationPath",
    "add_template_dir",
    "qr_data_uri",
    "qr_png",
    "qr_svg",
    "render_html",
    "render_pdf",
    "verification_url",
    "verify_url",
]
