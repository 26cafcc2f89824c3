"""Rendering documents to PDF with Chinese text and QR codes."""

from __future__ import annotations

import io
from html import unescape
from pathlib import Path

import pypdf
import pytest

from openzone.core import documents
from openzone.kit.i18n import catalogue, current_language

documents.add_template_dir(Path(__file__).resolve().parent / "templates")

NOTICE = {
    "title": "行政许可决定书",
    "number": "京开许字〔2026〕第0001号",
    "addressee": "北京示例国际旅行社有限公司",
    "body": "经审查，你单位提交的旅行社业务经营许可申请材料齐全，符合法定形式，决定准予许可。",
    "rows": [{"item": "旅行社业务经营许可", "result": "准予许可"}, {"item": "出境旅游业务", "result": "不予许可"}],
    "verify_path": "/verify/0190a1b2",
}


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_chinese_notice_renders_to_a_pdf_whose_text_can_be_read_back(settings):
    pdf = documents.render_pdf("sample_notice.html", NOTICE)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for phrase in ("行政许可决定书", "京开许字〔2026〕第0001号", "决定准予许可", "旅行社业务经营许可", "不予许可",
                   "扫码核验", "开放区公共服务平台", "第 1 页，共 1 页"):
        assert phrase in text, phrase
    assert settings.base_url.rstrip("/") + "/verify/0190a1b2" in text.replace("\n", "")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata.title == "行政许可决定书"
    # Tagged, with the document language, so screen readers can read it.
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "zh-CN" and "/StructTreeRoot" in root
    # A4 is 595 × 842 points.
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_the_page_footer_counts_every_page():
    many = {**NOTICE, "rows": [{"item": f"事项{i}", "result": "准予许可"} for i in range(80)]}
    pdf = documents.render_pdf("sample_notice.html", many)
    text = _text(pdf)
    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2
    assert f"第 {pages} 页，共 {pages} 页" in text
    # The table header repeats on every page.
    assert text.count("事项 结果") == pages


def test_the_qr_code_carries_the_public_verification_url():
    html = unescape(documents.render_html("sample_notice.html", NOTICE))
    assert documents.qr_data_uri(documents.verify_url("/verify/0190a1b2")) in html


def test_the_verification_block_is_left_out_without_a_path():
    html = documents.render_html("sample_notice.html", {k: v for k, v in NOTICE.items() if k != "verify_path"})
    assert 'class="oz-verify"' not in html and "扫码核验" not in html


def test_the_document_language_follows_the_lang_argument_only():
    html = documents.render_html("sample_notice.html", NOTICE, lang="en")
    assert '<html lang="en">' in html
    assert current_language.get() == "zh-CN"
    assert '<html lang="zh-CN">' in documents.render_html("sample_notice.html", NOTICE)


def test_an_english_pdf_uses_the_english_catalogue():
    text = _text(documents.render_pdf("sample_notice.html", NOTICE, lang="en"))
    english = catalogue("en")
    assert english["扫码核验"] in text
    assert english["第 %(page)s 页，共 %(pages)s 页"] % {"page": 1, "pages": 1} in text


def test_context_values_are_escaped():
    html = documents.render_html("sample_notice.html", {**NOTICE, "addressee": "<script>alert(1)</script>"})
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_missing_variable_is_refused_with_a_clear_problem():
    context = {k: v for k, v in NOTICE.items() if k != "addressee"}
    with pytest.raises(documents.DocumentIncomplete) as err:
        documents.render_pdf("sample_notice.html", context)
    problem = err.value
    assert problem.status == 422
    assert "addressee" in problem.detail and "addressee" in problem.detail_en
    assert problem.to_dict()["type"] == "/problems/document-incomplete"


def test_a_missing_attribute_is_refused_too():
    with pytest.raises(documents.DocumentIncomplete):
        documents.render_html("sample_notice.html", {**NOTICE, "rows": [{"item": "只有事项"}]})


def test_an_unknown_template_is_refused():
    with pytest.raises(documents.DocumentTemplateNotFound) as err:
        documents.render_pdf("no_such_document.html", {})
    assert err.value.status == 404


def test_a_document_cannot_fetch_files_or_the_network(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(documents.qr_png("secret"))
    (tmp_path / "leak.html").write_text(
        '{% extends "documents/base.html" %}{% block content %}<h1>泄露</h1>'
        f'<img src="file://{secret}" alt="x"><img src="http://127.0.0.1:9/x.png" alt="y">{{% endblock %}}')
    documents.add_template_dir(tmp_path)
    pdf = documents.render_pdf("leak.html", {})
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert not reader.pages[0]["/Resources"].get("/XObject")


def test_qr_codes_come_as_svg_and_png():
    svg = documents.qr_svg("https://oz.example.cn/verify/1")
    assert svg.startswith("<svg") and "</svg>" in svg
    assert documents.qr_data_uri("x").startswith("data:image/svg+xml")
    png = documents.qr_png("https://oz.example.cn/verify/1")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_verification_url_uses_the_configured_base(settings):
    assert documents.verify_url("/verify/x") == settings.base_url.rstrip("/") + "/verify/x"
