"""A QR code as SVG, made here (segno, pure Python): no service outside is asked."""

from __future__ import annotations

import io

import segno


class TooLong(ValueError):
    """The text does not fit in a QR code."""


def qr_svg(text: str) -> bytes:
    """`text` as a QR code at medium error correction (a projector's glare, a phone held
    at an angle): a viewBox and no size, so the page scales it; a white ground and the
    standard quiet zone of 4 modules, so a phone finds it on any page."""
    out = io.BytesIO()
    try:
        code = segno.make(text, error="m", micro=False)
    except segno.DataOverflowError:
        raise TooLong(f"a link of {len(text)} characters does not fit in a QR code; open "
                      "the teacher's page by a shorter address") from None
    code.save(
        out, kind="svg", scale=1, border=4, xmldecl=False, svgclass="qr", lineclass=None,
        omitsize=True, light="#fff", title="QR code of the link")
    # crisp module edges at any scale (no seams between anti-aliased rows)
    return out.getvalue().replace(b"<svg ", b'<svg shape-rendering="crispEdges" ', 1)
