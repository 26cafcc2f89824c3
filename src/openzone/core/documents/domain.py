"""Pure document rules: page setup and the public verification URL a QR code points to."""

from __future__ import annotations

from openzone.kit.errors import problem

PAGE_SIZE = "A4"
SANS = '"Noto Sans CJK SC"'
SERIF = '"Noto Serif CJK SC"'

DocumentTemplateNotFound = problem("document-template-not-found", 404, "找不到文书模板", "No such document template")
DocumentIncomplete = problem("document-incomplete", 422, "文书缺少必要内容", "The document lacks required content")
InvalidVerificationPath = problem("document-verification-path", 422, "核验路径无效", "The verification path is not valid")


def verification_url(base_url: str, path: str) -> str:
    """Join the deployment's base URL and a site path such as /verify/abc into the URL a QR code carries."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c.isspace() for c in path):
        raise InvalidVerificationPath("核验路径须为以 / 开头的站内路径", "A verification path is a site path starting with /")
    return base_url.rstrip("/") + path
