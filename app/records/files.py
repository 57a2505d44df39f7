"""What a sent file is, read from its bytes (never its name), and the copy that is kept.

Four kinds are taken: PDF, JPEG, PNG and HEIC (iPhone photos).

- Images are decoded by Pillow (HEIC through pillow-heif) and encoded again: what is kept
  is pixels only. EXIF (GPS position, the phone's make, the time) and every other block
  of metadata stay behind; the photo is first turned the way EXIF said it was held, so
  nothing comes out sideways. HEIC is kept as JPEG, which every browser and EHR shows.
  Larger than 4096 pixels on the long side is scaled down (a letter page at 4096 pixels
  across is about 370 dpi), and more than 60 megapixels is refused before decoding.
- PDFs are parsed by pikepdf (qpdf) without its repairs and refused when encrypted,
  broken, or carrying JavaScript, launch actions, embedded files, XFA forms or rich
  media; a PDF that passes is kept exactly as sent (re-writing it could break a lab's
  digital signature).

The caller scans what is kept with clamd (clamd.py) before anyone can open it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

# Long side of a kept image, and the most pixels we agree to decode at all (a 48 MP
# phone photo is 8064 x 6048).
MAX_SIDE = 4096
MAX_PIXELS = 60_000_000
_JPEG_QUALITY = 88
# The PDF header may follow up to 1024 bytes of junk (Acrobat's tolerance, PDF 1.7 annex H).
_PDF_HEADER_WITHIN = 1024

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"


class Refused(ValueError):
    """The file cannot be taken; ``reason`` is one of REASONS, for the page's message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Why a file is refused: each has its own message on the page (app/patient/wording.py).
NOT_A_KIND_WE_TAKE = "type"
EMPTY = "empty"
ENCRYPTED = "encrypted"
BROKEN = "broken"
ACTIVE_CONTENT = "active_content"
TOO_MANY_PIXELS = "pixels"


@dataclass(frozen=True)
class Kept:
    content: bytes
    content_type: str


def keepable(data: bytes) -> Kept:
    """The copy to keep of ``data``, or ``Refused`` saying why not."""
    if not data:
        raise Refused(EMPTY)
    if b"%PDF-" in data[: _PDF_HEADER_WITHIN + 5]:
        check_pdf(data)
        return Kept(data, PDF)
    return reencode_image(data)


# PDFs -----------------------------------------------------------------------------------

# Names whose presence in any object means the PDF can run something or carries a file.
_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/EmbeddedFiles", "/EmbeddedFile", "/XFA"})
_ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute"}
)
_ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/Filespec"})
_ACTIVE_SUBTYPES = frozenset({"/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen"})


def check_pdf(data: bytes) -> None:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as pdf:
            if pdf.is_encrypted:
                raise Refused(ENCRYPTED)
            if len(pdf.pages) == 0:
                raise Refused(BROKEN)
            if pdf.attachments:
                raise Refused(ACTIVE_CONTENT)
            for obj in pdf.objects:
                if _is_active(obj):
                    raise Refused(ACTIVE_CONTENT)
    except pikepdf.PasswordError:
        raise Refused(ENCRYPTED) from None
    except (pikepdf.PdfError, RuntimeError, ValueError, IndexError) as error:
        if isinstance(error, Refused):
            raise
        raise Refused(BROKEN) from None


def _is_active(obj) -> bool:
    """Whether this object, or any direct object inside it, can act or carries a file.
    (Indirect objects are each visited by the caller's loop over ``pdf.objects``.)"""
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    if isinstance(obj, pikepdf.Array):
        return any(_is_active(item) for item in obj if _direct_container(item))
    if not isinstance(obj, pikepdf.Dictionary):
        return False
    if set(obj.keys()) & _ACTIVE_KEYS:
        return True
    for key, names in (("/S", _ACTIVE_ACTIONS), ("/Type", _ACTIVE_TYPES)):
        value = obj.get(key)
        if isinstance(value, pikepdf.Name) and str(value) in names:
            return True
    subtype = obj.get("/Subtype")
    if isinstance(subtype, pikepdf.Name) and str(subtype) in _ACTIVE_SUBTYPES:
        return True
    return any(_is_active(value) for value in obj.values() if _direct_container(value))


def _direct_container(value) -> bool:
    import pikepdf

    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect


# Images ---------------------------------------------------------------------------------

_FORMATS = ("JPEG", "PNG", "HEIF")


def _pillow():
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return Image


def reencode_image(data: bytes) -> Kept:
    Image = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, past its own pixel limit: both mean "too big".
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_FORMATS)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Refused(TOO_MANY_PIXELS)
                source_format = image.format
                if source_format == "JPEG":
                    # Decode at a reduced scale straight away when the photo is huge.
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                upright = ImageOps.exif_transpose(image)
                upright.load()
    except Refused:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Refused(TOO_MANY_PIXELS) from None
    except UnidentifiedImageError:
        raise Refused(NOT_A_KIND_WE_TAKE) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        # A truncated or corrupt image: Pillow's decoders say so in these.
        raise Refused(BROKEN) from None
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    # Nothing of the original's metadata is handed to the encoder.
    upright.info = {}
    out = io.BytesIO()
    if source_format == "PNG":
        if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            upright = upright.convert("RGBA")
        upright.save(out, format="PNG", optimize=True)
        return Kept(out.getvalue(), PNG)
    if upright.mode not in ("L", "RGB"):
        upright = upright.convert("RGB")
    upright.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return Kept(out.getvalue(), JPEG)
