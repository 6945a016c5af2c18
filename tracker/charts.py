"""Charts as inline SVG: vector in the browser and in the PDF, no script, each labelled for screen readers.

The numbers behind every chart are also shown in a table beside it.
"""

from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tracker.reports import NO_REPORT, status_label

# Colours of the statuses in charts (the same as the badges), in the order bars are stacked.
CHART_COLOURS = {
    "completed": "#1f6f3a",
    "on_track": "#58a86b",
    "not_started": "#9aa3b2",
    "none": "#d5dae3",
    "at_risk": "#d9962b",
    "blocked": "#a11a1a",
    "discontinued": "#545d6e",
}
# Segments light enough for dark text.
LIGHT_COLOURS = {"not_started", NO_REPORT, "on_track", "at_risk"}


def status_bar(counts: dict, *, width: int, height: int) -> str:
    """One bar of status counts, stacked in the badges' colours and scaled to the whole, as inline SVG; each
    segment wide enough carries its count, so the chart reads without colour too. The numbers are also in the
    table that goes with every chart."""
    total = sum(counts.values())
    font_size = 0.6 * height
    parts, label = [], []
    x = 0.0
    for code, colour in CHART_COLOURS.items():
        count = counts.get(code, 0)
        if not count:
            continue
        w = width * count / total
        parts.append(
            format_html(
                '<rect x="{}" y="0" width="{}" height="{}" fill="{}" stroke="#fff" stroke-width="0.8">'
                "<title>{}: {}</title></rect>",
                f"{x:.2f}",
                f"{w:.2f}",
                height,
                colour,
                status_label(code),
                count,
            )
        )
        if w >= font_size * (0.7 + 0.6 * len(str(count))):  # room for the number
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="{}" fill="{}">{}</text>',
                    f"{x + w / 2:.2f}",
                    f"{(height + 0.7 * font_size) / 2:.1f}",
                    f"{font_size:.1f}",
                    "#1d2433" if code in LIGHT_COLOURS else "#fff",
                    count,
                )
            )
        label.append(f"{status_label(code)}: {count}")
        x += w
    if not total:
        parts.append(format_html('<rect x="0" y="0" width="{}" height="{}" fill="#eceff3"/>', width, height))
    return format_html(
        '<svg class="bar" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{}"'
        ' font-family="Noto Sans, Noto Sans CJK KR, sans-serif"'
        ' viewBox="0 0 {} {}">{}</svg>',
        "; ".join(label),
        width,
        height,
        width,
        height,
        mark_safe("".join(parts)),  # each part was built with format_html
    )
