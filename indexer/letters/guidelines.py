"""Parse the guideline statements of IMR letters into structured citations."""

from __future__ import annotations

import re
from collections.abc import Iterable

GUIDELINE_SOURCES: tuple[str, ...] = (
    "MTUS",
    "ODG",
    "ACOEM",
    "FDA",
    "CMS",
    "AMA",
    "ACR",
    "AAOS",
    "NASS",
    "NICE",
    "PDR",
    "MDA",
    "UpToDate",
    "MCG",
    "InterQual",
    "Aetna",
    "Cigna",
    "Cochrane",
    "PubMed",
    "Medscape",
    "Other",
)

_ODG_DOCUMENT = "Official Disability Guidelines"
_ACOEM_DOCUMENT = "Occupational Medicine Practice Guidelines"

_AND = r"(?:and|&)"

# The MTUS documents are a closed list (8 CCR 9792.22-9792.24.4), so every spelling the letters
# use maps onto one facet value. Longer aliases come first so a prefix never wins.
_MTUS_DOCUMENTS: tuple[tuple[str, str], ...] = (
    (
        r"Chronic\s+Pain\s+(?:Medical\s+)?Treatment(?:\s+Guidelines?)?",
        "Chronic Pain Medical Treatment Guidelines",
    ),
    (r"Chronic\s+Pain\s+Guidelines?", "Chronic Pain Medical Treatment Guidelines"),
    (r"Opioids?\s+Treatment(?:\s+Guidelines?)?", "Opioids Treatment Guidelines"),
    (
        r"Acupuncture\s+(?:Medical\s+)?Treatment(?:\s+Guidelines?)?",
        "Acupuncture Medical Treatment Guidelines",
    ),
    (r"Post-?\s?surgical\s+Treatment(?:\s+Guidelines?)?", "Postsurgical Treatment Guidelines"),
    (r"General\s+Approach(?:es)?", "General Approaches"),
    (rf"Neck\s+{_AND}\s+Upper\s+Back\s+Complaints", "Neck and Upper Back Complaints"),
    (r"Shoulder\s+Complaints", "Shoulder Complaints"),
    (r"Elbow\s+(?:Complaints|Disorders)(?:\s*\(Revised\s+2007\))?", "Elbow Disorders"),
    (rf"Forearm,?\s+Wrist,?\s+{_AND}\s+Hand\s+Complaints", "Forearm, Wrist, and Hand Complaints"),
    (r"Low\s+Back\s+Complaints", "Low Back Complaints"),
    (r"Knee\s+Complaints", "Knee Complaints"),
    (rf"Ankle\s+{_AND}\s+Foot\s+Complaints", "Ankle and Foot Complaints"),
    (r"Stress[\s-]+Related\s+Conditions", "Stress Related Conditions"),
    (
        rf"Independent\s+Medical\s+Examinations\s+{_AND}\s+Consultations",
        "Independent Medical Examinations and Consultations",
    ),
    (
        rf"Cornerstones\s+of\s+Disability\s+Prevention\s+{_AND}\s+Management",
        "Cornerstones of Disability Prevention and Management",
    ),
    (r"Prevention", "Prevention"),
)

# ACOEM 2nd edition chapter numbers, as MTUS adopted them (chapters 1-7 are "General Approaches").
_MTUS_CHAPTER_NUMBERS: dict[int, str] = {
    **dict.fromkeys(range(1, 8), "General Approaches"),
    8: "Neck and Upper Back Complaints",
    9: "Shoulder Complaints",
    10: "Elbow Disorders",
    11: "Forearm, Wrist, and Hand Complaints",
    12: "Low Back Complaints",
    13: "Knee Complaints",
    14: "Ankle and Foot Complaints",
    15: "Stress Related Conditions",
}

# ODG chapters are a closed list too; the letters spell them many ways ("Low back chapter",
# "Low Back - Lumbar & Thoracic (Acute & Chronic)"), and the chapter is the useful facet.
_ODG_CHAPTERS: tuple[tuple[str, str], ...] = (
    (r"Pain\s*\(\s*Chronic\s*\)", "Pain (Chronic)"),
    (r"Chronic\s+Pain", "Pain (Chronic)"),
    (r"Pain", "Pain (Chronic)"),
    (r"Low\s+Back", "Low Back"),
    (rf"Neck\s+{_AND}\s+Upper\s+Back", "Neck and Upper Back"),
    (rf"Knee\s+{_AND}\s+Leg", "Knee and Leg"),
    (rf"Hips?\s+{_AND}\s+Pelvis", "Hip and Pelvis"),
    (rf"Ankle\s+{_AND}\s+Foot", "Ankle and Foot"),
    (rf"Forearm,?\s+Wrist,?\s+{_AND}\s+Hand", "Forearm, Wrist, and Hand"),
    (r"Carpal\s+Tunnel\s+Syndrome", "Carpal Tunnel Syndrome"),
    (rf"Mental\s+Illness\s+{_AND}\s+Stress", "Mental Illness and Stress"),
    (r"Traumatic\s+Brain\s+Injury", "Traumatic Brain Injury"),
    (r"Shoulder", "Shoulder"),
    (r"Elbow", "Elbow"),
    (r"Head", "Head"),
    (r"Eye", "Eye"),
    (r"Hernia", "Hernia"),
    (r"Burns", "Burns"),
    (r"Pulmonary", "Pulmonary"),
)

# Non-MTUS ACOEM (3rd edition onwards) chapter titles end in "Disorders".
_ACOEM_CHAPTERS: tuple[tuple[str, str], ...] = (
    (r"Low\s+Back(?:\s+Disorders)?", "Low Back Disorders"),
    (rf"Hip\s+{_AND}\s+Groin(?:\s+Disorders)?", "Hip and Groin Disorders"),
    (
        rf"Cervical\s+{_AND}\s+Thoracic\s+Spine(?:\s+Disorders)?",
        "Cervical and Thoracic Spine Disorders",
    ),
    (
        rf"Hand,?\s+Wrist,?\s+{_AND}\s+Forearm(?:\s+Disorders)?",
        "Hand, Wrist, and Forearm Disorders",
    ),
    (rf"Ankle\s+{_AND}\s+Foot(?:\s+Disorders)?", "Ankle and Foot Disorders"),
    (r"Shoulder(?:\s+Disorders)?", "Shoulder Disorders"),
    (r"Elbow(?:\s+Disorders)?", "Elbow Disorders"),
    (r"Knee(?:\s+Disorders)?", "Knee Disorders"),
    (r"Eye(?:\s+Disorders)?", "Eye Disorders"),
    (r"Chronic\s+Pain", "Chronic Pain"),
    (r"Opioids", "Opioids"),
    (r"Traumatic\s+Brain\s+Injury", "Traumatic Brain Injury"),
    (r"Workplace\s+Mental\s+Health", "Workplace Mental Health"),
)

# Short names for other cited bodies, tried in order against the cited title or URL. Acronyms
# match case-sensitively so that ordinary words ("nice", "ama") do not name a source.
_OTHER_SOURCES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("FDA", r"\bFDA\b|(?i:Food\s+(?:and|&)\s+Drug\s+Administration|\bfda\.gov\b)"),
        (
            "CMS",
            r"\bCMS\b|(?i:Medicare|Medicaid\s+Services|National\s+Coverage\s+Determination|\bcms\.gov\b)",
        ),
        ("AMA", r"\bAMA\b|(?i:American\s+Medical\s+Association)"),
        ("ACR", r"\bACR\b|(?i:American\s+College\s+of\s+Radiology)"),
        ("AAOS", r"\bAAOS\b|(?i:American\s+Academy\s+of\s+Orthopa?edic\s+Surgeons)"),
        ("NASS", r"\bNASS\b|(?i:North\s+American\s+Spine\s+Society)"),
        (
            "NICE",
            r"\bNICE\b|(?i:National\s+Institute\s+for\s+Health\s+(?:and|&)\s+C\w+\s+Excellence)",
        ),
        ("PDR", r"\bPDR\b|(?i:Physicians'?\s+Desk\s+Reference)"),
        ("MDA", r"\bMDA\b|(?i:Medical\s+Disability\s+Advisor)"),
        ("UpToDate", r"(?i:\bUp[\s-]?To[\s-]?Date\b)"),
        ("MCG", r"\bMCG\b|(?i:Milliman)"),
        ("InterQual", r"(?i:\bInterQual\b)"),
        ("Aetna", r"(?i:\bAetna\b)"),
        ("Cigna", r"(?i:\bCigna\b)"),
        ("Cochrane", r"(?i:\bCochrane\b)"),
        ("PubMed", r"(?i:\bPubMed\b|ncbi\.nlm\.nih\.gov)"),
        ("Medscape", r"(?i:\bMedscape\b)"),
    )
)


def _alias_table(pairs: Iterable[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rf"(?:{alias})(?!\w)", re.I), canonical) for alias, canonical in pairs]


_MTUS_DOC_TABLE = _alias_table(_MTUS_DOCUMENTS)
_ODG_CHAPTER_TABLE = _alias_table(_ODG_CHAPTERS)
_ACOEM_CHAPTER_TABLE = _alias_table(_ACOEM_CHAPTERS)
_ANY_MTUS_DOC = "|".join(f"(?:{alias})" for alias, _ in _MTUS_DOCUMENTS)

_SPACE = re.compile(r"\s+")
# Hyphens where a line wrap split a word: "Electro- diagnostic" once whitespace is collapsed.
_WRAP_HYPHEN = re.compile(r"(?<=[A-Za-z])- (?=[a-z])")
# Wrapping also hyphenates "Electrodiagnostic" as "Electro-diagnostic"; the guideline names are
# always the closed compound, so the hyphen would split one section into two facet values.
_ELECTRO = re.compile(r"\b(Electro)-(?=[a-z])", re.I)
_DECISION = re.compile(r"\bDecision\s+based\s+on\b\s*:?\s*", re.I)
_NON_MTUS = re.compile(r"^Non[\s-]*MTUS(?:\s+Citations?)?\s*[:,;\-]?\s*", re.I)
_NON_MTUS_ANYWHERE = re.compile(r"\bNon[\s-]*MTUS\s+Citations?\b", re.I)
_MTUS = re.compile(
    r"^(?:the\s+)?(?:CA\s+|California\s+)?MTUS\b(?:\s*\(Medical\s+Treatment\s+Utilization\s+"
    r"Schedule\))?\s*[:,/\-]?\s*",
    re.I,
)
_MTUS_DOC_BOUNDARY = re.compile(rf",?\s+and\s+(?=(?:{_ANY_MTUS_DOC})\b)|;\s*", re.I)
_SECTIONS_LABEL = re.compile(r"^Sections?(?:\s*\(s\))?\s*:?\s*", re.I)
_YEAR_LEAD = re.compile(r"^,?\s*\(?\s*((?:19|20)\d\d)\s*\)?(?![\d/])")
_YEAR = re.compile(r"(?<![\w/.-])\(?((?:19[5-9]|20\d)\d)\)?(?![\w/])")
_CHAPTER_NUMBER = re.compile(r"\bChapter\s+(\d{1,2})\b\s*,?", re.I)
_PAGES = re.compile(
    r"\b(?:Page\s*\(s\)|Pages?|Pgs?|pp?)\s*\.?\s*:?\s*"
    r"(?P<nums>\d{1,4}(?:\s*(?:-|–|to)\s*\d{1,4})?(?:\s*(?:,|&|and)\s*\d{1,4}(?:\s*(?:-|–)\s*\d{1,4})?)*)",
    re.I,
)
_PAGE_RANGE = re.compile(r"(\d{1,4})(?:\s*(?:-|–|to)\s*(\d{1,4}))?", re.I)
_URL = re.compile(r"^(?:https?://|www\.)\S+", re.I)
_CITATION_START = (
    r"(?:Official\s+Disabilit(?:y|ies)\s+Guidelines?|ODG\b|ACOEM\b|American\s+College\s+of\s+"
    r"Occupational|Other\s+Medical\s+Treatment\s+Guidelines?)"
)


def _boundary_before(starts: str) -> re.Pattern[str]:
    """Where a new citation begins: " and (the) X" or ", (and) (the) X" with X a citation start."""
    ahead = rf"(?={starts}|https?://|www\.)"
    return re.compile(rf"\s+and\s+(?:the\s+)?{ahead}|[,;]\s*(?:and\s+)?(?:the\s+)?{ahead}", re.I)


_CITATION_BOUNDARY = _boundary_before(_CITATION_START)
_OTHER_LABEL = re.compile(
    r"^(?:Other\s+Medical\s+Treatment\s+Guidelines?|Non[\s-]*MTUS\s+Citations?)\s*[:,;\-]?\s*", re.I
)
_ODG_NAME = re.compile(
    r"^(?:the\s+)?(?:Official\s+Disabilit(?:y|ies)\s+Guidelines?|ODG\b|Work\s+Loss\s+Data\s+Institute)"
    r"(?:\s*\(\s*ODG[^)]*\))?",
    re.I,
)
_ODG_NOISE = re.compile(
    r"\(\s*(?:last\s+)?updated[^)]*\)|\b(?:last\s+)?updated\s+\d{1,2}/\d{1,2}/\d{2,4}"
    r"|\(?\b(?:Online|Web)\s+Version\b\)?|\(\s*\d+\s*(?:st|nd|rd|th)\s+(?:Annual\s+)?Edition\s*\)"
    r"|\b\d+\s*(?:st|nd|rd|th)\s+(?:Annual\s+)?Edition\b|\bWork\s+Loss\s+Data\s+Institute\b"
    r"|\bTreatment\s+in\s+Workers'?\s*Comp(?:ensation)?\b(?:\s*\(ODG-?TWC\))?|\bODG-?TWC\b"
    r"|\(\s*ODG\s*\)|^\s*(?:Treatment\s+)?Guidelines?\b",
    re.I,
)
_ODG_CHAPTER_SUFFIX = (
    rf"(?:\s*[-,]?\s*Lumbar\s+{_AND}\s+Thoracic)?(?:\s*\(\s*Acute\s+{_AND}\s+Chronic\s*\))?"
    r"(?:\s+(?:Chapter|section)\b(?:\s+Guidelines\b)?)?"
)
_ACOEM_NAME = re.compile(
    r"^(?:the\s+)?(?:American\s+College\s+of\s+Occupational\s+(?:and|&)\s+Environmental\s+Medicine"
    r"(?:\s*\(ACOEM\))?|ACOEM)(?:'s)?",
    re.I,
)
_ACOEM_NOISE = re.compile(
    r"^\s*[:,\-]?\s*(?:(?:Occupational\s+Medicine\s+)?Practice\s+Guidelines?|Guidelines?)\b", re.I
)
_EDITION = re.compile(
    r"\b(?:(\d)\s*(?:st|nd|rd|th)|(First|Second|Third|Fourth))\s*(?:ed\b\.?|Edition\b)", re.I
)
_WORD_ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th"}
_AFTER_CHAPTER = r"(?=$|\s*[,.:;/\-–(]|\s+(?-i:[^a-z\s]))"
# Section names that contain ", " followed by a capital; splitting them would invent sections.
_PROTECTED = re.compile(
    rf"NSAIDs,\s+GI\s+symptoms\s+{_AND}\s+cardiovascular\s+risk|Forearm,\s+Wrist,?\s+{_AND}\s+Hand"
    rf"|Hand,\s+Wrist,?\s+{_AND}\s+Forearm|Hip,\s+Pelvis,?\s+{_AND}\s+Thigh",
    re.I,
)
_NUMBERED_SECTION = re.compile(r"^\d+(?:\.\d+)+\s")
_NUMBERED_BOUNDARY = re.compile(r",?\s*(?:\band\s+)?(?=(?<![\w.])\d+(?:\.\d+)+\s)")
_LIST_BOUNDARY = re.compile(r",\s*(?:and\s+)?|;\s*")
# Leftovers that name no section: "Part 2" is part of the old Chronic Pain document's title.
_DROP_SECTION = re.compile(
    r"^(?:Part|Chapter)\s+\d+$|^(?:Guidelines?|Chapter|Section\(?s?\)?|and|&)$", re.I
)
_EDGE_PUNCT = " ,.;:-–/"
_PLACEHOLDER = "\x00"
# Marks a line break that may open a new statement: the professional-review layout puts one
# citation on each line.
_LINE = "\x01"
_LINE_BREAK = re.compile(r"[ \t\r\f\v]*\n\s*")

# The MAXIMUS-header layout (2013) states each side's guidelines in a sentence of its own:
# "The Physician Reviewer based his/her decision on the MTUS ...". The professional-review
# layout heads them "MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:".
_LEAD_IN = re.compile(
    r"\b(?:(?:the\s+)?(?:Claims?\s+Administrator"
    r"|(?:Expert|Physician|Professional|Medical|Peer)\s+Reviewer|Reviewer)\s+(?:also\s+)?(?:based\s+(?:its|his\s*/\s*her|his\s+or\s+her|his|her|their)\s+"
    r"(?:decision|determination)s?\s+on|relied\s+(?:up)?on)\b"
    r"|MEDICAL\s+TREATMENT\s+GUIDELINE\s*(?:\(\s*S\s*\)|S)?\s+RELIED\s+UPON\s+BY\s+PROFESSIONAL"
    r"\s+REVIEWER(?:\s+AND\s+WHY)?)\s*:?\s*",
    re.I,
)
# What a lead-in says it did not rely on cites nothing: "recommendation(s) outside of the MTUS".
_NO_CITATION = re.compile(
    r"^(?:the\s+)?(?:(?:recommendations?|guidelines?|criteria|evidence|sources?|references?)"
    r"(?:\s*\(s\))?\s+)?(?:outside\s+(?:of\s+)?|other\s+than\b|beyond\b|not\b)"
    r"|^(?:none|n/?a|not\s+applicable|no\s+\w+)\b",
    re.I,
)
# "the recommendations of the ODG ..." cites the ODG.
_CITED_THROUGH = re.compile(
    r"^(?:the\s+)?(?:recommendations?(?:\s*\(s\))?|guidance|criteria)\s+(?:of|in|from)\s+", re.I
)
_MTUS_START = r"(?:CA\s+|California\s+)?MTUS\b"
# MTUS documents named without "MTUS"; "Prevention" alone is too common a word to count.
_MTUS_DOC_LEAD = re.compile(
    r"^(?:the\s+)?(?:"
    + "|".join(f"(?:{alias})" for alias, name in _MTUS_DOCUMENTS if name != "Prevention")
    + r")(?!\w)",
    re.I,
)
_STATEMENT_LEAD = re.compile(
    rf"^(?:the\s+)?(?:{_CITATION_START}|{_MTUS_START}|Non[\s-]*MTUS\b|Work\s+Loss\s+Data\b"
    r"|https?://|www\.)",
    re.I,
)
# Several citations in one statement, MTUS among them: "the ODG, Pain Chapter, ..., and the MTUS".
_MIXED_BOUNDARY = _boundary_before(f"{_CITATION_START}|{_MTUS_START}")
# "..., which is part of the MTUS" makes the cited document an MTUS one.
_PART_OF_MTUS = re.compile(
    rf",?\s*(?:which|that)\s+(?:is|are|was|were)\s+(?:also\s+)?(?:a\s+)?(?:part|portions?)\s+of\s+"
    rf"(?:the\s+)?{_MTUS_START}.*$",
    re.I,
)
# A relative clause after a citation explains it: "..., which recommends ...".
_RELATIVE_CLAUSE = re.compile(r",\s*which\b.*$", re.I)

# A sentence after a citation is explanation, not citation, when it opens like prose or has a
# finite verb in it. Auxiliaries are matched in lower case so that "May 2014" is no verb.
_PROSE_OPENER = re.compile(
    r"^(?:These|This|That|Those|The|It|Its|They|Their|There|He|She|His|Her|We|Our|In|Per|Because"
    r"|As|Since|Although|Though|However|Therefore|Thus|Hence|Accordingly|According|Based|Given"
    r"|Regarding|With|Without|If|When|While|Also|Additionally|Furthermore|Moreover|Specifically"
    r"|Overall|Here|Such|Both|Each|No|Not|Only|Is|Are|Was|Were|Does|Do|Did|Can|May|Should"
    r"|Guidelines?)(?:\s|$)"
)
_AUXILIARY = re.compile(
    r"(?<![\w/-])(?:is|are|was|were|has|have|had|does|do|did|can|cannot|could|may|might|must"
    r"|shall|should|will|would)(?![\w/-])"
)
_VERB_STEM = (
    r"(?:address|recommend|support|state|indicate|note|suggest|allow|require|describe|explain"
    r"|provide|show|discuss|outline|specif|advise|endorse|appl|cover|establish|permit|limit"
    r"|consider|conclude|define|caution|warn|mention|discourage|encourage|reserve|favou?r)"
)
# A verb is told from a plural noun ("Lumbar supports") by its subject or its object.
_VERB_PHRASE = re.compile(
    rf"(?:(?i:\b(?:guidelines?|MTUS|ODG|ACOEM|it|they|he|she|which|who))|\))\s+"
    rf"(?:also\s+|further\s+|specifically\s+|clearly\s+|only\s+|not\s+)?{_VERB_STEM}[a-z]*\b"
    rf"|\b(?i:{_VERB_STEM})[a-z]*\s+(?:the|a|an|that|this|these|those|its|their|his|her|it|them"
    r"|such|any|all|only|no|not|use|continued|ongoing|further|additional|both|each|against|how"
    r"|when|whether|what)\b"
)
_SENTENCE_BREAK = re.compile(rf"(?<=[.?!])\s+(?=[\"'(\[]?[A-Z0-9])|\s*{_LINE}\s*")
_ABBREVIATIONS = frozenset(
    "ed eds pg pgs pp vol vols no nos vs al etc eg ie dr st jr sr inc co corp ltd fig ch chap "
    "sec rev approx jan feb mar apr jun jul aug sep sept oct nov dec mr mrs ms dept univ".split()
)


def parse_guidelines(text: str | None) -> list[dict]:
    """Parse a letter's guideline statement into citations."""
    if not text:
        return []
    text = text.replace(_PLACEHOLDER, " ").replace(_LINE, " ")
    # A line break may separate two citations, or a citation from the prose saying why; one
    # before a lower-case word is a wrap.
    text = _LINE_BREAK.sub(lambda m: _LINE if _opens_line(text, m.end()) else " ", text)
    text = _SPACE.sub(" ", text).strip()
    text = _ELECTRO.sub(r"\1", _WRAP_HYPHEN.sub("-", text))
    citations: list[dict] = []
    for kind, segment in _segments(text):
        for mode, statement in _statements(kind, segment):
            citations.extend(_parse_statement(mode, statement))
    unique: list[dict] = []
    for citation in citations:
        if citation not in unique:
            unique.append(citation)
    return unique


def _opens_line(text: str, pos: int) -> bool:
    return pos < len(text) and (text[pos].isupper() or text[pos].isdigit() or text[pos] in "\"'([")


def _segments(text: str) -> list[tuple[str, str]]:
    """Cut a statement at each lead-in; the sentences before the first only say why.

    "Decision based on" opens a segment whose first sentence is a citation. Without it, the
    MAXIMUS-header and professional-review lead-ins open segments ("lead"); text with no lead-in
    at all ("bare") is read as citations, one per sentence or line, among prose.
    """
    decisions = list(_DECISION.finditer(text))
    if decisions:
        return [("decision", s) for s in _between(text, decisions)]
    # Some statements drop the "Decision based on" lead-in but keep the citation label.
    if m := _NON_MTUS_ANYWHERE.search(text):
        return [("decision", text[m.start() :])]
    if leads := list(_LEAD_IN.finditer(text)):
        return [("lead", s) for s in _between(text, leads)]
    return [("bare", text)]


def _between(text: str, marks: list[re.Match[str]]) -> list[str]:
    ends = [m.start() for m in marks][1:] + [len(text)]
    pieces = (text[m.end() : e].strip(" " + _LINE) for m, e in zip(marks, ends, strict=True))
    return [p for p in pieces if p]


def _statements(kind: str, segment: str) -> list[tuple[str, str]]:
    """Group a segment's sentences into citation statements, dropping those that explain them.

    Each sentence after the first is a new citation if it opens with a guideline's name (and no
    verb follows it), prose if it opens like prose or holds a finite verb, and otherwise more of
    whatever came before it ("Spine. 2010;35:12" continues an article's title).
    """
    groups: list[list[str]] = []
    for sentence in _sentences(segment):
        if not groups:
            groups.append([_first_role(kind, sentence), sentence])
            continue
        role = _role(sentence)
        if role == "more":
            groups[-1][1] += " " + sentence
        else:
            groups.append([role, sentence])
    return [(role, body) for role, body in groups if role != "prose"]


def _sentences(text: str) -> list[str]:
    depth_at = _depths(text)
    sentences, last = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        before = text[max(0, m.start() - 40) : m.start()]
        if _LINE not in m.group(0) and (depth_at[m.start()] or _abbreviation(before)):
            continue
        sentences.append(text[last : m.start()])
        last = m.end()
    sentences.append(text[last:])
    cleaned = (_SPACE.sub(" ", s.replace(_LINE, " ")).strip() for s in sentences)
    return [s for s in cleaned if s]


def _abbreviation(before: str) -> bool:
    """Tell whether the full stop ending `before` ends an abbreviation ("pg.", "J.", "e.g.")."""
    word = before.rsplit(" ", 1)[-1].lstrip("([").rstrip(".")
    return (
        (len(word) == 1 and word.isalpha())
        or word.lower() in _ABBREVIATIONS
        or bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", word))
    )


def _first_role(kind: str, sentence: str) -> str:
    if kind == "decision":
        return "decision"
    if _NO_CITATION.match(sentence):
        return "prose"
    if kind == "lead":
        return "citation"
    role = _role(sentence)
    return "citation" if role == "more" else role


def _role(sentence: str) -> str:
    if _STATEMENT_LEAD.match(sentence) or _MTUS_DOC_LEAD.match(sentence):
        # "The ODG recommends ..." names a guideline but explains; the verb comes before any list.
        head = re.split(r"[,:;]", sentence, maxsplit=1)[0]
        return "prose" if _is_prose(head) else "citation"
    if _PROSE_OPENER.match(sentence) or _is_prose(sentence):
        return "prose"
    return "more"


def _is_prose(text: str) -> bool:
    return bool(_AUXILIARY.search(text) or _VERB_PHRASE.search(text))


def _parse_statement(mode: str, statement: str) -> list[dict]:
    if mode == "decision":
        if _NON_MTUS.match(statement):
            return _parse_non_mtus(_NON_MTUS.sub("", statement, count=1))
        if _MTUS.match(statement):
            return _parse_mtus(_MTUS.sub("", statement, count=1))
        return _parse_non_mtus(statement)
    return _parse_mixed(statement)


def _parse_mixed(statement: str) -> list[dict]:
    """Parse a statement that may name MTUS and other guidelines in turn."""
    statement = _CITED_THROUGH.sub("", statement.strip(), count=1)
    pieces = [p.strip() for p in _split_top(statement, _MIXED_BOUNDARY) if p.strip(_EDGE_PUNCT)]
    # "the MTUS, ACOEM Practice Guidelines, Chapter 12" cites the MTUS-adopted ACOEM chapter.
    merged: list[str] = []
    for piece in pieces:
        if merged and _MTUS.fullmatch(merged[-1]) and _ACOEM_NAME.match(piece):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    citations: list[dict] = []
    for piece in merged:
        in_mtus = bool(_PART_OF_MTUS.search(piece))
        piece = _RELATIVE_CLAUSE.sub("", _PART_OF_MTUS.sub("", piece)).strip()
        if _NON_MTUS.match(piece):
            citations.extend(_parse_non_mtus(_NON_MTUS.sub("", piece, count=1)))
        elif _MTUS.match(piece):
            citations.extend(_parse_mtus(_MTUS.sub("", piece, count=1)))
        elif in_mtus or _MTUS_DOC_LEAD.match(piece):
            citations.extend(_parse_mtus(re.sub(r"^the\s+", "", piece, flags=re.I)))
        elif piece.strip(_EDGE_PUNCT):
            citations.extend(_parse_non_mtus(piece))
    return citations


def _citation(
    source: str, document: str | None, year: int | None, sections: list[str], pages: list[int]
) -> dict:
    return {
        "source": source,
        "document": document,
        "year": year,
        "sections": sections,
        "pages": pages,
    }


def _parse_mtus(body: str) -> list[dict]:
    """Parse 'MTUS <doc> <year>, Section(s): ..., and <doc> <year>, ...' (and the older forms)."""
    body = body.strip().rstrip(".").strip()
    if not body:
        return [_citation("MTUS", None, None, [], [])]
    return [_parse_mtus_part(part) for part in _split_top(body, _MTUS_DOC_BOUNDARY) if part.strip()]


def _parse_mtus_part(part: str) -> dict:
    rest = part.strip(_EDGE_PUNCT + " ")
    rest = re.sub(r"^Guidelines?\b[\s,:\-]*", "", rest, flags=re.I)
    year: int | None = None
    chapter_number: int | None = None
    # Older letters cite the MTUS-adopted ACOEM book by name, edition and chapter number.
    if m := _ACOEM_NAME.match(rest):
        rest = _ACOEM_NOISE.sub("", rest[m.end() :], count=1)
        rest = _EDITION.sub("", rest, count=1).strip(_EDGE_PUNCT)
        if y := _YEAR_LEAD.match(rest):
            year = int(y.group(1))
            rest = rest[y.end() :].strip(_EDGE_PUNCT)
    if m := _CHAPTER_NUMBER.match(rest):
        chapter_number = int(m.group(1))
        rest = rest[m.end() :].strip(_EDGE_PUNCT)
    document, rest = _match_alias(rest, _MTUS_DOC_TABLE, after="")
    if document is None and chapter_number in _MTUS_CHAPTER_NUMBERS:
        document = _MTUS_CHAPTER_NUMBERS[chapter_number]
    rest = rest.strip(" ,:-")
    if document is None:
        document, rest = _unknown_document(rest)
    if y := _YEAR_LEAD.match(rest):
        year = int(y.group(1))
        rest = rest[y.end() :]
    rest = _SECTIONS_LABEL.sub("", rest.strip(" ,:-"), count=1)
    pages, rest = _take_pages(rest)
    return _citation("MTUS", document, year, _split_sections(rest, merge_lowercase=True), pages)


def _unknown_document(rest: str) -> tuple[str | None, str]:
    """Take an unrecognised MTUS document's name as written: everything before its year/sections."""
    rest = re.sub(r"^Guidelines?\b", "", rest, flags=re.I).strip(" ,:-")
    m = re.search(
        r",?\s*\(?(?:19|20)\d\d\b|,?\s*\bSections?\s*(?:\(s\))?\s*:|\bPage\s*\(s\)", rest, re.I
    )
    name = (rest[: m.start()] if m else rest).strip(_EDGE_PUNCT)
    return (name or None), (rest[m.start() :] if m else "")


def _parse_non_mtus(body: str) -> list[dict]:
    """Parse the cited titles after 'Non-MTUS Citation', which may name several guidelines."""
    citations = []
    for piece in _split_top(body, _CITATION_BOUNDARY):
        piece = _OTHER_LABEL.sub("", piece.strip(), count=1).strip(_EDGE_PUNCT)
        if not piece:
            continue
        if _URL.match(piece):
            url = _URL.match(piece).group(0).rstrip(".,;)")
            citations.append(_citation(_other_source(url), url, None, [], []))
        elif _ODG_NAME.match(piece):
            citations.append(_parse_odg(piece))
        elif _ACOEM_NAME.match(piece):
            citations.append(_parse_acoem(piece))
        else:
            citations.append(_parse_other(piece))
    return citations


def _parse_odg(piece: str) -> dict:
    rest = _ODG_NAME.sub("", piece, count=1)
    rest = _ODG_NOISE.sub(" ", rest.strip(" ,:-–"))
    pages, rest = _take_pages(rest)
    year, rest = _take_year(rest)
    rest = _tidy_list(rest)
    chapter, rest = _match_alias(rest, _ODG_CHAPTER_TABLE, _ODG_CHAPTER_SUFFIX)
    if chapter is None:
        chapter, rest = _trailing_chapter(rest, _ODG_CHAPTER_TABLE)
    sections = ([chapter] if chapter else []) + _split_sections(rest, merge_lowercase=False)
    return _citation("ODG", _ODG_DOCUMENT, year, sections, pages)


def _parse_acoem(piece: str) -> dict:
    rest = _ACOEM_NAME.sub("", piece, count=1)
    rest = _ACOEM_NOISE.sub("", rest, count=1)
    document = _ACOEM_DOCUMENT
    if m := _EDITION.search(rest):
        ordinal = m.group(1) or _WORD_ORDINALS[m.group(2).lower()][0]
        suffix = {"1": "st", "2": "nd", "3": "rd"}.get(ordinal, "th")
        document = f"{_ACOEM_DOCUMENT}, {ordinal}{suffix} ed."
        rest = rest[: m.start()] + " " + rest[m.end() :]
    pages, rest = _take_pages(rest)
    year, rest = _take_year(rest)
    rest = _tidy_list(rest)
    chapter, rest = _match_alias(rest, _ACOEM_CHAPTER_TABLE, r"(?:\s+Chapter\b)?")
    sections = ([chapter] if chapter else []) + _split_sections(rest, merge_lowercase=False)
    return _citation("ACOEM", document, year, sections, pages)


def _parse_other(piece: str) -> dict:
    pages, title = _take_pages(piece)
    title = _tidy_list(title).strip(_EDGE_PUNCT)
    year = None
    if m := _YEAR.search(title):
        year = int(m.group(1))
    return _citation(_other_source(piece), title or None, year, [], pages)


def _other_source(text: str) -> str:
    for name, pattern in _OTHER_SOURCES:
        if pattern.search(text):
            return name
    return "Other"


def _match_alias(
    text: str,
    table: list[tuple[re.Pattern[str], str]],
    suffix: str = "",
    after: str = _AFTER_CHAPTER,
) -> tuple[str | None, str]:
    """Match a known name at the start of text; return its canonical form and what follows."""
    stripped = text.lstrip(" ,:;-–")
    for pattern, canonical in table:
        m = pattern.match(stripped)
        if not m:
            continue
        tail = re.match(suffix + after, stripped[m.end() :], re.I)
        if tail is None:
            continue
        return canonical, stripped[m.end() + tail.end() :]
    return None, text


def _trailing_chapter(
    text: str, table: list[tuple[re.Pattern[str], str]]
) -> tuple[str | None, str]:
    """Catch 'MRI Elbow': a single topic followed by the chapter it belongs to."""
    body = text.strip(_EDGE_PUNCT)
    if not body or "," in body or len(body) > 80:
        return None, text
    for pattern, canonical in table:
        for m in pattern.finditer(body):
            if m.end() == len(body) and m.start() > 0 and body[m.start() - 1] == " ":
                return canonical, body[: m.start()]
    return None, text


def _take_year(text: str) -> tuple[int | None, str]:
    if m := _YEAR.search(text):
        return int(m.group(1)), text[: m.start()] + " " + text[m.end() :]
    return None, text


def _take_pages(text: str) -> tuple[list[int], str]:
    """Pull 'Page(s): 24, 66' / 'pg. 607' / 'pages 68-69' out of text, expanding ranges."""
    pages: list[int] = []
    for m in _PAGES.finditer(text):
        for r in _PAGE_RANGE.finditer(m.group("nums")):
            pages.extend(_expand_range(r.group(1), r.group(2)))
    unique = list(dict.fromkeys(p for p in pages if p > 0))
    return unique, _PAGES.sub(", ", text)


def _expand_range(start: str, end: str | None) -> list[int]:
    first = int(start)
    if end is None:
        return [first]
    # "303-05" abbreviates the end page.
    if len(end) < len(start) and int(end) < first:
        end = start[: len(start) - len(end)] + end
    last = int(end)
    if first <= last <= first + 100:
        return list(range(first, last + 1))
    return [first, last]


def _tidy_list(text: str) -> str:
    """Collapse the empty list slots left after noise and pages are cut out."""
    text = _SPACE.sub(" ", text)
    text = re.sub(r"\s+([,.:;)])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"(?:\s*[,;]\s*){2,}", ", ", text)
    text = re.sub(r"[,;]\s*[.:]\s*$", "", text)
    return text.strip(" ,;:-–")


def _split_top(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Split text at boundary matches that are not inside parentheses."""
    depth_at = _depths(text)
    parts, last = [], 0
    for m in boundary.finditer(text):
        if m.end() == m.start() and m.start() in (0, last):
            continue
        if depth_at[m.start()] == 0:
            parts.append(text[last : m.start()])
            last = m.end()
    parts.append(text[last:])
    return parts


def _depths(text: str) -> list[int]:
    depths, depth = [], 0
    for ch in text:
        depths.append(depth)
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
    depths.append(depth)
    return depths


def _split_sections(text: str, *, merge_lowercase: bool) -> list[str]:
    """Split a section list on commas / ', and' that separate sections, not inside names."""
    text = _tidy_list(text)
    if not text:
        return []
    if _NUMBERED_SECTION.match(text):
        # Numbered sections (MTUS opioid guideline) contain commas and capitals of their own.
        pieces = [p for p in _split_top(text, _NUMBERED_BOUNDARY) if p.strip()]
    else:
        protected = _PROTECTED.sub(lambda m: m.group(0).replace(",", _PLACEHOLDER), text)
        pieces = []
        depth_at = _depths(protected)
        last = 0
        for m in _LIST_BOUNDARY.finditer(protected):
            if depth_at[m.start()] != 0:
                continue
            piece, nxt = protected[last : m.start()], protected[m.end() :]
            # "Opioids, criteria for use" is one section: a lower-case tail qualifies its head.
            if nxt[:1].islower() and (merge_lowercase or len(piece.split()) == 1):
                continue
            pieces.append(piece)
            last = m.end()
        pieces.append(protected[last:])
        pieces = [p.replace(_PLACEHOLDER, ",") for p in pieces]
    sections = [_clean_section(p) for p in pieces]
    return [s for s in dict.fromkeys(sections) if s and not _DROP_SECTION.match(s)]


def _clean_section(text: str) -> str:
    text = _SPACE.sub(" ", text).strip(_EDGE_PUNCT)
    # A section given wholly in parentheses, as in "Low Back (Shock wave therapy)".
    if text.startswith("(") and text.endswith(")") and _depths(text)[1:-1].count(0) == 0:
        text = text[1:-1].strip(_EDGE_PUNCT)
    if text.count("(") > text.count(")") and text.endswith("("):
        text = text[:-1].strip(_EDGE_PUNCT)
    return text
