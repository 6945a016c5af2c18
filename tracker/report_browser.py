"""The report as a page: its paragraphs, with every tracked recommendation highlighted where it stands.

Paragraphs are the report file's blank-line separated blocks, numbered in order (`#p-12`), so a link to a
paragraph stays stable as long as the text does. Each initiative's quote is marked at the character offsets
`load_report` found for it; where quotes overlap (one sentence that asks for two things), the overlapping
stretch is marked once and links to each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass
class Segment:
    text: str
    initiatives: list = field(default_factory=list)  # the initiatives whose quote covers this stretch
    anchors: list = field(default_factory=list)  # the initiatives whose quote starts here
    endings: list = field(default_factory=list)  # the initiatives whose quote ends here


@dataclass
class Paragraph:
    number: int
    segments: list[Segment]

    @property
    def anchor(self) -> str:
        return f"p-{self.number}"


def paragraphs(text: str, initiatives) -> list[Paragraph]:
    """The report's paragraphs, cut into plain and highlighted segments.

    `initiatives` need `quote_start` and `quote_end` (offsets into `text`); those without are left out.
    """
    spans = [(i.quote_start, i.quote_end, i) for i in initiatives if i.quote_start is not None]
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update((start, end))
    blocks = []
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        blocks.append((position, match.start()))
        position = match.end()
    blocks.append((position, len(text)))

    result = []
    for number, (block_start, block_end) in enumerate(blocks, start=1):
        if not text[block_start:block_end].strip():
            continue
        points = sorted({block_start, block_end} | {c for c in cuts if block_start < c < block_end})
        segments = []
        for start, end in zip(points, points[1:], strict=False):
            covering = [i for s, e, i in spans if s <= start and end <= e]
            starting = [i for s, _, i in spans if s == start]
            ending = [i for _, e, i in spans if e == end]
            segments.append(Segment(text[start:end], covering, starting, ending))
        result.append(Paragraph(number, segments))
    return result
