"""Text normalisation of the counting rules (docs/design.md, rule 5), shared with tracked-list validation."""

from __future__ import annotations

import html
import re
import unicodedata

_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
    }
)
_WHITESPACE = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """HTML-unescape, NFKC, casefold, straighten curly quotes, collapse whitespace, trim."""
    value = unicodedata.normalize("NFKC", html.unescape(value)).casefold()
    return _WHITESPACE.sub(" ", value.translate(_QUOTES)).strip()


def normalize_hashtag(value: str) -> str:
    """normalize_text, then drop one leading '#' (NFKC already folds the full-width '＃') and spaces."""
    value = normalize_text(value)
    if value.startswith("#"):
        value = value[1:]
    return value.strip()
