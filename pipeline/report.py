"""Plain-text tables for the terminal: the funnel of a run, counts by reason, samples."""

from __future__ import annotations

from typing import Iterable, Sequence


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A fixed-width table; ``align`` has one 'l' or 'r' per column (numbers right)."""
    rows = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    align = align or "l" * len(headers)

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def funnel(stats: dict) -> str:
    """The per-stage funnel of a stats.json payload: stage, in, kept, dropped by reason, seconds."""
    rows = []
    for s in stats["stages"]:
        reasons = s.get("dropped_by_reason") or {}
        first = True
        if not reasons:
            rows.append([s["stage"], s["rows_in"], s["kept"], 0, "", f"{s['seconds']:.2f}"])
        for reason, count in reasons.items():
            rows.append([s["stage"] if first else "", s["rows_in"] if first else "", s["kept"] if first else "",
                         count, reason, f"{s['seconds']:.2f}" if first else ""])
            first = False
    body = table(["stage", "in", "kept", "dropped", "reason", "seconds"], rows, "lrrrlr")
    total = (f"records_in={stats['records_in']}  kept={stats['kept']}  rejected={stats['rejected']}  "
             f"errored={stats['errored']}  ({stats.get('seconds', 0):.1f} s)")
    return f"{body}\n{total}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 row``, ``3 rows``, ``1 file``: a number with its noun in the right number."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def shorten(text: str | None, width: int = 160) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
