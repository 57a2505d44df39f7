"""What is kept of a sent file: the type from its bytes, images re-encoded without their
metadata, PDFs parsed and refused when encrypted, broken or active."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.records import files
from tests.support import records


def test_a_photo_loses_its_gps_and_exif_and_comes_out_upright():
    sent = records.jpeg_with_gps()
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825), "the photo has GPS"
    kept = files.keepable(sent)
    assert kept.content_type == files.JPEG
    image = Image.open(io.BytesIO(kept.content))
    assert not image.getexif() and b"Exif" not in kept.content
    # Held on its side (orientation 6): kept turned, 40 wide and 80 high.
    assert image.size == (40, 80)


def test_an_iphone_heic_is_kept_as_jpeg():
    kept = files.keepable(records.heic())
    assert kept.content_type == files.JPEG
    assert Image.open(io.BytesIO(kept.content)).format == "JPEG"


def test_a_png_stays_png_and_a_plain_pdf_is_kept_as_sent():
    assert files.keepable(records.png()).content_type == files.PNG
    sent = records.pdf()
    kept = files.keepable(sent)
    assert kept == files.Kept(sent, files.PDF)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: records.pdf(password="secret"), files.ENCRYPTED),
        (lambda: records.pdf(javascript=True), files.ACTIVE_CONTENT),
        (lambda: records.pdf(attachment=True), files.ACTIVE_CONTENT),
        (records.broken_pdf, files.BROKEN),
        (lambda: b"<html><script>alert(1)</script></html>", files.NOT_A_KIND_WE_TAKE),
        (lambda: b"GIF89a" + b"\0" * 40, files.NOT_A_KIND_WE_TAKE),
        (lambda: records.jpeg_with_gps((400, 300))[:700], files.BROKEN),
        (lambda: b"", files.EMPTY),
    ],
    ids=["encrypted", "javascript", "attachment", "broken", "html", "gif", "bad-jpeg", "empty"],
)
def test_refused_files_say_why(make, reason):
    with pytest.raises(files.Refused) as refused:
        files.keepable(make())
    assert refused.value.reason == reason


def test_a_huge_picture_is_refused_before_it_is_decoded():
    out = io.BytesIO()
    Image.new("1", (10000, 7000)).save(out, format="PNG")
    with pytest.raises(files.Refused) as refused:
        files.keepable(out.getvalue())
    assert refused.value.reason == files.TOO_MANY_PIXELS


def test_a_large_photo_is_scaled_to_the_kept_size():
    out = io.BytesIO()
    Image.new("RGB", (5000, 2500), "green").save(out, format="JPEG")
    kept = files.keepable(out.getvalue())
    assert max(Image.open(io.BytesIO(kept.content)).size) == files.MAX_SIDE
