"""Every supported format loads to text; every kind of bad input becomes one clear LoadProblem."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from memgpt.ingest.loaders import (
    LoadedDocument,
    LoadError,
    LoadOptions,
    LoadProblem,
    iter_files,
    load_all,
    load_file,
)

fpdf = pytest.importorskip("fpdf")
docx = pytest.importorskip("docx")


def make_pdf(pages: list[str]) -> bytes:
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def text_of(doc: LoadedDocument) -> str:
    return "\n".join(s.text for s in doc.segments)


def problem(path: Path, options: LoadOptions | None = None) -> str:
    with pytest.raises(LoadError) as info:
        load_file(path, options)
    reason = info.value.problem.reason
    assert str(path) in reason
    assert reason.endswith(".") and "\n" not in reason
    return reason


# --- formats ---------------------------------------------------------------


def test_txt_and_md(tmp_path: Path) -> None:
    data = "Héllo wörld.\n\nSecond paragraph."
    doc = load_file(write(tmp_path / "a.txt", data))
    assert text_of(doc) == data
    assert doc.segments[0].page is None and doc.segments[0].char_offset == 0
    assert doc.content_hash == hashlib.sha256(data.encode()).hexdigest()
    md = load_file(write(tmp_path / "b.md", "# Title\n\n- item"))
    assert "# Title" in text_of(md)


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path / "bom.txt", b"\xef\xbb\xbfhello"))
    assert text_of(doc) == "hello"


def test_pdf_one_segment_per_page(tmp_path: Path) -> None:
    path = write(tmp_path / "doc.pdf", make_pdf(["First page text.", "", "Third page text."]))
    doc = load_file(path)
    assert [s.page for s in doc.segments] == [1, 3]  # the blank page yields no segment
    assert "First page text." in doc.segments[0].text
    assert "Third page text." in doc.segments[1].text


def test_pdf_with_empty_user_password_loads(tmp_path: Path) -> None:
    # Owner-password-only PDFs restrict editing, not reading.
    path = write(tmp_path / "owner.pdf", encrypt_pdf(make_pdf(["Readable."]), user_password=""))
    assert "Readable." in text_of(load_file(path))


def test_html_becomes_markdown_without_scripts(tmp_path: Path) -> None:
    html = (
        "<html><head><title>T</title><script>var secret = 1;</script></head>"
        "<body><h1>Heading</h1><p>Caf\u00e9 &amp; more.</p></body></html>"
    )
    for name in ("page.html", "page.htm"):
        text = text_of(load_file(write(tmp_path / name, html)))
        assert "# Heading" in text and "Café & more." in text
        assert "secret" not in text


def test_docx(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Report", level=1)
    document.add_paragraph("The quarterly numbers went up.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "region"
    table.cell(1, 0).text = "north"
    path = tmp_path / "report.docx"
    document.save(str(path))
    text = text_of(load_file(path))
    assert "# Report" in text
    assert "The quarterly numbers went up." in text
    assert "north" in text


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "libreoffice.docx",
            ["# Harbour log", "The ferry to Ardmore leaves at seven.", "4 m", "Fuel is sold"],
        ),
        (
            "pandoc.docx",
            ["# Field notes", "logs the weather at dawn and dusk.", "1012 hPa", "Thursdays"],
        ),
    ],
)
def test_docx_from_other_producers(name: str, expected: list[str]) -> None:
    # Word files written by LibreOffice and pandoc (see fixtures/README.md), not python-docx.
    text = text_of(load_file(FIXTURES / name))
    for fragment in expected:
        assert fragment in text


def test_json_is_reindented(tmp_path: Path) -> None:
    value = {"name": "Ada", "langs": ["en", "fr"], "note": "naïve"}
    text = text_of(load_file(write(tmp_path / "d.json", json.dumps(value))))
    assert json.loads(text) == value
    assert "\n" in text and "naïve" in text


def test_csv_rows_are_labelled_by_column(tmp_path: Path) -> None:
    data = 'name,city,age\nAda,London,36\n,,\n"Smith, J",Paris,\n'
    text = text_of(load_file(write(tmp_path / "people.csv", data)))
    assert text.splitlines() == ["name: Ada; city: London; age: 36", "name: Smith, J; city: Paris"]


def test_fallback_encoding_is_used_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.txt", "café".encode("cp1252"))
    assert "not valid UTF-8" in problem(path)
    doc = load_file(path, LoadOptions(fallback_encoding="cp1252"))
    assert text_of(doc) == "café"


# --- bad input -------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    assert "no such file" in problem(tmp_path / "nope.txt")


def test_corrupt_pdf(tmp_path: Path) -> None:
    data = make_pdf(["Some text here."])
    path = write(tmp_path / "broken.pdf", data[: len(data) // 3])
    assert "not a readable PDF" in problem(path)


def test_pdf_extension_on_non_pdf(tmp_path: Path) -> None:
    assert "not a PDF" in problem(write(tmp_path / "fake.pdf", "just text"))


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.pdf", encrypt_pdf(make_pdf(["Hidden."]), user_password="pw"))
    assert "password-protected" in problem(path)


def test_corrupt_docx(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.docx", b"PK\x03\x04 not really a zip")
    assert "not a readable Word document" in problem(path)


def test_binary_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4 + os.urandom(512)
    assert "binary" in problem(write(tmp_path / "blob.txt", data))


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in problem(write(tmp_path / "empty.md", b""))


def test_whitespace_only_file(tmp_path: Path) -> None:
    assert "no extractable text" in problem(write(tmp_path / "blank.txt", "  \n\n\t"))


def test_pdf_without_text(tmp_path: Path) -> None:
    assert "no extractable text" in problem(write(tmp_path / "blank.pdf", make_pdf([""])))


def test_oversize_file(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "x" * 2000)
    reason = problem(path, LoadOptions(max_bytes=1000))
    assert "over the 1,000-byte limit" in reason
    assert load_file(path, LoadOptions(max_bytes=2000))


def test_non_utf8(tmp_path: Path) -> None:
    assert "bad byte at offset 3" in problem(write(tmp_path / "x.txt", b"abc\xff\xfe def"))


def test_invalid_json(tmp_path: Path) -> None:
    assert "not valid JSON" in problem(write(tmp_path / "bad.json", '{"a": '))


def test_unsupported_extension(tmp_path: Path) -> None:
    assert "unsupported file type '.exe'" in problem(write(tmp_path / "tool.exe", b"MZ"))
    assert "(no extension)" in problem(write(tmp_path / "README", "text"))


def test_folder_passed_to_load_file(tmp_path: Path) -> None:
    assert "not a regular file" in problem(tmp_path)


# --- folders ---------------------------------------------------------------


def test_iter_files_is_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ["b.txt", "a.txt", "sub/c.md", ".hidden.txt", ".git/config", "sub/.swp"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / rel, "x")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert names == ["a.txt", "b.txt", "sub/c.md"]
    assert list(iter_files(tmp_path / "a.txt")) == [tmp_path / "a.txt"]


def test_load_all_reports_problems_and_keeps_going(tmp_path: Path) -> None:
    write(tmp_path / "1-good.txt", "Fine text.")
    write(tmp_path / "2-empty.txt", b"")
    write(tmp_path / "3-broken.pdf", b"%PDF-1.4\n garbage")
    write(tmp_path / "4-tool.bin", b"\x00\x01")
    write(tmp_path / "5-good.md", "More text.")
    results = list(load_all(tmp_path))
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "LoadedDocument",
        "LoadProblem",
        "LoadProblem",
        "LoadProblem",
        "LoadedDocument",
    ]


def test_load_all_on_missing_path(tmp_path: Path) -> None:
    [result] = list(load_all(tmp_path / "missing"))
    assert isinstance(result, LoadProblem) and "no such file" in result.reason


def test_same_file_twice_has_same_hash(tmp_path: Path) -> None:
    a = load_file(write(tmp_path / "a.txt", "same bytes"))
    b = load_file(write(tmp_path / "b.txt", "same bytes"))
    assert a.content_hash == b.content_hash


def _rss() -> int:
    with open("/proc/self/status") as status:
        return int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) * 1024


def _bomb(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


PARAGRAPH = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"
DOCUMENT = b'<?xml version="1.0"?><w:document xmlns:w="w"><w:body>'


@pytest.mark.parametrize(
    "parts, options, says",
    [
        # The probe's file: 31 KB holding a 10 MB document.xml.
        (
            {"word/document.xml": DOCUMENT + PARAGRAPH * (10 * 2**20 // len(PARAGRAPH))},
            LoadOptions(),
            "zip bomb",
        ),
        ({"word/document.xml": b" " * (17 * 2**20)}, LoadOptions(), "of XML, over the limit"),
        ({"media/photo.jpg": os.urandom(2**20)}, LoadOptions(max_unpacked_bytes=2**19), "unpacks"),
        ({f"word/part{i}.xml": b"<a/>" for i in range(2001)}, LoadOptions(), "2,001 parts"),
    ],
)
def test_a_docx_bomb_is_refused_at_once(
    tmp_path: Path, parts: dict, options: LoadOptions, says: str
) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(_bomb(parts))
    before, start = _rss(), time.monotonic()
    with pytest.raises(LoadError) as caught:
        load_file(path, options)
    assert time.monotonic() - start < 1.0
    assert _rss() - before < 50 * 2**20
    assert says in str(caught.value) and str(caught.value).startswith(f"{path}: ")


def test_a_pdf_over_the_page_limit_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter()
    for _ in range(4):
        writer.add_blank_page(72, 72)
    path = tmp_path / "pages.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    with pytest.raises(LoadError, match="has 4 pages, over the limit of 3; split it"):
        load_file(path, LoadOptions(max_pdf_pages=3))


def test_a_docx_past_its_parse_time_is_stopped(tmp_path: Path) -> None:
    """Within every size limit, yet slow to parse: the child is stopped at its deadline."""
    words = [os.urandom(4).hex() for _ in range(4000)]
    body = b"".join(
        b"<w:p><w:r><w:t>" + " ".join(words[i : i + 8]).encode() + b"</w:t></w:r></w:p>"
        for i in range(0, 4000, 8)
    )
    path = tmp_path / "slow.docx"
    path.write_bytes(
        _bomb({"word/document.xml": DOCUMENT + body * 100 + b"</w:body></w:document>"})
    )
    start = time.monotonic()
    with pytest.raises(LoadError, match="took longer than 0.5 s to parse; split it"):
        load_file(path, LoadOptions(parse_timeout_s=0.5))
    assert time.monotonic() - start < 3
