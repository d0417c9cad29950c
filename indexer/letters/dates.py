"""Dates as letters write them (01/29/09, 1-3-2003, October 10, 2015), turned into ISO form."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
NUMERIC_DATE = r"\d{1,2}\s?[/-]\s?\d{1,2}\s?[/-]\s?(?:\d{4}|\d{2})"
WORDY_DATE = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}"
)
DATE = rf"(?:{NUMERIC_DATE}|{WORDY_DATE})"


def iso_date(text: str | None) -> str | None:
    """Return the first date in `text` as YYYY-MM-DD, or None if there is no valid date."""
    if not text:
        return None
    m = re.search(DATE, text, re.IGNORECASE)
    if not m:
        return None
    raw = m.group(0)
    try:
        if raw[0].isdigit():
            month, day, year = (int(x) for x in re.split(r"\s?[/-]\s?", raw))
            if year < 100:
                # Two-digit years here are injury and report dates: 96 is 1996, 09 is 2009.
                year += 2000 if year < 50 else 1900
        else:
            parts = re.split(r"[\s,.]+", raw.strip())
            month = _MONTHS[parts[0][:3].lower()]
            day, year = int(parts[1]), int(parts[2])
        return dt.date(year, month, day).isoformat()
    except (ValueError, KeyError, IndexError):
        return None
