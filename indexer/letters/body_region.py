"""Body regions named in a request or a case summary ("L4-5", "low back" -> lumbar spine)."""

from __future__ import annotations

import re

# Region name -> what letters write for it. Sides are kept for the extremities, as letters do
# ("RUE"); the spine is named by segment.
_REGIONS = (
    (
        "lumbar spine",
        r"lumbar|lumbo-?sacral|low(?:er)? back|l-?spine|l[1-5]\s*-\s*(?:l?[1-5]|s1)"
        r"|sciatica|lumbago",
    ),
    ("cervical spine", r"cervical|neck|c-?spine|c[1-7]\s*-\s*c?[1-7]|cervicalgia"),
    ("thoracic spine", r"thoracic|mid(?:dle)? back|t-?spine|t(?:[1-9]|1[0-2])\s*-\s*t?\d{1,2}"),
    ("shoulder", r"shoulders?|rotator cuff|acromioclavicular"),
    ("elbow", r"elbows?|epicondyl\w*|cubital"),
    ("wrist and hand", r"wrists?|hands?|fingers?|thumbs?|carpal|de quervain\w*"),
    ("hip and pelvis", r"hips?|pelvi\w*|sacroiliac|groin"),
    ("knee", r"knees?|menisc\w*|patell\w*"),
    ("ankle and foot", r"ankles?|foot|feet|toes?|heels?|plantar"),
    ("head", r"head|brain|concussion\w*"),
    ("right upper extremity", r"rue|right upper extremit(?:y|ies)|right arm"),
    ("left upper extremity", r"lue|left upper extremit(?:y|ies)|left arm"),
    ("upper extremities", r"(?:bilateral )?upper extremit(?:y|ies)|arms"),
    ("right lower extremity", r"rle|right lower extremit(?:y|ies)|right leg"),
    ("left lower extremity", r"lle|left lower extremit(?:y|ies)|left leg"),
    ("lower extremities", r"(?:bilateral )?lower extremit(?:y|ies)|legs"),
)
_PATTERNS = tuple((name, re.compile(rf"\b(?:{rx})\b", re.IGNORECASE)) for name, rx in _REGIONS)
_SIDED = {
    "upper extremities": ("right upper extremity", "left upper extremity"),
    "lower extremities": ("right lower extremity", "left lower extremity"),
}
REGIONS = tuple(name for name, _ in _REGIONS)


def body_regions(text: str | None) -> list[str]:
    """Return the body regions the text names, in the order it first names them."""
    if not text:
        return []
    found: list[tuple[int, str]] = []
    for name, pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            found.append((m.start(), name))
    names = [name for _, name in sorted(found)]
    # "right upper extremity" also matches the plain "upper extremity" pattern: keep the sided one.
    return [n for n in names if not any(s in names for s in _SIDED.get(n, ()))]
