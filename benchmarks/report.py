"""Turning `Results` into the printed table, `results.json`, `RESULTS.md` and `results.png`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import Results, Row

PEERS = ("serverless-offline", "ministack")
COLUMNS = ("gureum", "floor", "floor-raw", *PEERS)


def number(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}"
    if unit in ("", "envs"):
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ratio_text(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}x"


class Footnotes:
    """Numbers the notes that explain a missing or qualified figure."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def mark(self, note: str) -> str:
        if note not in self.notes:
            self.notes.append(note)
        return f"[{self.notes.index(note) + 1}]"


def cell_text(row: Row, target: str, notes: Footnotes, with_ratio: bool) -> str:
    cell = row.cells.get(target)
    if cell is None:
        return ""
    if cell.value is None:
        return "n/a " + notes.mark(cell.note or "not measured")
    text = number(cell.value, row.unit)
    if with_ratio and (ratio := row.ratio(target)) is not None:
        text += f" ({ratio_text(ratio)})"
    if "error" in cell.note or "unfinished" in cell.note or "stopped" in cell.note:
        text += " " + notes.mark(cell.note)
    elif target == "floor" and row.floor_basis:
        text += " " + notes.mark(row.floor_basis)
    return text


def table(results: Results) -> tuple[list[list[str]], list[str]]:
    """Header and rows of text, and the footnotes the cells refer to."""
    notes = Footnotes()
    columns = [c for c in COLUMNS if c in results.targets]
    header = ["what", "unit"]
    for column in columns:
        header.append(column)
        if column == "floor":
            header.append("gureum/floor")
    lines = [header]
    for row in results.rows.values():
        if not row.cells:
            continue
        cells = [row.label, row.unit]
        for column in columns:
            cells.append(cell_text(row, column, notes, with_ratio=column in PEERS))
            if column == "floor":
                cells.append(ratio_text(row.ratio("gureum")))
        lines.append(cells)
    return lines, notes.notes


def plain(results: Results) -> str:
    lines, notes = table(results)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    out += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(out)


def markdown_table(results: Results) -> str:
    lines, notes = table(results)
    out = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
    out += ["| " + " | ".join(cell.replace("|", "/") for cell in line) + " |" for line in lines[1:]]
    out.append("")
    out += [f"[{i}] {note}  " for i, note in enumerate(notes, 1)]
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    status: str  # "met", "missed" or "not shown"
    detail: str


def verdicts(results: Results) -> list[Verdict]:
    found: list[Verdict] = []
    v = results.value

    cold = v("cold_p50", "gureum")
    if cold is None:
        found.append(Verdict("cold start median under 10 ms", "not shown", "not measured"))
    else:
        status = "met" if cold < 10 else "missed"
        found.append(
            Verdict(
                "cold start median under 10 ms",
                status,
                f"{cold:.2f} ms ({cold / 10:.2f}x the 10 ms budget)",
            )
        )

    isolated = v("cold_iso_p50", "gureum")
    if isolated is None:
        found.append(Verdict("isolated cold start median under 10 ms", "not shown", "not measured"))
    else:
        found.append(
            Verdict(
                "isolated cold start median under 10 ms",
                "met" if isolated < 10 else "missed",
                f"{isolated:.2f} ms ({isolated / 10:.2f}x the 10 ms budget)",
            )
        )

    warm, floor = v("warm_p50", "gureum"), v("warm_p50", "floor")
    if warm is None or floor is None:
        found.append(Verdict("warm p50 within 2x the floor", "not shown", "not measured"))
    else:
        ratio = warm / floor
        found.append(
            Verdict(
                "warm p50 within 2x the floor",
                "met" if ratio <= 2 else "missed",
                f"{warm:.3f} ms vs floor {floor:.3f} ms = {ratio:.2f}x (budget 2x: "
                f"{2 * floor:.3f} ms)",
            )
        )

    found.append(_throughput_verdict(results))

    accepts = v("async_accept", "gureum")
    if accepts is None:
        found.append(Verdict("durable Event accepts >= 5,000/s", "not shown", "not measured"))
    else:
        found.append(
            Verdict(
                "durable Event accepts >= 5,000/s",
                "met" if accepts >= 5000 else "missed",
                f"{accepts:,.0f}/s ({accepts / 5000:.2f}x the target)",
            )
        )
    found.append(_scale_verdict(results))
    return found


def _throughput_verdict(results: Results) -> Verdict:
    name = "8-client throughput >= half the floor's and ahead of every peer"
    mine, floor = results.value("tput_8", "gureum"), results.value("tput_8", "floor")
    if mine is None or floor is None:
        return Verdict(name, "not shown", "not measured")
    parts = [f"{mine:,.0f}/s = {mine / floor:.2f}x the floor's {floor:,.0f}/s"]
    ok = mine >= floor / 2
    peers = [p for p in PEERS if p in results.targets]
    for peer in peers:
        theirs = results.value("tput_8", peer)
        if theirs is None:
            parts.append(f"{peer}: no figure")
            continue
        ok = ok and mine > theirs
        parts.append(f"{mine / theirs:.1f}x {peer}'s {theirs:,.0f}/s")
    if not peers:
        parts.append("peers not run (use --peers)")
        return Verdict(name, "met, peers not compared" if ok else "missed", "; ".join(parts))
    return Verdict(name, "met" if ok else "missed", "; ".join(parts))


def _scale_verdict(results: Results) -> Verdict:
    name = "1,000 concurrent environments, under 10 MB each"
    row = results.rows["scale_time"].cells.get("gureum")
    per_env = results.value("scale_all_mb", "gureum")
    envs = results.value("scale_envs", "gureum")
    if row is None or per_env is None or envs is None:
        return Verdict(name, "not shown", row.note if row is not None else "not measured")
    only = results.value("scale_env_mb", "gureum") or 0.0
    detail = (
        f"{envs:,.0f} environments; {per_env:.2f} MB each all-in (server, zygotes and sandboxes), "
        f"{only:.2f} MB each counting only the environments' own processes; "
        f"{per_env / 10:.2f}x the 10 MB budget"
    )
    if row.value is None:
        return Verdict(name, "missed", f"{row.note}; {detail}")
    if envs < 1000:
        return Verdict(
            name, "not shown at 1,000" + (" (met at this N)" if per_env < 10 else ""), detail
        )
    return Verdict(name, "met" if per_env < 10 else "missed", detail)


def write_json(results: Results, path: Path) -> None:
    path.write_text(json.dumps(results.to_json(), indent=2, sort_keys=False) + "\n")
