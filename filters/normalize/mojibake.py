"""Mojibake repair: UTF-8 that was decoded as Windows-1252 or Latin-1, and stray C1 controls.

The common web case is UTF-8 bytes read as cp1252/latin-1: ``中文`` becomes ``ä¸­æ–‡``,
``café`` becomes ``cafÃ©``, ``“`` becomes ``â€œ``. Every such sequence starts with a
UTF-8 lead byte (0xC2-0xF4, read as ``Â``..``ô``) followed by a continuation byte
(0x80-0xBF, read as a C1 control, a cp1252 sign such as ``€ ‚ „ … † ‰ ‘ ’ “ ” • – —
™`` or a Latin-1 sign ``\\xa0``..``¿``). A second kind is a lone C1 control such as
``\\x92`` (a cp1252 apostrophe read as Latin-1; real rows of the dev set have it).

:func:`looks_like_mojibake` is a vectorized RE2 test for those two patterns (~600 MB/s);
it over-flags a little on purpose. Only flagged rows go through ftfy's ``fix_text``
restricted to encoding repair (``fix_encoding`` and ``fix_c1_controls``; no quote
uncurling, width folding, HTML unescaping or NFC, which other steps own), and ftfy's
own badness model decides whether to change a row, so clean text that merely matches
(``São``, ``naïve``, ``x²``) stays as it is. Not detected: MacRoman/cp437 mojibake, and
lossy mojibake where the bytes are gone (``锟斤拷``, ``�``), which cannot be repaired.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_CP1252_SIGNS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE_PATTERN = (
    "[\u00c2-\u00f4][\\x80-\\xbf" + _CP1252_SIGNS + "]"  # lead byte + continuation byte
    + "|[\u00c2\u00c3] "  # 'Â\xa0' / 'Ã\xa0' whose NBSP was already turned into a space
    + "|[\\x80-\\x9f]"  # C1 control: cp1252 text read as Latin-1
)
"""RE2 (and Python ``re``) pattern of rows that may be mojibake."""


@lru_cache(maxsize=1)
def _ftfy_config():
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=False,
        fix_encoding=True,
        fix_c1_controls=True,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=False,
        remove_control_chars=False,
        normalization=None,
        explain=False,
    )


def looks_like_mojibake(arr: pa.Array) -> np.ndarray:
    """One bool per row: the cheap vectorized pre-check (null rows are False)."""
    hit = pc.match_substring_regex(arr, MOJIBAKE_PATTERN).fill_null(False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def repair_text(text: str) -> str:
    """ftfy's encoding repair of one string; returns it unchanged when ftfy sees no mojibake."""
    import ftfy

    return ftfy.fix_text(text, _ftfy_config())


def repair_mojibake(arr: pa.Array, flagged: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
    """Repair the flagged rows of ``arr``; returns the new array and which rows changed.
    ``flagged``: :func:`looks_like_mojibake` of ``arr`` when already known."""
    flagged = looks_like_mojibake(arr) if flagged is None else flagged
    fixed = np.zeros(len(arr), dtype=bool)
    if not flagged.any():
        return arr, fixed
    idx = np.flatnonzero(flagged)
    before = arr.take(pa.array(idx)).to_pylist()
    after = [repair_text(t) if t is not None else None for t in before]
    fixed[idx] = [a != b for a, b in zip(after, before)]
    if not fixed.any():
        return arr, fixed
    changed = [a for a, b in zip(after, before) if a != b]
    out = pc.replace_with_mask(arr, pa.array(fixed), pa.array(changed, arr.type))
    return out, fixed
