"""Text normalisation of the counting rules (docs/design.md, rule 5), shared with tracked-list validation."""

from __future__ import annotations

import html
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


def normalize_text(value: str) -> str:
    """HTML-unescape, NFKC, casefold, straighten curly quotes, collapse whitespace, trim.

    Whitespace is Python's (`str.isspace`): `split()` and `re`'s `\\s` use the same test, so the
    join is the regular expression's collapse-and-trim at a third of its cost; an ASCII text has
    no curly quotes to straighten (`isascii` is a flag check)."""
    value = unicodedata.normalize("NFKC", html.unescape(value)).casefold()
    if not value.isascii():
        value = value.translate(_QUOTES)
    return " ".join(value.split())


def normalize_hashtag(value: str) -> str:
    """normalize_text, then drop one leading '#' (NFKC already folds the full-width '＃') and spaces."""
    value = normalize_text(value)
    if value.startswith("#"):
        value = value[1:]
    return value.strip()
