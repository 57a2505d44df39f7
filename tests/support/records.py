"""Files a person might send, made in the test: PDFs (plain, encrypted, with JavaScript,
with an attached file, broken), photos (a JPEG with GPS in its EXIF, an iPhone HEIC, a
PNG), and one carrying the EICAR test string for clamd."""

from __future__ import annotations

import io

import pikepdf
from PIL import Image

from tests.support.clamd import EICAR

# The position written into the JPEG's GPS block (Moffitt's, in Tampa).
GPS = {1: "N", 2: (28.0, 4.0, 0.0), 3: "W", 4: (82.0, 25.0, 0.0)}
_ORIENTATION = 0x0112
_GPS_IFD = 0x8825


def pdf(
    text: str = "Pathology report",
    *,
    javascript: bool = False,
    attachment: bool = False,
    password: str | None = None,
    extra: bytes = b"",
) -> bytes:
    document = pikepdf.new()
    document.add_blank_page(page_size=(612, 792))
    page = document.pages[0]
    font = document.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = document.make_stream(
        b"BT /F1 24 Tf 72 700 Td ("
        + text.encode()
        + b") Tj ET"
        + (b" % " + extra if extra else b"")
    )
    if javascript:
        document.Root.OpenAction = pikepdf.Dictionary(
            S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hi')")
        )
    if attachment:
        document.attachments["notes.txt"] = pikepdf.AttachedFileSpec(document, b"hello")
    out = io.BytesIO()
    if password:
        document.save(out, encryption=pikepdf.Encryption(owner=password, user=password))
    else:
        document.save(out, compress_streams=False)
    return out.getvalue()


def eicar_pdf() -> bytes:
    """A valid PDF that carries the EICAR string in its page's content stream."""
    return pdf(extra=EICAR)


def broken_pdf() -> bytes:
    whole = pdf()
    return whole[: len(whole) // 2]


def jpeg_with_gps(size: tuple[int, int] = (80, 40)) -> bytes:
    """A photo taken on its side (EXIF orientation 6) with a GPS position."""
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    exif[_GPS_IFD] = GPS
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, format="JPEG", exif=exif)
    return out.getvalue()


def heic(size: tuple[int, int] = (64, 48)) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, format="HEIF")
    return out.getvalue()


def png(size: tuple[int, int] = (50, 50)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, format="PNG")
    return out.getvalue()


def large_file(megabytes: int) -> bytes:
    """A valid PDF padded to ``megabytes`` (what the size limit must refuse)."""
    body = pdf()
    return body + b"%" + b"0" * (megabytes * 1024 * 1024 - len(body))
