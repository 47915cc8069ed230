"""Final-answer extraction from a written math solution.

A generated (or reference) solution states its final answer in one of a few
conventions. We look for them from the most explicit to the least, and inside one
convention take the LAST occurrence (a solution may box intermediate results; the
final statement comes last):

1. ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces), or ``\\boxed 5``;
2. GSM8K's ``#### 18``;
3. Chinese markers ``答案：`` / ``答案是`` / ``答案为`` / ``最终答案``, ``答：`` at a line start;
4. English markers "the (final) answer is", "Answer:", "Final answer:";
5. optionally, the last number in the text (GSM8K calculator annotations
   ``<<16-3-4=9>>`` removed first), the weakest signal, flagged as such.

The result says which rule matched (``method``) so that a config or the stats can
tell a boxed answer from a guessed last number.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

METHODS = ("boxed", "hash", "zh_marker", "en_marker", "last_number")

_BOXED_START = regex.compile(r"\\(?:boxed|fbox)\s*(\{)|\\boxed\s+([^\s$\\{}]+)")
_HASH = regex.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", regex.M)
_ZH = regex.compile(r"(?:最终答案|答案)\s*(?:[:：]|是|为|應為|应为|=)\s*(.+)|^\s*答\s*[:：]\s*(.+)", regex.M)
_EN = regex.compile(
    r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)\s*[:：]?\s*(.+)|final\s+answer\s*[:：]\s*(.+)",
    regex.I,
)
_CALC_ANNOTATION = regex.compile(r"<<[^<>]*>>")
_NUMBER = regex.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)|-?\d+(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# Where a marked answer ends: end of line, or a sentence end (a period not inside a number).
_ZH_END = regex.compile(r"[。；;！!？?\n]|，(?=[^\d])")
_EN_END = regex.compile(r"\.(?!\d)\s|\.$|\n|;")


@dataclass(frozen=True)
class ExtractedAnswer:
    answer: str
    method: str  # one of METHODS
    start: int  # offset of the answer in the text, for highlighting


def find_boxed(text: str) -> list[tuple[str, int]]:
    """Every ``\\boxed{...}`` content (braces balanced) with its offset, in order."""
    found: list[tuple[str, int]] = []
    for m in _BOXED_START.finditer(text):
        if m.group(2) is not None:  # \boxed 5
            found.append((m.group(2), m.start(2)))
            continue
        start = m.end(1)
        depth, i = 1, start
        while i < len(text) and depth:
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                i += 2  # skip escaped characters such as \{ and \}
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            i += 1
        if depth == 0:
            found.append((text[start : i - 1], start))
    return found


def _clean_marked(ans: str, end_re: regex.Pattern) -> str:
    """Cut a marked answer at its sentence end and strip decoration (bold, $, quotes)."""
    m = end_re.search(ans)
    if m:
        ans = ans[: m.start()]
    ans = ans.strip().strip("*").strip()
    if ans.startswith("$") and ans.count("$") >= 2:  # "$\frac{1}{2}$ dollars" -> "\frac{1}{2}"
        ans = ans[1:].split("$", 1)[0]
    inner = find_boxed(ans)
    if inner:
        ans = inner[-1][0]
    return ans.strip().strip("$").strip().rstrip("。.,，").strip()


def last_number(text: str) -> tuple[str, int] | None:
    """The last number (integer, decimal, a/b, 1,234) in the text, calculator annotations removed."""
    cleaned = _CALC_ANNOTATION.sub(lambda m: " " * len(m.group()), text)
    last = None
    for m in _NUMBER.finditer(cleaned):
        last = m
    return (last.group(), last.start()) if last else None


def extract_answer(text: str | None, *, allow_last_number: bool = True) -> ExtractedAnswer | None:
    """The final answer of a solution, or None when it states none."""
    if not text:
        return None
    boxed = [b for b in find_boxed(text) if b[0].strip()]
    if boxed:
        ans, pos = boxed[-1]
        return ExtractedAnswer(ans.strip(), "boxed", pos)
    hashes = list(_HASH.finditer(text))
    if hashes:
        m = hashes[-1]
        ans = _clean_marked(m.group(1), _EN_END)
        if ans:
            return ExtractedAnswer(ans, "hash", m.start(1))
    for pattern, method, end_re in ((_ZH, "zh_marker", _ZH_END), (_EN, "en_marker", _EN_END)):
        matches = list(pattern.finditer(text))
        for m in reversed(matches):
            group = 1 if m.group(1) is not None else 2
            ans = _clean_marked(m.group(group), end_re)
            if ans:
                return ExtractedAnswer(ans, method, m.start(group))
    if allow_last_number:
        found = last_number(text)
        if found:
            return ExtractedAnswer(found[0], "last_number", found[1])
    return None


def extract_reference(value: str | None) -> str | None:
    """A reference answer as stored in a row: a bare answer, or a solution to extract from.

    A bare answer (``"18"``, ``"\\frac{1}{2}"``) is returned as is; a full solution
    with a ``\\boxed{}`` or ``####`` marker yields its marked answer.
    """
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if "\\boxed" in value or "\\fbox" in value or "####" in value:
        found = extract_answer(value, allow_last_number=False)
        if found:
            return found.answer
    return value
