"""The report's text, and where a quote sits in it.

The report is a plain-text rendering of a typeset book: words are broken across lines with a hyphen
("compre-\\nhensive"), and real compounds are sometimes broken at their own hyphen ("High-\\nlevel").
A fixture's quote is the report's own words with those breaks joined, so a quote matches the text when
it equals it after collapsing white space, where each line-break hyphen may be either dropped (a broken
word) or kept (a broken compound).

This module has no Django imports, so the catalog can be checked from a plain Python shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPORT_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "report" / "commission-final-report.txt"

# Marks, in the flattened text, the place where a line ended with a hyphen.
_BREAK = "\u00ad"
_LINE_BREAK_HYPHEN = re.compile(r"-[ \t]*\n[ \t]*")
_SPACE = re.compile(r"\s+")


def normalize_quote(quote: str) -> str:
    """A quote as stored: white space collapsed, no line breaks."""
    return _SPACE.sub(" ", quote).strip()


@dataclass(frozen=True)
class QuoteLocation:
    first_line: int  # 1-based line numbers in the report file
    last_line: int
    start: int  # character offsets in the report file: raw[start:end] is the quoted passage
    end: int


class ReportText:
    """The report file flattened for searching, with a map back to its line numbers."""

    def __init__(self, raw: str):
        self.raw = raw
        flat_chars: list[str] = []
        line_of: list[int] = []
        offset_of: list[int] = []  # where each flattened character comes from in the raw text
        line = 1
        i = 0
        previous_space = True
        while i < len(raw):
            match = _LINE_BREAK_HYPHEN.match(raw, i)
            if match and raw[i] == "-":
                flat_chars.append(_BREAK)
                line_of.append(line)
                offset_of.append(i)
                line += match.group(0).count("\n")
                i = match.end()
                previous_space = False
                continue
            char = raw[i]
            if char == "\n":
                line += 1
            if char.isspace():
                if not previous_space:
                    flat_chars.append(" ")
                    line_of.append(line)
                    offset_of.append(i)
                previous_space = True
            else:
                flat_chars.append(char)
                line_of.append(line)
                offset_of.append(i)
                previous_space = False
            i += 1
        self.flat = "".join(flat_chars)
        self._line_of = line_of
        self._offset_of = offset_of

    @classmethod
    def load(cls, path: Path = REPORT_PATH) -> ReportText:
        return cls(path.read_text(encoding="utf-8"))

    @cached_property
    def joined(self) -> str:
        """The whole text with line-break hyphens joined and white space collapsed."""
        return self.flat.replace(_BREAK, "")

    @staticmethod
    def _pattern(quote: str) -> re.Pattern[str]:
        parts = []
        for char in normalize_quote(quote):
            if char == "-":
                # A hyphen in the quote is either in the text, or a compound broken at the line end.
                parts.append(f"[-{_BREAK}]")
            elif char == " ":
                parts.append(" ")
            else:
                # Between any two characters the text may hold a broken-word marker.
                parts.append(re.escape(char) + f"{_BREAK}?")
        return re.compile("".join(parts))

    def locate(self, quote: str) -> QuoteLocation | None:
        """Where the quote is in the report, or None when the report does not say it."""
        if not normalize_quote(quote):
            return None
        match = self._pattern(quote).search(self.flat)
        if match is None:
            return None
        last = match.end() - 1
        return QuoteLocation(
            self._line_of[match.start()], self._line_of[last], self._offset_of[match.start()], self._offset_of[last] + 1
        )
