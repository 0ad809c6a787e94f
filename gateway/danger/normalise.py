"""Normalisation and de-obfuscation before any detector looks at a text.

Harm spelled with look-alike letters, zero-width joiners, leetspeak or an
encoding is the same harm. ``normalise`` returns the text a detector should
read (NFKC, no invisible characters, Latin look-alikes folded, lower case,
leetspeak folded inside words); ``decoded`` returns payloads hidden in base64,
hex or ROT13, to be analysed again as text of their own.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata
from typing import Any

__all__ = ["decoded", "normalise"]

#: Characters that render as nothing: they split words for a matcher, not a reader.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d"
        "\u206e\u206f\u3164\ufeff\uffa0",
    ),
    None,
)
#: Cyrillic and Greek letters that look like Latin ones (NFKC leaves them alone).
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁԛԝһӏвмнктаАВЕКМНОРСТХУІЈЅαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwhlbmhktaabekmhopctxyijsabeiknoptuxabehikmnoptyx",
)
#: Digits only: "@" and "$" between letters are addresses and variables far more often.
_LEET = str.maketrans("013457", "oieast")
#: A word with a digit or symbol between letters ("p4ssw0rd", "1gn0r3"), not
#: a version or a unit ("ipv4", "base64", "x86", "k8s").
_LEET_WORD = re.compile(r"\b\w*[a-z][013457]+[a-z]\w*|\b[013457][a-z]+[013457]\w*")
#: Whether _LEET_WORD can change anything: a letter, leet digits, a letter; or a leet
#: digit starting a word before a letter. Written to begin with the digit class (the
#: conditions before it as lookbehinds) so that re skips ahead to the digits instead of
#: trying both branches at every position: same answer, ~3x faster on digit-rich text.
_HAS_LEET = re.compile(r"[013457](?:(?<=[a-z][013457])[013457]*[a-z]|(?<!\w[013457])[a-z])")
_LEET_DIGITS = "013457"


#: Every character the two tables above change, as one class: ``str.translate`` walks
#: every character of the text (~0.4 ms per 12 KB with a dict table), a search for the
#: class costs a fraction of that, and most non-ASCII texts hold none of them (a dash,
#: curly quotes). The two tables' keys are disjoint and deleting an invisible character
#: never makes a homoglyph, so one mapping of the found characters equals the two passes.
_FOLD: dict[int, str | None] = {**_INVISIBLE, **{k: chr(v) for k, v in _HOMOGLYPHS.items()}}
_FOLDED = re.compile("[" + "".join(re.escape(chr(k)) for k in _FOLD) + "]")


def _fold(match: re.Match[str]) -> str:
    return _FOLD[ord(match.group(0))] or ""


def normalise(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if _FOLDED.search(text):
            text = _FOLDED.sub(_fold, text)
    text = text.lower()
    # Leetspeak needs one of its digits: ``in`` is a memchr, the regex tries every position.
    if any(digit in text for digit in _LEET_DIGITS) and _HAS_LEET.search(text):
        text = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)
    return text


_BASE64 = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}|[A-Za-z0-9_-]{24,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){8,}|(?:\\x[0-9a-fA-F]{2}){8,}")
_ROT13_CUE = re.compile(r"\brot[ -]?13\b|\bcaesar\b")
_STRIP = "\"'`()[]{}<>,.;:!?"
_MAX_DECODED = 4


def _readable(raw: bytes) -> str | None:
    """Decoded bytes count only if they read as text: printable, with words or a path."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    if len(text) < 8 or printable < 0.95 * len(text) or not (" " in text.strip() or "/" in text):
        return None
    return text


def _b64(token: str) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    try:
        if "-" in token or "_" in token:
            return _readable(base64.urlsafe_b64decode(padded))
        return _readable(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None


def _hex(token: str) -> str | None:
    digits = token.replace("\\x", "")
    try:
        return _readable(bytes.fromhex(digits))
    except ValueError:
        return None


#: What ``decoded`` needs to find anything: 16 characters in a row of those hex and
#: base64 tokens are made of (every token it decodes has at least that many), or a
#: ROT13 cue. Most texts have neither, and one RE2 pass (~1 us) says so; splitting
#: the text into words to find out cost ~10 us per typical proposal.
_MAY_HIDE = r"(?i)[a-z0-9+/=_\\-]{16}|rot[ -]?13|caesar"


@functools.cache
def _may_hide() -> Any:
    import re2  # (imported here like prefilter.py does: the gateway package loads first)

    return re2.compile(_MAY_HIDE)


def decoded(text: str) -> list[str]:
    """Readable payloads hidden in long base64 / hex tokens, or the ROT13 of a text that names it.

    Only whitespace-separated tokens of 16+ characters are candidates: a split
    and a length test are far cheaper than scanning every position with a regex."""
    out: list[str] = []
    if _may_hide().search(text.encode("utf-8")) is None:
        return out
    for raw in [t for t in text.split() if len(t) >= 16]:
        token = raw.strip(_STRIP)
        plain: str | None = None
        if _HEX.fullmatch(token):
            plain = _hex(token)
        elif _BASE64.fullmatch(token) and not (token.isalpha() and token.islower()):
            # (a long run of lower-case letters is a word or a hash-free slug, not base64)
            plain = _b64(token)
        if plain is not None:
            out.append(plain)
    lowered = text.lower()
    if ("rot" in lowered or "caesar" in lowered) and _ROT13_CUE.search(lowered):
        out.append(codecs.decode(text, "rot13"))
    return out[:_MAX_DECODED]
