"""Render ``codeml-repro status --json`` as a Markdown table for a CI job summary.

Usage::

    codeml-repro status --json > status.json
    python .github/scripts/summary.py status.json [--only SLUGS_FILE] [--title TEXT]
        [--check] >> "$GITHUB_STEP_SUMMARY"

``--only`` keeps the slugs listed (one a line) in SLUGS_FILE. ``--check``
exits 1 when a listed submission is neither ``reproduced`` nor ``functional``
(nor ``skipped``: not run on this runner for lack of a declared GPU or memory),
naming each on stderr. A run of another profile than ``full`` (e.g. the pull
request's ``smoke`` run) is marked as such. Author-supplied text is escaped: it is data, not
Markdown. Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CLEAN = ("reproduced", "functional", "skipped")


def cell(value: object, limit: int = 200) -> str:
    """One table cell: one line, Markdown and HTML neutralized, at most ``limit`` chars."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    for char, repl in (("\\", "\\\\"), ("|", "\\|"), ("`", "\\`"), ("*", "\\*"), ("_", "\\_"),
                       ("[", "\\["), ("]", "\\]"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, repl)
    return text


def _error(row: dict[str, Any]) -> str:
    if row.get("skip_reason"):
        return f"not run here: {row['skip_reason']}"
    err = row.get("error") or {}
    if not err:
        return ""
    where = f" (cell {err['cell']})" if err.get("cell") is not None else ""
    return f"{err.get('type', '')}: {err.get('message', '')}{where}"


def table(rows: list[dict[str, Any]], title: str) -> str:
    lines = [f"## {cell(title)}", ""]
    if not rows:
        return "\n".join([*lines, "No submission to report.", ""])
    lines += ["| submission | status | badges | claims ok | duration (s) | error |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        claims = row.get("claims") or []
        ok = sum(1 for c in claims if c.get("ok"))
        claims_cell = f"{ok}/{len(claims)}" if claims else "-"
        flaky = " (flaky)" if row.get("flaky") else ""
        if row.get("profile", "full") != "full":
            flaky += f" ({cell(row['profile'])} profile)"
        badges = cell(", ".join(row.get("badges") or []))
        lines.append(
            f"| {cell(row['slug'])} | {cell(row['status'])}{flaky} | {badges} "
            f"| {claims_cell} | {float(row.get('duration_s') or 0):.1f} | {cell(_error(row))} |"
        )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    lines += ["", ", ".join(f"{n} {cell(s)}" for s, n in sorted(counts.items())), ""]
    profiles = sorted({str(r.get("profile")) for r in rows if r.get("profile", "full") != "full"})
    if profiles:
        names = ", ".join(cell(p) for p in profiles)
        lines += [f"Submissions with a {names} profile ran it: a quick check, not the full run; "
                  "the full run on main checks the paper's numbers.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("status_json", type=Path)
    parser.add_argument("--only", type=Path, default=None, help="file listing the slugs to show")
    parser.add_argument("--title", default="Reproducibility")
    parser.add_argument("--check", action="store_true", help="exit 1 unless all are clean")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = json.loads(args.status_json.read_text(encoding="utf-8"))
    if args.only is not None:
        wanted = set(args.only.read_text(encoding="utf-8").split())
        rows = [r for r in rows if r["slug"] in wanted]
    rows.sort(key=lambda r: r["slug"])
    sys.stdout.write(table(rows, args.title))
    if args.check:
        bad = [r for r in rows if r["status"] not in CLEAN]
        for row in bad:
            # repr keeps a hostile value on one line, so it cannot start a workflow command.
            print(f"not reproduced: {row['slug']!r}: {row['status']!r} "
                  "(see the job summary and the results artifact)", file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
