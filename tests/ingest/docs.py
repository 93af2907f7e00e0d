"""Build a folder of real documents in every supported format, plus every kind of bad file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

GOOD = {
    "notes.txt": "Owls hunt at night. They swallow small prey whole.",
    "guide.md": "# Gardening\n\nTomatoes need full sun and steady watering.",
    "page.html": "<html><body><h1>Trains</h1><p>The night train leaves at nine.</p></body></html>",
    "data.json": json.dumps({"city": "Lisbon", "river": "Tagus"}),
    "table.csv": "name,colour\nbanana,yellow\nplum,purple\n",
}


def make_pdf(pages: list[str]) -> bytes:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def make_docx(paragraphs: list[str]) -> bytes:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["secret"]))))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def good_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "report.pdf").write_bytes(
        make_pdf(["Page one is about rivers.", "Page two is about bridges."])
    )
    (root / "letter.docx").write_bytes(make_docx(["Dear Ana,", "The meeting moved to Friday."]))
    return root


BAD = {
    "binary.txt": b"\x00\x01\x02binary",
    "empty.md": b"",
    "latin1.txt": "caf\u00e9 cr\u00e8me".encode("latin-1"),
    "broken.pdf": b"%PDF-1.4 this is not really a pdf",
    "fake.pdf": b"not a pdf at all",
    "broken.json": b"{not json",
    "broken.docx": b"PK\x03\x04 not a zip",
    "image.png": b"\x89PNG\r\n",
}


def bad_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in BAD.items():
        (root / name).write_bytes(data)
    (root / "locked.pdf").write_bytes(encrypted_pdf())
    (root / "huge.txt").write_text("word " * 2000)
    return root
