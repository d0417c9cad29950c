"""Normalise a disputed item's request text into a treatment name, class and category."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

CATEGORIES = ("medication", "procedure", "imaging", "therapy", "equipment", "other")

# Every "class" value classify_treatment can return (besides None), drug classes first.
CLASSES = (
    "opioid",
    "benzodiazepine",
    "muscle relaxant",
    "nsaid",
    "proton pump inhibitor",
    "h2 blocker",
    "anticonvulsant",
    "antidepressant",
    "sleep aid",
    "topical analgesic",
    "compounded topical",
    "local anesthetic",
    "antiemetic",
    "laxative",
    "analgesic",
    "barbiturate",
    "triptan",
    "corticosteroid",
    "antihistamine",
    "anxiolytic",
    "antipsychotic",
    "stimulant",
    "pde5 inhibitor",
    "opioid antagonist",
    "medical food",
    "advanced imaging",
    "radiography",
    "electrodiagnostic testing",
    "diagnostic testing",
    "laboratory testing",
    "injection",
    "interventional procedure",
    "surgery",
    "physical medicine",
    "psychological services",
    "rehabilitation program",
    "inpatient care",
    "durable medical equipment",
    "orthosis",
    "evaluation",
    "home health",
    "ancillary services",
    "fitness program",
)

# Brand names that drug_named_entity_recognition 2.0.9 does not resolve to the right generic
# (it returns nothing, or a drug class as for Colace, or plain acetaminophen for Tylenol #3).
# The README cites this list; test_treatment checks every entry is still a gap.
LIBRARY_GAPS = (
    "Norco",
    "Vicodin",
    "Lortab",
    "Percocet",
    "Endocet",
    "Roxicodone",
    "Ultracet",
    "Tylenol #3",
    "Demerol",
    "Avinza",
    "Exalgo",
    "Zohydro",
    "Soma",
    "Fexmid",
    "Lorzone",
    "Horizant",
    "Sonata",
    "Zipsor",
    "Colace",
    "Terocin",
    "LidoPro",
    "Medrox",
    "Menthoderm",
    "Biofreeze",
    "Theramine",
    "Sentra",
    "Gabadone",
    "Trepadone",
    "Fanatrex",
    "Synapryn",
    "Tabradol",
    "Deprizine",
    "Dicopanor",
)

# Lower-case token -> generic. Besides the brands above it holds the generics the library lacks
# (capsaicin, menthol and senna are absent from its dictionary).
_SUPPLEMENT = {
    "norco": "hydrocodone/acetaminophen",
    "vicodin": "hydrocodone/acetaminophen",
    "lortab": "hydrocodone/acetaminophen",
    "percocet": "oxycodone/acetaminophen",
    "endocet": "oxycodone/acetaminophen",
    "roxicodone": "oxycodone",
    "ultracet": "tramadol/acetaminophen",
    "demerol": "meperidine",
    "avinza": "morphine",
    "exalgo": "hydromorphone",
    "zohydro": "hydrocodone",
    "soma": "carisoprodol",
    "fexmid": "cyclobenzaprine",
    "lorzone": "chlorzoxazone",
    "horizant": "gabapentin",
    "sonata": "zaleplon",
    "zipsor": "diclofenac",
    "colace": "docusate",
    "terocin": "methyl salicylate/capsaicin/menthol/lidocaine",
    "lidopro": "capsaicin/lidocaine/menthol/methyl salicylate",
    "medrox": "methyl salicylate/menthol/capsaicin",
    "menthoderm": "methyl salicylate/menthol",
    "biofreeze": "menthol",
    "theramine": "theramine",
    "sentra": "sentra",
    "gabadone": "gabadone",
    "trepadone": "trepadone",
    "fanatrex": "gabapentin",
    "synapryn": "tramadol",
    "tabradol": "cyclobenzaprine",
    "deprizine": "ranitidine",
    "dicopanor": "diphenhydramine",
    "capsaicin": "capsaicin",
    "menthol": "menthol",
    "senna": "senna",
}
# Products named with a short or numeric token: "MS" is dropped before the library sees it and
# "Tylenol #3" would come back as plain acetaminophen.
_SUPPLEMENT_PHRASES = (
    (
        re.compile(r"\btylenol\s*(?:#|no\.?|number)\s*[234]|\btylenol with codeine\b"),
        "codeine/acetaminophen",
    ),
    (re.compile(r"\bms\s*contin\b"), "morphine"),
)

# Library names that are not the plain generic we index under.
_NAME_ALIASES = {
    "stool softeners": "docusate",
    "dioctyl sulfosuccinic acid": "docusate",
    "polyethylene glycol 3350": "polyethylene glycol",
    "acetaminophen, butalbital, and caffeine": "butalbital/acetaminophen/caffeine",
    "aspirin/paracetamol/caffeine": "aspirin/acetaminophen/caffeine",
    "benzhydrocodone and acetaminophen": "benzhydrocodone/acetaminophen",
    "apap": "acetaminophen",
}
# Salt and dosage-form words the library appends to names ("Lidocaine Patch", "Methylprednisolone
# Acetate", "Buprenorphine Sublingual and Buccal"); dropped so one drug gets one name.
_NAME_SUFFIXES = frozenset(
    "patch patches gel cream ointment lotion spray solution sublingual buccal and transdermal "
    "topical oral injection injectable extended-release er xr acetate hydrochloride hcl sodium "
    "citrate bitartrate tartrate sulfate maleate besylate potassium succinate mesylate phosphate "
    "insomnia".split()
)

# Tokens the library maps to unrelated substances ("caps" is a buffer, "generics" is oxazepam),
# plus dosage words that never name a drug; never sent to it.
_NOT_DRUG_TOKENS = frozenset(
    "caps cap tabs tab tablet tablets capsule capsules generics generic hana tham vals gaba hops "
    "armour aman alli vitae sits buffers indicators diamonds sulfur mg mcg ml gm er xr sr cr ir dr "
    "ec hcl sodium potassium hydrochloride bitartrate refill refills bid tid qid qhs prn po daily "
    "supply the of for with and to".split()
)

_DRUG_CLASSES: dict[str, tuple[str, ...]] = {
    "opioid": (
        "hydrocodone",
        "oxycodone",
        "tramadol",
        "tapentadol",
        "morphine",
        "hydromorphone",
        "oxymorphone",
        "buprenorphine",
        "methadone",
        "fentanyl",
        "codeine",
        "meperidine",
        "levorphanol",
        "hydrocodone/acetaminophen",
        "oxycodone/acetaminophen",
        "tramadol/acetaminophen",
        "codeine/acetaminophen",
        "benzhydrocodone/acetaminophen",
        "buprenorphine/naloxone",
    ),
    "benzodiazepine": (
        "diazepam",
        "clonazepam",
        "alprazolam",
        "lorazepam",
        "temazepam",
        "triazolam",
        "chlordiazepoxide",
        "oxazepam",
    ),
    "muscle relaxant": (
        "cyclobenzaprine",
        "orphenadrine",
        "baclofen",
        "carisoprodol",
        "tizanidine",
        "methocarbamol",
        "metaxalone",
        "chlorzoxazone",
        "dantrolene",
    ),
    "nsaid": (
        "ibuprofen",
        "naproxen",
        "diclofenac",
        "celecoxib",
        "meloxicam",
        "etodolac",
        "nabumetone",
        "ketoprofen",
        "fenoprofen",
        "oxaprozin",
        "ketorolac",
        "indomethacin",
        "flurbiprofen",
        "piroxicam",
        "diflunisal",
        "sulindac",
        "aspirin",
        "ibuprofen/famotidine",
        "naproxen/esomeprazole",
        "diclofenac/misoprostol",
    ),
    "proton pump inhibitor": (
        "omeprazole",
        "esomeprazole",
        "pantoprazole",
        "lansoprazole",
        "dexlansoprazole",
        "rabeprazole",
    ),
    "h2 blocker": ("famotidine", "ranitidine", "cimetidine"),
    "anticonvulsant": (
        "gabapentin",
        "pregabalin",
        "topiramate",
        "carbamazepine",
        "oxcarbazepine",
        "lamotrigine",
        "levetiracetam",
        "valproic acid",
        "zonisamide",
    ),
    "antidepressant": (
        "duloxetine",
        "amitriptyline",
        "nortriptyline",
        "trazodone",
        "bupropion",
        "venlafaxine",
        "desvenlafaxine",
        "sertraline",
        "fluoxetine",
        "escitalopram",
        "citalopram",
        "paroxetine",
        "mirtazapine",
        "milnacipran",
        "doxepin",
    ),
    "sleep aid": ("zolpidem", "eszopiclone", "zaleplon", "ramelteon", "suvorexant", "melatonin"),
    "topical analgesic": (
        "lidocaine",
        "capsaicin",
        "menthol",
        "methyl salicylate",
        "camphor",
        "methyl salicylate/capsaicin/menthol/lidocaine",
        "capsaicin/lidocaine/menthol/methyl salicylate",
        "methyl salicylate/menthol/capsaicin",
        "methyl salicylate/menthol",
    ),
    "local anesthetic": ("bupivacaine", "ropivacaine"),
    "antiemetic": (
        "ondansetron",
        "promethazine",
        "prochlorperazine",
        "metoclopramide",
        "meclizine",
    ),
    "laxative": (
        "docusate",
        "senna",
        "sennosides",
        "bisacodyl",
        "polyethylene glycol",
        "lactulose",
        "lubiprostone",
        "linaclotide",
        "naloxegol",
        "methylnaltrexone",
    ),
    "analgesic": ("acetaminophen",),
    "barbiturate": ("butalbital/acetaminophen", "butalbital/acetaminophen/caffeine"),
    "triptan": ("sumatriptan", "rizatriptan", "zolmitriptan"),
    "corticosteroid": ("methylprednisolone", "prednisone", "dexamethasone", "triamcinolone"),
    "antihistamine": ("hydroxyzine", "diphenhydramine"),
    "anxiolytic": ("buspirone",),
    "antipsychotic": ("quetiapine", "aripiprazole", "olanzapine"),
    "stimulant": ("modafinil", "armodafinil", "amphetamine", "methylphenidate"),
    "pde5 inhibitor": ("sildenafil", "tadalafil", "vardenafil"),
    "opioid antagonist": ("naloxone", "naltrexone"),
    "medical food": ("theramine", "sentra", "gabadone", "trepadone"),
}
_CLASS_BY_GENERIC = {g: cls for cls, generics in _DRUG_CLASSES.items() for g in generics}

# Fixed-dose products written as separate ingredients ("Hydrocodone/APAP"), keyed by the set.
_COMBINATIONS = {
    frozenset(name.split("/")): name
    for name in (
        "hydrocodone/acetaminophen",
        "oxycodone/acetaminophen",
        "tramadol/acetaminophen",
        "codeine/acetaminophen",
        "butalbital/acetaminophen",
        "ibuprofen/famotidine",
        "naproxen/esomeprazole",
        "diclofenac/misoprostol",
        "buprenorphine/naloxone",
    )
}
# "Hydrocodone 10/325mg": the second strength is the acetaminophen in the tablet.
_APAP_STRENGTH = re.compile(r"\d\s*/\s*(?:300|325|500|650|660|750)(?!\d)")
_APAP_PARTNERS = frozenset({"hydrocodone", "oxycodone", "tramadol", "codeine"})

# Topical forms turn an NSAID into the MTUS "topical analgesics" group, and several ingredients
# in one of them make it a compounded product.
_TOPICAL = re.compile(
    r"\b(?:cream|gel|ointment|lotion|patch(?:es)?|topical|transdermal|compound(?:ed)?|"
    r"liniment|roll-on|base)\b|%"
)
_TOPICAL_CAN_BE = frozenset({"nsaid", "local anesthetic"})
# A drug named in these is being given by a clinician, so the item is a procedure.
_ADMINISTERED = re.compile(
    r"\binject\w*|\binfusions?\b|\bblocks?\b|iontophoresis|phonophoresis|intrathecal|"
    r"(?<!proton )\bpumps?\b|\bshots?\b"
)

# Words around the treatment that say when or why it is requested, not what it is.
_NOISE = re.compile(
    r"^\s*(?:associated surgical services?|labs? to include|labs? including|retrospective|"
    r"retro|prospective|request(?:ed)? for|continued|continue|continuation (?:of|for)|"
    r"additional|refill of|\d+\s+prescriptions? of|\d+\s+(?:tablets?|capsules?|tabs?|caps?) of"
    r")\s*(?:request\s+for\s+)?:?\s*"
)
_QUALIFIERS = re.compile(
    r"\b(?:post|pre)[- ]?(?:op|operative(?:ly)?|surgical|surgery)\b|"
    r"\b(?:under|with|using)\s+(?:ultrasound|fluoroscop\w*|ct|x-?ray|imaging|mri)"
    r"(?:\s+guidance)?\b|"
    r"\b(?:ultrasound|fluoroscop\w*|ct|x-?ray|imaging|mri)[- ]?guid\w*|"
    r"\bdos\b:?\s*[\d/.-]+"
)

_Name = str | Callable[[str], str]


class _Rules:
    """Rows of (pattern, name, class, category), with a cheap substring test before each regex."""

    def __init__(self, *rows: tuple[str, _Name, str, str]) -> None:
        self.rows = tuple((re.compile(p), name, cls, cat) for p, name, cls, cat in rows)
        # Python's re costs about 1.5 us per pattern even on a miss, so a row is searched only when
        # the text holds the first (up to) three characters of a literal its match must start with.
        # Rows with no literal start are always searched.
        self.always: list[int] = []
        self.by_key: dict[str, list[int]] = {}
        for i, (pattern, *_rest) in enumerate(rows):
            prefixes = _literal_prefixes(pattern)
            if prefixes is None:
                self.always.append(i)
            for key in {p[:3] for p in prefixes or ()}:
                self.by_key.setdefault(key, []).append(i)
        self.key_lengths = sorted({len(k) for k in self.by_key})

    def _candidates(self, text: str):
        keys = {text[i : i + n] for n in self.key_lengths for i in range(len(text) - n + 1)}
        hits = set(self.always)
        for key in keys.intersection(self.by_key):
            hits.update(self.by_key[key])
        return (self.rows[i] for i in sorted(hits))

    def first_listed(self, text: str) -> tuple[_Name, str, str] | None:
        """The first row, in list order, that matches anywhere in `text`."""
        for pattern, name, cls, category in self._candidates(text):
            if pattern.search(text):
                return name, cls, category
        return None

    def first_mentioned(self, text: str) -> tuple[int, tuple[str, str, str]] | None:
        """(position, (name, class, category)) of the treatment mentioned earliest in `text`.

        Ties go to the row listed first, so narrower rows sit above broader ones.
        """
        best = None
        for pattern, name, cls, category in self._candidates(text):
            m = pattern.search(text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name, cls, category)
        if best is None:
            return None
        at, name, cls, category = best
        return at, (name(text) if callable(name) else name, cls, category)


def _group_end(pattern: str) -> int:
    """Index of the ")" closing the group that opens `pattern`."""
    depth, i = 0, 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 1
        elif pattern[i] in "([":
            depth += 1
        elif pattern[i] in ")]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(pattern)


def _literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """The literal text each top-level alternative must start with, or None if one has none."""
    branches, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    branches.append(pattern[start:])
    prefixes = []
    for branch in branches:
        branch = branch.removeprefix("\\b")
        if branch.startswith("(?:"):
            # A leading group of alternatives, "(?:lumbar|back) support": each alternative's start.
            end = _group_end(branch)
            inner = _literal_prefixes(branch[3:end])
            if inner is None or branch[end + 1 : end + 2] in ("?", "*", "{"):
                return None
            prefixes.extend(inner)
            continue
        m = re.match(r"[a-z0-9 /'&-]*", branch)
        literal = m.group(0)
        if branch[m.end() : m.end() + 1] in ("?", "*", "{"):
            literal = literal[:-1]  # the last character is optional
        if not literal:
            return None
        prefixes.append(literal)
    return tuple(prefixes)


# Items whose wording contains other treatments' keywords ("inpatient rehabilitation physical
# therapy", "Daily RN for ... medication management"): the first row matching anywhere wins.
_DOMINANT = _Rules(
    (
        r"functional capacity|\bfce\b",
        "functional capacity evaluation",
        "evaluation",
        "other",
    ),
    (
        r"functional restoration|\bfrp\b|\b(?:multi|inter)disciplinary\b|"
        r"chronic pain (?:management )?program|pain (?:management )?program",
        "functional restoration program",
        "rehabilitation program",
        "therapy",
    ),
    (r"work (?:hardening|conditioning)", "work conditioning", "rehabilitation program", "therapy"),
    (r"\bdetox\w*", "detoxification program", "rehabilitation program", "therapy"),
    (
        r"\b(?:inpatient|in-patient|acute)\b.*\brehab\w*|"
        r"\brehab\w* (?:facility|hospital|unit|center)",
        "inpatient rehabilitation",
        "inpatient care",
        "therapy",
    ),
    (
        r"skilled nursing|\bsnf\b|nursing (?:home|facility)",
        "skilled nursing facility",
        "inpatient care",
        "other",
    ),
    (
        r"home (?:health )?aides?|\baides?\b|home attendant|caregiver|attendant care|homemaker|"
        r"housekeep\w*|\bihss\b|(?:home|personal) care (?:aide|assistan\w*)",
        "home health aide",
        "home health",
        "other",
    ),
    (
        r"home nursing|\brn\b|\blvn\b|nurse visits?|nursing (?:care|visits?|services)|"
        r"visiting nurse",
        "home health nursing",
        "home health",
        "other",
    ),
    (r"home health|home care", "home health services", "home health", "other"),
    (
        r"transport\w*|\btaxi\b|mileage|\buber\b|\blyft\b",
        "transportation",
        "ancillary services",
        "other",
    ),
    (r"interpret\w*|translat\w*", "interpreter services", "ancillary services", "other"),
    (
        r"\bgym\b|health club|\bymca\b|(?:pool|fitness) (?:membership|club|center)|membership",
        "gym membership",
        "fitness program",
        "other",
    ),
    (
        r"weight (?:loss|reduction|management) program|weight watchers|nutrisystem",
        "weight loss program",
        "fitness program",
        "other",
    ),
    (
        r"(?:psych\w*|mmpi|cognitive|personality) (?:\w+ )?(?:test\w*|battery|assessment)",
        "psychological testing",
        "psychological services",
        "procedure",
    ),
    (r"\bclearance\b", "medical clearance", "evaluation", "other"),
)

# A consultation word makes the item an evaluation when it comes before any other treatment named,
# unless a therapy is being evaluated ("Physical therapy evaluation and treatment").
_CONSULT = re.compile(
    r"\bconsult\w*|\bevaluations?\b|\beval\b|\breferral|\brefer(?:red)? to\b|second opinion|"
    r"\btoc\b|transfer of care|office visits?|follow[- ]?up (?:visits?|appointments?|office|with)|"
    r"re-?evaluations?\b|\bvisits? with"
)
_THERAPY_DISCIPLINE = re.compile(
    r"physical therap|physiotherap|\bpt\b|occupational therap|\bot\b|chiropract|\bchiro\b|"
    r"acupunct|massage|hand therap|aqua\w* therap|psychotherap|cognitive behavio|\bcbt\b|"
    r"biofeedback"
)
_SPECIALTIES = tuple(
    (re.compile(p), name)
    for p, name in (
        (r"psychiatr", "psychiatric consultation"),
        (r"psych", "psychological evaluation"),
        (
            r"pain (?:management|medicine|specialist|physician|doctor)",
            "pain management consultation",
        ),
        (r"\bortho", "orthopedic consultation"),
        (r"\bdent(?:al|ist)|oral surg", "dental consultation"),
        (r"neurosurg|surg", "surgical consultation"),
        (r"neurolog", "neurology consultation"),
        (r"physiatr|pm\s*&\s*r|physical medicine", "physiatry consultation"),
        (r"internal medicine|internist", "internal medicine consultation"),
        (r"rheumatolog", "rheumatology consultation"),
        (r"podiatr", "podiatry consultation"),
        (r"cardiolog", "cardiology consultation"),
        (r"gastro|\bgi\b", "gastroenterology consultation"),
        (r"urolog", "urology consultation"),
        (r"otolaryng|\bent\b", "ent consultation"),
        (r"ophthalm|optomet", "ophthalmology consultation"),
        (r"sleep", "sleep medicine consultation"),
        (r"nutrition|dietitian", "nutrition consultation"),
    )
)


def _injection_name(kind: str) -> Callable[[str], str]:
    def name(text: str) -> str:
        drug = _main_drug(text)
        return f"{drug} {kind}" if drug else kind

    return name


# Specific treatments. The one mentioned first in the text wins: requests name the disputed
# treatment first and add context after ("sling with abduction pillow", "MRI prior to surgery").
# Ties go to the earlier row, so narrower patterns sit above broader ones that match the same word.
_SPECIFIC = _Rules(
    # imaging
    (r"\b(?:mri?|ct) arthrogra\w*|\barthrogra\w*", "arthrogram", "advanced imaging", "imaging"),
    (r"\bmra\b|magnetic resonance angiogra", "mra", "advanced imaging", "imaging"),
    (r"\bmri\b|magnetic resonance|\bmr\b", "mri", "advanced imaging", "imaging"),
    (r"myelogra\w*", "myelogram", "advanced imaging", "imaging"),
    (
        r"\bct\b|\bcat scan|computed tomograph\w*|\bcts scan",
        "ct scan",
        "advanced imaging",
        "imaging",
    ),
    (r"bone scan|scintigra\w*|\bspect\b|\bpet\b", "bone scan", "advanced imaging", "imaging"),
    (r"\bdexa\b|bone densit\w*", "bone density scan", "radiography", "imaging"),
    (r"x-?rays?\b|radiograph\w*|\bxr\b|\bfilms?\b", "x-ray", "radiography", "imaging"),
    (
        r"therapeutic ultrasound|ultrasound\s+\d+\s*(?:x|times)|ultrasound (?:therapy|treatments?)",
        "therapeutic ultrasound",
        "physical medicine",
        "therapy",
    ),
    (r"ultrasound|sonogra\w*|\bdoppler\b|\bduplex\b", "ultrasound", "advanced imaging", "imaging"),
    # electrodiagnostic and other diagnostic tests
    (
        r"\bemg\b.*\b(?:ncv|ncs|nerve conduction)|electromyogra\w*.*nerve conduction|"
        r"\b(?:ncv|ncs)\b.*\bemg\b",
        "emg/ncv",
        "electrodiagnostic testing",
        "procedure",
    ),
    (r"\bemg\b|electromyogra\w*", "emg", "electrodiagnostic testing", "procedure"),
    (r"\bnc[vs]\b|nerve conduction", "ncv", "electrodiagnostic testing", "procedure"),
    (r"\beeg\b|electroencephalogra\w*", "eeg", "electrodiagnostic testing", "procedure"),
    (r"\bssep\b|evoked potential", "evoked potentials", "electrodiagnostic testing", "procedure"),
    (r"\be[kc]g\b|electrocardiogra\w*", "ekg", "diagnostic testing", "procedure"),
    (r"echocardiogra\w*|\becho\b", "echocardiogram", "diagnostic testing", "procedure"),
    (r"sleep stud\w*|polysomnogra\w*", "sleep study", "diagnostic testing", "procedure"),
    (
        r"pulmonary function|\bpft\b|spirometry",
        "pulmonary function test",
        "diagnostic testing",
        "procedure",
    ),
    (
        r"\bvng\b|videonystagmo\w*|vestibular test\w*",
        "vestibular testing",
        "diagnostic testing",
        "procedure",
    ),
    (r"audiogra\w*|hearing test", "hearing test", "diagnostic testing", "procedure"),
    (r"discogra\w*", "discography", "diagnostic testing", "procedure"),
    (
        r"range of motion (?:measurement|testing)|muscle testing|computeri[sz]ed (?:rom|range)",
        "range of motion testing",
        "diagnostic testing",
        "procedure",
    ),
    # laboratory tests
    (r"urinalysis", "urinalysis", "laboratory testing", "procedure"),
    (
        r"\burine\b|\buds\b|drug (?:screen|test)|toxicolog\w*|\btox\b",
        "urine drug screen",
        "laboratory testing",
        "procedure",
    ),
    (
        r"genetic|\bdna\b|cyp\s*450|pharmacogen\w*|genotyp\w*",
        "genetic testing",
        "laboratory testing",
        "procedure",
    ),
    (
        r"\blabs?\b|laboratory|blood (?:work|tests?|draw)|\bcbc\b|\bbmp\b|\bcmp\b|panel\b|"
        r"\bhba1c\b|\bpt/inr\b|liver function|renal function|serum",
        "laboratory tests",
        "laboratory testing",
        "procedure",
    ),
    # injections and interventional procedures
    (r"trigger points?|\btpi'?s?\b", "trigger point injection", "injection", "procedure"),
    (
        r"epidural|\besis?\b|transforaminal|interlaminar|caudal",
        "epidural steroid injection",
        "injection",
        "procedure",
    ),
    (r"medial branch", "medial branch block", "injection", "procedure"),
    (r"\bfacet", "facet joint injection", "injection", "procedure"),
    (
        r"\bsij?\b|sacroiliac",
        "sacroiliac joint injection",
        "injection",
        "procedure",
    ),
    (
        r"radiofrequency|\brfa\b|rhizotomy|neurotomy|ablation",
        "radiofrequency ablation",
        "interventional procedure",
        "procedure",
    ),
    (
        r"spinal cord stimulat\w*|\bscs\b|dorsal column",
        "spinal cord stimulator",
        "interventional procedure",
        "procedure",
    ),
    (
        r"intrathecal|(?:morphine|pain|drug) pump",
        "intrathecal pump",
        "interventional procedure",
        "procedure",
    ),
    (
        r"(?:nerve|ganglion|stellate|sympathetic|occipital|genicular|suprascapular|plexus) blocks?",
        "nerve block",
        "injection",
        "procedure",
    ),
    (
        r"synvisc|orthovisc|euflexxa|supartz|hyalgan|monovisc|gel-?one|hyaluron\w*|viscosupplement\w*",
        "viscosupplementation injection",
        "injection",
        "procedure",
    ),
    (r"platelet[- ]rich|\bprp\b", "prp injection", "injection", "procedure"),
    (r"\bbotox\b|botulinum", "botulinum toxin injection", "injection", "procedure"),
    (r"stem cell", "stem cell injection", "injection", "procedure"),
    (r"\bb-?12\b", "vitamin b12 injection", "injection", "procedure"),
    (
        r"(?:cortisone|steroid|corticosteroid|kenalog|depo-?medrol|triamcinolone|celestone)"
        r"\s+(?:injections?|shots?)",
        "corticosteroid injection",
        "injection",
        "procedure",
    ),
    (r"intra-?articular|joint injections?", "joint injection", "injection", "procedure"),
    # surgery
    (
        r"manipulation under anesthesia|\bmua\b",
        "manipulation under anesthesia",
        "surgery",
        "procedure",
    ),
    (r"arthroscop\w*|\bscope\b", "arthroscopy", "surgery", "procedure"),
    (
        r"total knee|knee (?:arthroplasty|replacement)|\btka\b|\btkr\b",
        "knee replacement",
        "surgery",
        "procedure",
    ),
    (
        r"total hip|hip (?:arthroplasty|replacement)|\btha\b|\bthr\b",
        "hip replacement",
        "surgery",
        "procedure",
    ),
    (
        r"(?:total|reverse) shoulder|shoulder (?:arthroplasty|replacement)",
        "shoulder replacement",
        "surgery",
        "procedure",
    ),
    (r"rotator cuff repair|\brcr\b", "rotator cuff repair", "surgery", "procedure"),
    (r"carpal tunnel release|\bctr\b", "carpal tunnel release", "surgery", "procedure"),
    (r"cubital tunnel|ulnar nerve transposition", "cubital tunnel release", "surgery", "procedure"),
    (r"trigger (?:finger|thumb)", "trigger finger release", "surgery", "procedure"),
    (
        r"\bfusion|arthrodesis|\bacdf\b|\btlif\b|\bplif\b|\balif\b|\bxlif\b",
        "spinal fusion",
        "surgery",
        "procedure",
    ),
    (r"micro-?disc?k?ectomy|disc?k?ectomy", "discectomy", "surgery", "procedure"),
    (
        r"laminectomy|laminotomy|hemilaminectomy|foraminotomy|laminoplasty",
        "laminectomy",
        "surgery",
        "procedure",
    ),
    (r"menisc\w*", "meniscus surgery", "surgery", "procedure"),
    (r"\bacl\b|cruciate", "acl reconstruction", "surgery", "procedure"),
    (r"kyphoplasty|vertebroplasty", "kyphoplasty", "surgery", "procedure"),
    (r"hardware removal|removal of hardware", "hardware removal", "surgery", "procedure"),
    (r"\bassistant surgeon|surgical assistant", "assistant surgeon", "surgery", "procedure"),
    (r"\bdecompression\b", "decompression surgery", "surgery", "procedure"),
    (r"arthroplasty|joint replacement", "arthroplasty", "surgery", "procedure"),
    # therapies
    (r"chiropract\w*|\bchiro\b", "chiropractic care", "physical medicine", "therapy"),
    (
        r"aqua\w* therap\w*|pool therapy|hydrotherapy|aquatic",
        "aquatic therapy",
        "physical medicine",
        "therapy",
    ),
    (
        r"physical therap\w*|physiotherap\w*|\bpt\b",
        "physical therapy",
        "physical medicine",
        "therapy",
    ),
    (r"occupational therap\w*|\bot\b", "occupational therapy", "physical medicine", "therapy"),
    (r"hand therap\w*", "hand therapy", "physical medicine", "therapy"),
    (r"speech therap\w*", "speech therapy", "physical medicine", "therapy"),
    (r"vestibular (?:therap\w*|rehab\w*)", "vestibular therapy", "physical medicine", "therapy"),
    (r"dry needling", "dry needling", "physical medicine", "therapy"),
    (r"acupunct\w*", "acupuncture", "physical medicine", "therapy"),
    (r"massage", "massage therapy", "physical medicine", "therapy"),
    (r"myofascial release", "myofascial release", "physical medicine", "therapy"),
    (r"manipulation|mobili[sz]ation", "spinal manipulation", "physical medicine", "therapy"),
    (r"shock ?wave|\beswt\b", "shockwave therapy", "physical medicine", "therapy"),
    (r"infrared", "infrared therapy", "physical medicine", "therapy"),
    (r"laser", "laser therapy", "physical medicine", "therapy"),
    (r"paraffin|whirlpool|diathermy", "heat therapy", "physical medicine", "therapy"),
    (
        r"cognitive behavio\w*|\bcbt\b",
        "cognitive behavioral therapy",
        "psychological services",
        "therapy",
    ),
    (r"biofeedback", "biofeedback", "psychological services", "therapy"),
    (
        r"psychotherap\w*|psycholog\w* (?:treatment|sessions?|therapy|care|counsel\w*)|"
        r"counsel\w*|hypno\w*",
        "psychotherapy",
        "psychological services",
        "therapy",
    ),
    (r"home exercise", "home exercise program", "physical medicine", "therapy"),
    # equipment
    (
        r"\btens\b.*\b(?:supplies|electrodes|patch(?:es)?|pads|batteries)\b|electrodes",
        "tens supplies",
        "durable medical equipment",
        "equipment",
    ),
    (r"\btens\b|transcutaneous electrical", "tens unit", "durable medical equipment", "equipment"),
    (r"interferential", "interferential unit", "durable medical equipment", "equipment"),
    (r"h-?wave", "h-wave unit", "durable medical equipment", "equipment"),
    (
        r"(?:electrical (?:muscle )?stimulat\w*|e-?stim|\bnmes\b|\bems\b)\s*(?:unit|device|"
        r"machine|stimulator)|muscle stimulator",
        "muscle stimulator",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"electrical stimulation|\be-?stim\b",
        "electrical stimulation",
        "physical medicine",
        "therapy",
    ),
    (
        r"bone (?:growth )?stimulator",
        "bone growth stimulator",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"hot/cold|heat(?:ing)? (?:\w+ )?(?:pad|wrap|pack)s?|(?:hot|cold|ice) packs?|"
        r"heat therap\w* (?:pad|wrap)",
        "hot/cold therapy",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"cold (?:compression|therapy|unit)|cryotherap\w*|cryo[- ]?cuff|game ready|polar care|"
        r"vascutherm|ice machine|cooling unit",
        "cold therapy unit",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"continuous passive motion|\bcpm\b",
        "cpm machine",
        "durable medical equipment",
        "equipment",
    ),
    (r"traction", "traction unit", "durable medical equipment", "equipment"),
    (r"\bslings?\b", "sling", "durable medical equipment", "equipment"),
    (r"wheel ?chair|\bscooter\b", "wheelchair", "durable medical equipment", "equipment"),
    (r"\bwalker\b|rollator", "walker", "durable medical equipment", "equipment"),
    (r"\bcanes?\b", "cane", "durable medical equipment", "equipment"),
    (r"crutch\w*", "crutches", "durable medical equipment", "equipment"),
    (r"commode|toilet", "commode", "durable medical equipment", "equipment"),
    (
        r"(?:shower|bath|tub) (?:chair|bench|seat)|/shower chair",
        "shower chair",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"hospital bed|adjustable bed|mattress|\bbed\b",
        "hospital bed",
        "durable medical equipment",
        "equipment",
    ),
    (r"pillow", "pillow", "durable medical equipment", "equipment"),
    (r"hearing aids?", "hearing aid", "durable medical equipment", "equipment"),
    (
        r"eye ?glasses|spectacles|contact lens",
        "eyeglasses",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"compression (?:stocking|garment|sleeve|hose)\w*|\bted hose",
        "compression garment",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"(?:lumbar|back|lumbosacral|spinal|thoracolumbar)\s+(?:support|brace|orthosis|corset)|"
        r"\blso\b|\btlso\b",
        "lumbar support",
        "orthosis",
        "equipment",
    ),
    (r"cervical collar|neck brace|\bcollar\b", "cervical collar", "orthosis", "equipment"),
    (r"knee (?:brace|support|sleeve|immobili\w*)|unloader", "knee brace", "orthosis", "equipment"),
    (r"wrist (?:brace|splint|support)", "wrist brace", "orthosis", "equipment"),
    (r"elbow (?:brace|splint|support|strap)", "elbow brace", "orthosis", "equipment"),
    (r"ankle (?:brace|support)", "ankle brace", "orthosis", "equipment"),
    (r"shoulder (?:brace|immobili\w*)", "shoulder brace", "orthosis", "equipment"),
    (r"orthotics?|insoles?|shoe inserts?|arch supports?", "orthotics", "orthosis", "equipment"),
    (r"(?:walking|cam|fracture) boot", "walking boot", "orthosis", "equipment"),
    (r"splints?", "splint", "orthosis", "equipment"),
    (r"braces?\b|orthos[ie]s", "brace", "orthosis", "equipment"),
    (r"\bwraps?\b", "wrap", "durable medical equipment", "equipment"),
    # other
    (r"\bexam(?:ination)?s?\b", "examination", "evaluation", "other"),
    (
        r"inpatient|hospital(?:ization)? stay|length of stay|\bovernight\b|\bnights?\b",
        "inpatient stay",
        "inpatient care",
        "other",
    ),
)

# Broad words, used only when nothing specific matched: "surgery" says less than "arthroscopy".
_GENERIC = _Rules(
    (
        r"surg(?:ery|ical)|\w+ectomy\b|\w+otomy\b|\w+plasty\b|\brepair|reconstruct\w*|"
        r"\brelease\b|excision|debridement|fixation|\borif\b|osteotomy|implant\w*|removal|"
        r"transposition|\boperation\b|tenodesis|\bsuture",
        "surgery",
        "surgery",
        "procedure",
    ),
    (r"\binject\w*|\bshots?\b", _injection_name("injection"), "injection", "procedure"),
    (r"\binfusions?\b", _injection_name("infusion"), "injection", "procedure"),
    (r"\bblocks?\b", "nerve block", "injection", "procedure"),
    (r"\brehab\w*", "rehabilitation", "physical medicine", "therapy"),
    (r"\btest\w*|\bscreen\w*|\bstudy\b", "diagnostic testing", "diagnostic testing", "procedure"),
)

# Requests naming only a drug class ("Opioid medication", "Topical compound cream").
_MED_CLASS_WORDS = (
    (re.compile(r"opioid|opiate|narcotic"), "opioid"),
    (re.compile(r"\bnsaids?\b|anti-?inflammator"), "nsaid"),
    (re.compile(r"muscle relax"), "muscle relaxant"),
    (re.compile(r"benzodiazepine"), "benzodiazepine"),
    (re.compile(r"proton pump|\bppis?\b"), "proton pump inhibitor"),
    (re.compile(r"antidepress"), "antidepressant"),
    (re.compile(r"anticonvuls|anti-?epilep"), "anticonvulsant"),
    (re.compile(r"sleep (?:aid|medication)|hypnotic"), "sleep aid"),
    (re.compile(r"compound\w*"), "compounded topical"),
    (re.compile(r"topical"), "topical analgesic"),
    (re.compile(r"laxative|stool softener"), "laxative"),
    (re.compile(r"medication|\bmeds\b|prescription|\bdrugs?\b|pharmacy"), None),
)

_TOKEN = re.compile(r"[a-z][a-z']*[a-z]")
_FILLER = re.compile(
    r"\b(?:tablets?|capsules?|tabs?|caps?|prescriptions?|of|rx|one|a|the|unknown|oral|generic|"
    r"brand|topical|compound(?:ed)?|medications?)\b"
)


def classify_treatment(request: str) -> dict:
    """Return {"name": ..., "class": ..., "category": ...} for a disputed item's request text."""
    name, cls, category = _classify(_normalise(request or ""))
    # A fresh dict per call: callers store it on their item and may change it.
    return {"name": name, "class": cls, "category": category}


def _normalise(request: str) -> str:
    text = " ".join(request.lower().split())
    for _ in range(3):  # prefixes stack: "Retrospective request for: Post-op ..."
        stripped = _NOISE.sub("", text)
        if stripped == text:
            break
        text = stripped
    return " ".join(_QUALIFIERS.sub(" ", text).split())


# Real request strings repeat heavily across letters ("MRI of the lumbar spine"), so results are
# memoised on the normalised text.
@lru_cache(maxsize=65536)
def _classify(text: str) -> tuple[str | None, str | None, str]:
    if not text:
        return None, None, "other"
    dominant = _DOMINANT.first_listed(text)
    if dominant:
        return dominant

    # The treatment mentioned first wins: requests name the disputed item first and add context
    # after ("Shoulder sling with abduction pillow", "Valium 5mg prior to MRI").
    drugs = _drugs(text)
    med_at = None
    if drugs and not _ADMINISTERED.search(text):
        med_at = 0 if _leads(text, drugs[0][1]) else drugs[0][1]
    specific = _SPECIFIC.first_mentioned(text)
    consult = _CONSULT.search(text)
    if consult and _THERAPY_DISCIPLINE.search(text):
        consult = None
    candidates = [
        (med_at, 0, "medication"),
        (consult.start() if consult else None, 1, "consultation"),
        (specific[0] if specific else None, 2, "specific"),
    ]
    found = sorted((at, order, kind) for at, order, kind in candidates if at is not None)
    if found:
        kind = found[0][2]
        if kind == "medication":
            return _medication(text, drugs)
        if kind == "consultation":
            return _consultation(text), "evaluation", "other"
        return specific[1]

    generic = _GENERIC.first_mentioned(text)
    if generic:
        return generic[1]
    if drugs:
        return _medication(text, drugs)
    for pattern, cls in _MED_CLASS_WORDS:
        if pattern.search(text):
            return None, cls, "medication"
    if re.search(r"\b(?:unit|device|machine|purchase|rental|dme|equipment|supplies)\b", text):
        return None, "durable medical equipment", "equipment"
    return None, None, "other"


def _consultation(text: str) -> str:
    for pattern, name in _SPECIALTIES:
        if pattern.search(text):
            return name
    if re.search(r"visit|follow[- ]?up|appointment", text):
        return "office visit"
    return "consultation"


def _leads(text: str, offset: int) -> bool:
    # "60 Tablets of Diazepam", "1 prescription of Norco": only counts and filler before the drug.
    return not re.search(r"[a-z]", _FILLER.sub(" ", text[:offset]))


@cache
def _find_drugs() -> Callable[..., list]:
    # The library unpickles its dictionary on import (about 2 s), so it is loaded on first use
    # rather than whenever this module is imported.
    from drug_named_entity_recognition import find_drugs

    return find_drugs


def _drugs(text: str) -> list[tuple[str, int, bool]]:
    """(generic, character offset, library says topical) for each drug named, in text order."""
    found: dict[str, tuple[str, int, bool]] = {}
    for pattern, generic in _SUPPLEMENT_PHRASES:
        m = pattern.search(text)
        if m:
            found.setdefault(generic, (generic, m.start(), False))
            # Blank it out so the library does not also read "tylenol" as plain acetaminophen.
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    tokens, offsets = [], []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        if word in _SUPPLEMENT:
            generic = _SUPPLEMENT[word]
            found.setdefault(generic, (generic, m.start(), False))
        elif len(word) >= 4 and word not in _NOT_DRUG_TOKENS:
            tokens.append(word)
            offsets.append(m.start())
        else:
            # Keep token positions honest so two-word variants are not glued across a gap.
            tokens.append("|")
            offsets.append(m.start())
    if any(t != "|" for t in tokens):
        for data, start, _end in _find_drugs()(tokens, is_include_structure=False):
            if not _is_drug_record(data):
                continue
            generic, topical = _generic_name(data.get("name", ""))
            if generic:
                found.setdefault(generic, (generic, offsets[start], topical))
    return sorted(found.values(), key=lambda d: d[1])


def _is_drug_record(data: dict) -> bool:
    # MeSH-only records are drug classes or body chemicals ("Analgesics, Opioid", "Proton Pumps",
    # "Benzodiazepines"); real drugs carry a DrugBank, MedlinePlus, NHS or Wikipedia reference.
    return any(k in data for k in ("drugbank_id", "medline_plus_id", "nhs_url", "wikipedia_url"))


def _generic_name(raw: str) -> tuple[str, bool]:
    name = re.sub(r"\s*\([^)]*\)", "", raw.lower()).strip()
    if name in _NAME_ALIASES:
        return _NAME_ALIASES[name], False
    topical = False
    parts = []
    for part in name.split("/"):
        words = part.split()
        while len(words) > 1 and words[-1] in _NAME_SUFFIXES:
            topical = topical or words[-1] in {"patch", "gel", "cream", "ointment", "topical"}
            words.pop()
        parts.append(_NAME_ALIASES.get(" ".join(words), " ".join(words)))
    return "/".join(parts), topical


def _main_drug(text: str) -> str | None:
    drugs = _drugs(text)
    return drugs[0][0] if drugs else None


def _medication(text: str, drugs: list[tuple[str, int, bool]]) -> tuple[str, str | None, str]:
    names = [d[0] for d in drugs]
    topical = any(d[2] for d in drugs) or bool(_TOPICAL.search(text))
    # Ingredients listed after a product name ("Terocin (lidocaine, menthol)") repeat it.
    ingredients = list(dict.fromkeys(part for n in names for part in n.split("/")))
    if set(ingredients) == set(names[0].split("/")):
        names = names[:1]
    if len(names) >= 2 and frozenset(names[:2]) in _COMBINATIONS:
        name = _COMBINATIONS[frozenset(names[:2])]
    elif len(names) >= 2 and topical:
        return "/".join(ingredients), "compounded topical", "medication"
    else:
        name = names[0]
        if name in _APAP_PARTNERS and _APAP_STRENGTH.search(text):
            name = f"{name}/acetaminophen"
    cls = _CLASS_BY_GENERIC.get(name)
    if cls is None and "/" in name:
        cls = _CLASS_BY_GENERIC.get(name.split("/")[0])
    if topical and cls in _TOPICAL_CAN_BE:
        cls = "topical analgesic"
    return name, cls, "medication"


def drug_classes() -> dict[str, str]:
    """Return generic name -> drug class for every medication this module knows."""
    return dict(_CLASS_BY_GENERIC)


def supplementary_brands() -> dict[str, str]:
    """Return brand -> generic for the products the drug-name library misses."""
    return {brand: generic for brand, generic in _SUPPLEMENT.items() if brand != generic}


def library_brand_names(generic: str) -> list[str]:
    """Return the other names the drug-name library knows for a generic (brands, spellings)."""
    found = _find_drugs()([generic], is_include_structure=False)
    for data, *_ in found:
        if _is_drug_record(data) and data.get("name", "").lower() == generic:
            return [s for s in data.get("synonyms", []) if s != generic]
    return []


#: Everyday words for the drug classes and treatment groups, as people search for them ("muscle
#: relaxers", "narcotic painkillers", "heartburn medication"); indexed with each item's treatment.
CLASS_TERMS = {
    "opioid": "opioids narcotic narcotics painkiller painkillers opiate opiates",
    "benzodiazepine": "benzodiazepines benzo benzos tranquilizer sedative anti-anxiety",
    "muscle relaxant": "muscle relaxants relaxer relaxers antispasmodic",
    "nsaid": "nsaids anti-inflammatory anti-inflammatories",
    "proton pump inhibitor": "ppi heartburn acid reflux gerd stomach protection",
    "h2 blocker": "h2 antagonist heartburn acid reflux gerd stomach protection",
    "anticonvulsant": "anticonvulsants anti-epileptic neuropathic",
    "antidepressant": "antidepressants",
    "sleep aid": "sleeping pills hypnotic insomnia",
    "topical analgesic": "topical cream patch ointment",
    "compounded topical": "compounded compound cream topical",
    "antiemetic": "nausea anti-nausea",
    "laxative": "laxatives constipation stool softener",
    "advanced imaging": "scan imaging",
    "radiography": "x-ray xray radiograph imaging",
    "electrodiagnostic testing": "electrodiagnostic nerve conduction electromyography",
    "physical medicine": "rehab rehabilitation",
    "durable medical equipment": "dme equipment device",
    "orthosis": "brace orthotic support",
    "psychological services": "psychology psychologist mental health",
    "home health": "home care nursing aide",
}


def class_terms(treatment_class: str | None) -> str:
    """Return the everyday words for a treatment class ("opioid" -> "narcotic painkiller ...")."""
    return CLASS_TERMS.get(treatment_class or "", "")
