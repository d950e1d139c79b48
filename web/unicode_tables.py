"""The character classes of the `vocab` tokenizer, written out for the page's JavaScript tokenizer.

JavaScript has no `str.casefold()`, and its `\\s` and `\\p{P}` differ from Python's
`str.isspace()` and `unicodedata.category` (U+FEFF is a space in JavaScript, U+001C-U+001F
and U+0085 are not; the browser's Unicode version is not Python's). Reading the classes
off this Python makes the page tokenize as `edgelstm.runtime.tokenizer` does by
construction; only NFKC is left to the browser.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache

from edgelstm.runtime.standardize import CHARACTER_SCRIPTS


@lru_cache(maxsize=1)
def tables() -> dict[str, object]:
    """{"casefold": {code point: folded}, "whitespace": [...], "punctuation_symbol_ranges": [[a, b]...],
    "character_word_ranges": [[a, b]...] (the code points the CJK rule makes words of their own)}."""
    casefold: dict[int, str] = {}
    whitespace: list[int] = []
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        folded = char.casefold()
        if folded != char:
            casefold[code] = folded
        if char.isspace():
            whitespace.append(code)
        if unicodedata.category(char)[0] in "PS":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    characters = [[low, high] for low, high, _ in sorted(CHARACTER_SCRIPTS)]
    return {"unicode_version": unicodedata.unidata_version, "casefold": casefold,
            "whitespace": whitespace, "punctuation_symbol_ranges": ranges, "character_word_ranges": characters}
