"""Normalise a disputed item's request text into a treatment name, class and category."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

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
    "dietary supplement",
    "anticoagulant",
    "antibiotic",
    "hormone",
    "antihypertensive",
    "antidiabetic",
    "smoking cessation",
    "gastrointestinal agent",
    "advanced imaging",
    "radiography",
    "diagnostic imaging",
    "electrodiagnostic testing",
    "diagnostic testing",
    "laboratory testing",
    "injection",
    "interventional procedure",
    "surgery",
    "surgical assistance",
    "dental care",
    "physical medicine",
    "psychological services",
    "rehabilitation program",
    "partial hospitalization",
    "inpatient care",
    "durable medical equipment",
    "mobility aid",
    "orthosis",
    "prosthesis",
    "medical supplies",
    "ergonomic equipment",
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
    "Dicopanol",
    "Trezix",
    "Keflex",
    "Deplin",
    "Genicin",
    "Somnicin",
)

# Lower-case token -> generic. Besides the brands above it holds the generics the library lacks
# (capsaicin, menthol, senna, caffeine, glucosamine and testosterone are absent from its
# dictionary or not found as one word).
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
    "dicopanol": "diphenhydramine",
    "trezix": "dihydrocodeine/acetaminophen/caffeine",
    "keflex": "cephalexin",
    "deplin": "levomefolic acid",
    "genicin": "glucosamine",
    "somnicin": "somnicin",
    "capsaicin": "capsaicin",
    "menthol": "menthol",
    "senna": "senna",
    "caffeine": "caffeine",
    "glucosamine": "glucosamine",
    "chondroitin": "chondroitin",
    "testosterone": "testosterone",
    "estradiol": "estradiol",
    "nicotine": "nicotine",
}
# Products named with a short or numeric token: "MS" is dropped before the library sees it and
# "Tylenol #3" would come back as plain acetaminophen.
_SUPPLEMENT_PHRASES = (
    (
        re.compile(r"\btylenol\s*(?:#|no\.?|number)\s*[234]|\btylenol with codeine\b"),
        "codeine/acetaminophen",
    ),
    (re.compile(r"\bms\s*contin\b"), "morphine"),
    (re.compile(r"\bvitamin\s*d\d?\b"), "vitamin d"),
    (re.compile(r"\bvitamin\s*b[- ]?12\b"), "vitamin b12"),
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
    "vitamin b 12": "vitamin b12",
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

# Drug class -> the generics in it, as `_generic_name` spells them (combination products too).
_DRUG_CLASSES: dict[str, tuple[str, ...]] = {
    cls: tuple(generics)
    for cls, generics in json.loads(
        (Path(__file__).parent / "drug_classes.json").read_text(encoding="utf-8")
    ).items()
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
    r"liniment|roll-on|base|spray|balm|rub)\b|%"
)
_TOPICAL_CAN_BE = frozenset({"nsaid", "local anesthetic"})
# Classes sold as creams, gels or patches (hydrocortisone cream, Androgel, mupirocin ointment)
# keep their class in a topical form; any other drug in a cream is a pharmacy compound
# (cyclobenzaprine, gabapentin or tramadol cream), as is anything "compounded".
_TOPICAL_KEEPS = frozenset(
    {"topical analgesic", "corticosteroid", "antihistamine", "hormone", "antibiotic"}
)
_COMPOUNDED = re.compile(r"\bcompound(?:ed|ing)?\b")
# A patch or transdermal system delivers any drug class (fentanyl, buprenorphine, clonidine).
_TRANSDERMAL = re.compile(r"\bpatch(?:es)?\b|transdermal|\bfilm\b|mcg\s*/\s*h")
# Between two ingredients of one product ("acetaminophen/caffeine/dihydrocodeine",
# "hydrocodone-ibuprofen", "orphenadrine with aspirin") rather than two products.
_SAME_PRODUCT_GAP = re.compile(r"\s*(?:[/+&-]|\bwith\b|\bw/)\s*")
# A drug named in these is being given by a clinician, so the item is a procedure.
_ADMINISTERED = re.compile(
    r"\binject\w*|\binfusions?\b|\bblocks?\b|iontophoresis|phonophoresis|intrathecal|"
    r"(?<!proton )\bpumps?\b|\bshots?\b|\bim\b|\biv\b|intramuscular|intravenous|botox|botulinum"
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

    def first_mentioned(
        self, text: str, context: str | None = None
    ) -> tuple[int, tuple[str, str, str]] | None:
        """(position, (name, class, category)) of the treatment mentioned earliest in `text`.

        Ties go to the row listed first, so narrower rows sit above broader ones. A row that names
        its treatment from the text ("ketorolac injection") reads `context` if given.
        """
        best = None
        for pattern, name, cls, category in self._candidates(text):
            m = pattern.search(text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name, cls, category)
        if best is None:
            return None
        at, name, cls, category = best
        return at, (name(context or text) if callable(name) else name, cls, category)


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
        r"partial hospitali[sz]\w*|\bphp\b|day (?:treatment|hospital)",
        "partial hospitalization program",
        "partial hospitalization",
        "therapy",
    ),
    (
        r"intensive outpatient|\biop\b",
        "intensive outpatient program",
        "partial hospitalization",
        "therapy",
    ),
    (
        r"functional capacity|\bq?fce\b",
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
    (
        r"vocational|job (?:retraining|placement)",
        "vocational rehabilitation",
        "rehabilitation program",
        "therapy",
    ),
    (r"\bdetox\w*", "detoxification program", "rehabilitation program", "therapy"),
    (
        r"\b(?:inpatient|in-patient|acute)\b.*\brehab\w*|"
        r"\brehab\w* (?:facility|hospital|unit|center)",
        "inpatient rehabilitation",
        "inpatient care",
        "therapy",
    ),
    (
        r"skilled nursing (?:facility|home|center|unit|stay|admission)|\bsnf\b|"
        r"nursing (?:home|facility)",
        "skilled nursing facility",
        "inpatient care",
        "other",
    ),
    (r"case manag\w*", "case management", "ancillary services", "other"),
    (
        r"home (?:health )?aides?|\baides?\b|home attendant|caregiver|attendant care|homemaker|"
        r"in[- ]home support\w*|"
        r"(?:apartment|house|home) ?cleaning|cleaning services|chore services|"
        r"housekeep\w*|\bihss\b|(?:home|personal) care (?:aide|assistan\w*)",
        "home health aide",
        "home health",
        "other",
    ),
    (
        r"home nursing|\brn\b|\blvn\b|nurse visits?|\bnursing\b|visiting nurse|"
        r"wound care nurse",
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
        r"(?:psych\w*|mmpi|cognitive|personality) (?:\w+ )?(?:test\w*|battery|assessment)|"
        r"\bmmpi\S*",
        "psychological testing",
        "psychological services",
        "procedure",
    ),
    (r"\bclearance\b", "medical clearance", "evaluation", "other"),
    (
        r"ergonomic (?:\w+ )?(?:evaluation|assessment|consult\w*)|"
        r"(?:job ?site|work ?site|workplace|work station) (?:evaluation|assessment|analysis)",
        "ergonomic evaluation",
        "evaluation",
        "other",
    ),
    (
        r"impairment rating|disability (?:rating|evaluation)|\b[aiq]me\b|"
        r"independent medical (?:exam|evaluation)",
        "disability evaluation",
        "evaluation",
        "other",
    ),
)

# A consultation word makes the item an evaluation when it comes before any other treatment named,
# unless a therapy is being evaluated ("Physical therapy evaluation and treatment").
_CONSULT = re.compile(
    r"\bconsult\w*|\bevaluations?\b|\beval\b|\breferral|\brefer(?:red)? to\b|second opinion|"
    r"\btoc\b|transfer of care|office visits?|follow[- ]?up (?:visits?|appointments?|office|with)|"
    r"follow[- ]?ups?$|"
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
_SPECIFIC_ROWS = (
    # imaging
    (
        r"impedance imaging|\btpii\b",
        "impedance imaging",
        "diagnostic imaging",
        "imaging",
    ),
    (
        r"thermogra\w*|(?:thermal|infrared) imaging",
        "thermography",
        "diagnostic imaging",
        "imaging",
    ),
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
    (r"sleep (?:stud\w*|test)|polysomnogra\w*", "sleep study", "diagnostic testing", "procedure"),
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
    # laboratory tests ("PT/PTT" and "PT/INR" are clotting tests, not physical therapy)
    (
        r"\bpt\s*(?:/|,|&|and)\s*(?:ptt|inr)\b|\bptt\b|\binr\b|prothrombin|coagulation|\bcoags?\b",
        "coagulation tests",
        "laboratory testing",
        "procedure",
    ),
    (
        r"urinalys\w*|urine analys\w*|\bu/?a\b",
        "urinalysis",
        "laboratory testing",
        "procedure",
    ),
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
        r"\blabs?\b|laboratory|blood ?(?:work|tests?|draw|count)|\bcbc\b|\bbmp\b|\bcmp\b|"
        r"panel\b|\bhba1c\b|\ba1c\b|liver function|renal function|kidney function|serum|"
        r"metabolic|hepatic function|\blfts?\b|\btsh\b|\besr\b|\bcrp\b|sed rate|"
        r"drug levels?|venipuncture",
        "laboratory tests",
        "laboratory testing",
        "procedure",
    ),
    # injections and interventional procedures
    (r"trigger points?|\btpi'?s?\b", "trigger point injection", "injection", "procedure"),
    (
        r"epidural|\b(?:tf|il|c|l)?esis?\b|transforaminal|interlaminar|caudal",
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
        r"radiofrequency|\brfa?\b|rhizotomy|neurotomy|ablation",
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
        r"peripheral nerve stimulat\w*|\bpns\b|(?:occipital|sacral) nerve stimulat\w*",
        "peripheral nerve stimulator",
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
    (r"prolotherap\w*", "prolotherapy", "injection", "procedure"),
    (
        r"arthrocentesis|(?:joint|knee|aspiration) aspirat\w*|aspiration of",
        "joint aspiration",
        "injection",
        "procedure",
    ),
    (r"\bb-?12\b", "vitamin b12 injection", "injection", "procedure"),
    (
        r"(?:cortisone|steroid|corticosteroid|kenalog|depo-?medrol|triamcinolone|celestone|"
        r"methylprednisolone|dexamethasone)(?:\s+[\w./%-]+){0,3}?\s+(?:injections?|shots?)",
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
    (
        r"\bassist\w*(?: at)? surgeon|surgeon'?s? assistant|surgical assist\w*|\bco-?surgeon|"
        r"\b(?:first|1st) assist\w*|^assistant$|\bassistant\b.*\bsurg",
        "assistant surgeon",
        "surgical assistance",
        "procedure",
    ),
    (
        r"anesthesi\w* (?:services?|care|team)|monitored anesthesia|\bmac\b|"
        r"(?:iv|conscious|moderate) sedation|anesthesiologist",
        "anesthesia services",
        "surgical assistance",
        "procedure",
    ),
    (
        r"\bdental\b|\bdentures?\b|\bcrowns?\b|root canal|\bteeth\b|\btooth\b|"
        r"periodont\w*|(?:night|mouth|occlusal|dental) ?guards?|(?:occlusal|bite) splints?",
        "dental treatment",
        "dental care",
        "procedure",
    ),
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
    (r"cupping|reiki|gua sha", "alternative therapy", "physical medicine", "therapy"),
    (r"massage(?! (?:chair|table|device))", "massage therapy", "physical medicine", "therapy"),
    (r"myofascial (?:release|therap\w*)", "myofascial release", "physical medicine", "therapy"),
    (r"iontophoresis", "iontophoresis", "physical medicine", "therapy"),
    (r"phonophoresis", "phonophoresis", "physical medicine", "therapy"),
    (
        r"traction therap\w*|mechanical traction|manual traction",
        "traction therapy",
        "physical medicine",
        "therapy",
    ),
    (
        r"interferential (?:current )?(?:stimulation|therapy|treatments?)",
        "interferential therapy",
        "physical medicine",
        "therapy",
    ),
    (
        r"manual therap\w*|soft tissue mobili[sz]\w*|joint mobili[sz]\w*|manual traction",
        "manual therapy",
        "physical medicine",
        "therapy",
    ),
    (r"manipulation|mobili[sz]ation", "spinal manipulation", "physical medicine", "therapy"),
    (
        r"kinesio\w*|(?:athletic|kinesiology|therapeutic) tap(?:e|ing)|\btaping\b",
        "kinesio taping",
        "physical medicine",
        "therapy",
    ),
    (r"acupressure", "acupressure", "physical medicine", "therapy"),
    (r"shock ?wave|\beswt\b", "shockwave therapy", "physical medicine", "therapy"),
    (r"infrared", "infrared therapy", "physical medicine", "therapy"),
    (r"laser", "laser therapy", "physical medicine", "therapy"),
    (
        r"paraffin|whirlpool|diathermy|moist heat|heat therapy\b(?! (?:\w+ )?(?:pad|wrap|pack))",
        "heat therapy",
        "physical medicine",
        "therapy",
    ),
    (
        r"cognitive behavio\w*|\bcbt\b|cognitive therap\w*",
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
    (
        r"relaxation (?:training|therapy|techniques?)|mindfulness|stress (?:reduction|management)|"
        r"coping skills|\bmbsr\b",
        "stress management",
        "psychological services",
        "therapy",
    ),
    (
        r"\byoga\b|pilates|tai chi|personal trainer|fitness (?:program|class\w*|training)",
        "fitness program",
        "fitness program",
        "other",
    ),
    (
        r"meals?(?: on wheels| delivery| preparation)|meal prep\w*",
        "meal services",
        "ancillary services",
        "other",
    ),
    (
        r"group (?:therapy|psychotherapy|sessions?|counsel\w*)|support group",
        "group psychotherapy",
        "psychological services",
        "therapy",
    ),
    (r"home exercise", "home exercise program", "physical medicine", "therapy"),
    (
        r"exercise (?:bike|bicycle|equipment|ball|bands?|machine)|stationary (?:bike|bicycle)|"
        r"treadmill|elliptical|resistance bands?|theraband|inversion table|\bbike\b|bicycle|"
        r"foam roller|putty|\bpulleys?\b|dumbbells?|free weights",
        "exercise equipment",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"therapeutic (?:exercise|activit)\w*|exercise therap\w*|\bexercises?\b|"
        r"neuromuscular re-?education|gait training|balance training",
        "therapeutic exercise",
        "physical medicine",
        "therapy",
    ),
    # equipment
    (
        r"\btens\b.*\b(?:supplies|electrodes|patch(?:es)?|pads|batteries)\b|electrodes|"
        r"conductive garment",
        "tens supplies",
        "medical supplies",
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
        r"electrical (?:muscle |nerve )?stimulation|\be-?stim\b|\bems\b|\bnmes\b|"
        r"electric(?:al)? muscle stim\w*",
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
    (r"\w*slings?\b", "sling", "durable medical equipment", "equipment"),
    (
        r"pneumatic compression|(?:sequential|intermittent) compression|\bscds?\b|"
        r"compression (?:device|pump|unit|system)|\bdvt (?:pump|device|unit)",
        "compression device",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"wound ?vac\b|negative pressure wound",
        "wound vac",
        "durable medical equipment",
        "equipment",
    ),
    (r"\bc-?pap\b|\bbi-?pap\b", "cpap machine", "durable medical equipment", "equipment"),
    # mobility aids
    (
        r"knee (?:scooter|walker|cycle|caddy)|\biwalk\b|roll-?about",
        "knee scooter",
        "mobility aid",
        "equipment",
    ),
    (r"wheel ?chairs?", "wheelchair", "mobility aid", "equipment"),
    (r"\bscooters?\b|power mobility", "mobility scooter", "mobility aid", "equipment"),
    (r"\bwalkers?\b|rollator", "walker", "mobility aid", "equipment"),
    (r"\bcanes?\b|walking stick", "cane", "mobility aid", "equipment"),
    (r"crutch\w*", "crutches", "mobility aid", "equipment"),
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
    (
        r"\bcushions?\b|(?:hip|knee|elbow|heel|foam|gel|seat|protective|protector|bed|abduction) "
        r"pads?\b|hip protectors?",
        "cushion/pad",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"lift chair|recliner|grab bars?|\bramps?\b|stair ?lift|home modification\w*|"
        r"reacher|sock aid|(?:raised|elevated) toilet|long[- ]handled|shoe ?horn|dressing stick|"
        r"hand ?held shower|(?:vehicle|van|car) modification\w*|\bvehicle\b|\bvan\b|hand controls",
        "home safety equipment",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"hoyer|(?:patient|seat|sit-to-stand) lift|transfer (?:board|bench)|trapeze",
        "patient lift",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"(?<!hyperbaric )\boxygen\b|nebuli[sz]er|glucometer|medical alert|life ?alert|"
        r"(?:glucose|blood pressure|bp) (?:monitor|meter|cuff)|\bscales?\b",
        "home medical device",
        "durable medical equipment",
        "equipment",
    ),
    (
        r"hot tub|jacuzzi|\bspa\b|sauna|swimming pool|massage (?:chair|table|device)",
        "home spa equipment",
        "durable medical equipment",
        "equipment",
    ),
    (r"hearing aids?", "hearing aid", "durable medical equipment", "equipment"),
    (
        r"eye ?glasses|\bglasses\b|spectacles|contact lens",
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
        r"(?:lumbar|back|lumbosacral|spinal|thoracolumbar)\s+(?:support|brace|orthosis|corset|roll)|"
        r"\blso\b|\btlso\b",
        "lumbar support",
        "orthosis",
        "equipment",
    ),
    (r"cervical collar|neck brace|\bcollar\b", "cervical collar", "orthosis", "equipment"),
    (r"knee (?:brace|support|sleeve|immobili\w*)|unloader", "knee brace", "orthosis", "equipment"),
    (r"wrist (?:brace|splint|support)", "wrist brace", "orthosis", "equipment"),
    (r"elbow (?:brace|splint|support|strap)", "elbow brace", "orthosis", "equipment"),
    (
        r"ankle (?:brace|support)|\bafos?\b|ankle[- ]foot orthos[ie]s",
        "ankle brace",
        "orthosis",
        "equipment",
    ),
    (r"shoulder (?:brace|immobili\w*)", "shoulder brace", "orthosis", "equipment"),
    (
        r"orthotics?|insoles?|shoe inserts?|arch supports?|heel (?:cups?|lifts?)|"
        r"(?:orthopedic|diabetic|custom|extra-depth) shoes",
        "orthotics",
        "orthosis",
        "equipment",
    ),
    (
        r"(?:walking|cam|fracture|walker) boot|\bcam walker",
        "walking boot",
        "orthosis",
        "equipment",
    ),
    (
        r"abdominal binder|\bbinder\b|rib belt|(?:si|sacroiliac|trochanteric|support) belt",
        "support belt",
        "orthosis",
        "equipment",
    ),
    (r"\bcast(?:s|ing)?\b", "cast", "orthosis", "equipment"),
    (
        r"prosthe\w*|\bsocket\b|\bstump\b|residual limb",
        "prosthesis",
        "prosthesis",
        "equipment",
    ),
    (r"splints?", "splint", "orthosis", "equipment"),
    (r"braces?\b|orthos[ie]s", "brace", "orthosis", "equipment"),
    (r"\bwraps?\b", "wrap", "durable medical equipment", "equipment"),
    # ergonomic equipment and supplies
    (
        r"sit[- /]?(?:to[- ])?stand|stand(?:ing|-up)? (?:desk|workstation)|"
        r"(?:adjustable|height) (?:desk|workstation)",
        "sit-stand workstation",
        "ergonomic equipment",
        "equipment",
    ),
    (
        r"ergonomic\w*|work ?stations?|\bdesks?\b|keyboard|\bmouse\b|office chair|headsets?|"
        r"foot ?rests?|document holder|monitor (?:arm|stand)|dragon|software|"
        r"(?:voice|speech) (?:recognition|activated)|"
        r"\bcomputers?\b|\blaptop\b|\bipad\b",
        "ergonomic equipment",
        "ergonomic equipment",
        "equipment",
    ),
    (
        r"\bgloves?\b|\bwipes?\b|dressings?\b|\bgauze\b|bandag\w*|\btape\b|catheter\w*|"
        r"syringes?|\bneedles\b|\bostomy|incontinen\w*|diapers?|\bunderpads?|\bchux\b|"
        r"lancets?|test strips?|\bsupplies\b|\bbatteries\b|steri-?strips?",
        "medical supplies",
        "medical supplies",
        "equipment",
    ),
    (r"wound care(?! (?:suppl|kit|product|dressing))", "wound care", "home health", "other"),
    # other
    (
        r"\bexam(?:ination)?s?\b|history and physical|\bh\s?&\s?p\b",
        "examination",
        "evaluation",
        "other",
    ),
    (
        r"inpatient|hospital(?:ization)? stay|length of stay|\bovernight\b|\bnights?\b|"
        r"\bobservation\b|hospital admission",
        "inpatient stay",
        "inpatient care",
        "other",
    ),
)
_SPECIFIC = _Rules(*_SPECIFIC_ROWS)
# The same rows matching only at the end of a phrase, where its head noun stands.
_SPECIFIC_AT_END = _Rules(*((f"(?:{p})$", *rest) for p, *rest in _SPECIFIC_ROWS))
# The rows for one kind of item, searched when the request's head noun names that kind.
_TEST_CLASSES = frozenset({"electrodiagnostic testing", "diagnostic testing", "laboratory testing"})
_DIAGNOSTIC = _Rules(*(r for r in _SPECIFIC_ROWS if r[3] == "imaging" or r[2] in _TEST_CLASSES))
_INJECTIONS = _Rules(*(r for r in _SPECIFIC_ROWS if r[2] == "injection"))
_EQUIPMENT = _Rules(*(r for r in _SPECIFIC_ROWS if r[3] == "equipment"))

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
    (
        r"\binject\w*|\bshots?\b|\bim\b|intramuscular",
        _injection_name("injection"),
        "injection",
        "procedure",
    ),
    (r"\binfusions?\b|\biv\b|intravenous", _injection_name("infusion"), "injection", "procedure"),
    (r"\bblocks?\b", "nerve block", "injection", "procedure"),
    (r"\brehab\w*", "rehabilitation", "physical medicine", "therapy"),
    (
        r"\btest(?:s|ing)?\b|\bscreen\w*|\bstudy\b",
        "diagnostic testing",
        "diagnostic testing",
        "procedure",
    ),
    (r"\bimaging\b|\bscans?\b", "diagnostic imaging", "diagnostic imaging", "imaging"),
    (r"\bpsych\w*", "psychological treatment", "psychological services", "therapy"),
    (r"\bprogram\b", "treatment program", "rehabilitation program", "therapy"),
    (
        r"\btherap(?:y|ies)\b|\bimagery\b|\bedema\b|desensiti\w*|\btraining\b",
        "therapy",
        "physical medicine",
        "therapy",
    ),
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
    (re.compile(r"medical foods?"), "medical food"),
    (
        re.compile(
            r"supplements?\b|\bherbs?\b|herbal|vitamins?|fish oil|omega|turmeric|probiotic|"
            r"\bcoq10\b|coenzyme"
        ),
        "dietary supplement",
    ),
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
    by_head = _by_head_noun(text)
    if by_head:
        return by_head

    # The treatment mentioned first wins: requests name the disputed item first and add context
    # after ("Shoulder sling with abduction pillow", "Valium 5mg prior to MRI").
    drugs = _drugs(text)
    med_at = None
    if drugs and not _ADMINISTERED.search(text):
        med_at = 0 if _leads(text, drugs[0][1]) else drugs[0][1]
    specific = _head_noun_first(text, _SPECIFIC.first_mentioned(text))
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
    product = _unnamed_topical(text)
    if product:
        return product
    for pattern, cls in _MED_CLASS_WORDS:
        if pattern.search(text):
            return None, cls, "medication"
    if re.search(r"\b(?:unit|device|machine|purchase|rental|dme|equipment|supplies)\b", text):
        return None, "durable medical equipment", "equipment"
    return None, None, "other"


# The first phrase of a request names the item, and its last word says what kind of item it is:
# "Trigger point impedance imaging" is imaging and "Trigger finger injection" an injection,
# whatever words come before.
_PHRASE_END = re.compile(
    r"\s(?:for|of|to|on|in|at|with|without|and|x|times|per|prior|after|before|following|"
    r"under|including|due|via|from|as|post|status|during|while|until|pending|s/p|over)\b|"
    r"[,;:(#]|\s\d"
)
_DIAGNOSTIC_HEAD = re.compile(
    r"(?:imaging|scans?|stud(?:y|ies)|tests?|testing|screens?|screening|panels?|\blabs?|"
    r"analys[ie]s|work-?up|blood ?work)$"
)
_INJECTION_HEAD = re.compile(r"(?:injections?|\bshots?|\bblocks?)$")
_DEVICE_HEAD = re.compile(r"\b(?:units?|devices?|machines?|stimulators?|lamps?)$")


def _head_phrase(text: str) -> str:
    return _PHRASE_END.split(text, maxsplit=1)[0].strip()


def _head_noun_first(text: str, first: tuple[int, tuple] | None) -> tuple[int, tuple] | None:
    """Prefer the treatment the head noun names to a different kind named by a modifier before it.

    "Wheelchair cushion" is a cushion and "Cervical medial branch radiofrequency neurotomy" an
    ablation; "Arthroscopy RCR" stays an arthroscopy, both being surgery.
    """
    if first is None:
        return None
    head = _SPECIFIC_AT_END.first_mentioned(_head_phrase(text), text)
    if head and head[0] > first[0] and head[1][1] != first[1][1]:
        return head
    return first


def _by_head_noun(text: str) -> tuple[str | None, str | None, str] | None:
    phrase = _head_phrase(text)
    if _DIAGNOSTIC_HEAD.search(phrase):
        hit = _DIAGNOSTIC.first_mentioned(phrase)
        if hit:
            return hit[1]
        if re.search(r"(?:imaging|scans?)$", phrase):
            return "diagnostic imaging", "diagnostic imaging", "imaging"
        if re.search(r"(?:\blabs?|panels?|blood ?work)$", phrase):
            return "laboratory tests", "laboratory testing", "procedure"
        return "diagnostic testing", "diagnostic testing", "procedure"
    if _INJECTION_HEAD.search(phrase):
        hit = _INJECTIONS.first_mentioned(phrase, text) or _GENERIC.first_mentioned(phrase, text)
        if hit and hit[1][1] == "injection":
            return hit[1]
    if _DEVICE_HEAD.search(phrase):
        hit = _EQUIPMENT.first_mentioned(phrase)
        if hit:
            return hit[1]
        hit = _SPECIFIC.first_mentioned(phrase)
        # "Therapeutic ultrasound unit", "Paraffin bath unit": the device for a therapy.
        if hit and hit[1][2] in ("therapy", "imaging"):
            return f"{hit[1][0]} unit", "durable medical equipment", "equipment"
    return None


# Products the drug library does not know, named with a topical form: "Ketophene cream",
# "Salonpas patches", "Anecream 120gm". A coined name built on a drug's stem (keto-, cyclo-,
# flurbi-, lido-, gaba-) or ending like the compounding pharmacies' brands (-phene, -cream,
# -derm, -cin) is a pharmacy compound; any other brand is a topical analgesic (Bengay, Salonpas).
_FORM_WORD = re.compile(
    r"\b(?:creams?|gels?|ointments?|lotions?|patch(?:es)?|sprays?|roll-on|liniment|balm|rub|"
    r"topical|transdermal|compound(?:ed)?)\b|\b[a-z]{3,}(?:cream|derm|gesic|balm)\b"
)
_COINED_ENDING = re.compile(r"(?:phene|cream|derm|gesic|cin|lido|thol|therm)$")
_PRODUCT_SKIP = re.compile(
    r"[\d.]+\S*|[^a-z\s-]|\b(?:mg|mcg|gm?|grams?|ml|oz|units?|tubes?|bottles?|jars?|boxes?|kits?|"
    r"supply|day|days|qty|quantity|refills?|of|the|a|an|and|for|with|in|base|unknown|"
    r"unspecified|other|retro\w*)\b"
)


_PLAIN_FORM = re.compile(
    r"creams?|gels?|ointments?|lotions?|patch(?:es)?|sprays?|roll-on|liniment|balm|rub|topical|"
    r"transdermal|compound(?:ed)?|analgesic|pain|relie\w*|relieving"
)
_COMPOUND_CLASSES = frozenset(
    {"nsaid", "muscle relaxant", "anticonvulsant", "antidepressant", "local anesthetic"}
    | {"topical analgesic", "opioid"}
)


@cache
def _compound_stems() -> frozenset[str]:
    """The first four letters of the generics compounding pharmacies put in creams."""
    return frozenset(
        g[:4]
        for g, cls in _CLASS_BY_GENERIC.items()
        if cls in _COMPOUND_CLASSES and "/" not in g and " " not in g
    )


def _unnamed_topical(text: str) -> tuple[str | None, str, str] | None:
    form = _FORM_WORD.search(text)
    if not form:
        return None
    # The product's name is the words before the form word: "icy hot patch" -> "icy hot".
    words = [
        w
        for w in _PRODUCT_SKIP.sub(" ", text[: form.end()]).split()
        if not _PLAIN_FORM.fullmatch(w)
    ]
    coined = any(_COINED_ENDING.search(w) or w[:4] in _compound_stems() for w in words)
    compounded = coined or _COMPOUNDED.search(text)
    cls = "compounded topical" if compounded else "topical analgesic"
    return " ".join(words[-2:]) or None, cls, "medication"


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


_Drug = tuple[str, int, bool, int]


def _drugs(text: str) -> list[_Drug]:
    """(generic, start, library says topical, end) for each drug named, in text order."""
    found: dict[str, _Drug] = {}
    for pattern, generic in _SUPPLEMENT_PHRASES:
        m = pattern.search(text)
        if m:
            found.setdefault(generic, (generic, m.start(), False, m.end()))
            # Blank it out so the library does not also read "tylenol" as plain acetaminophen.
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    tokens, offsets = [], []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        if word in _SUPPLEMENT:
            generic = _SUPPLEMENT[word]
            found.setdefault(generic, (generic, m.start(), False, m.end()))
        elif len(word) >= 4 and word not in _NOT_DRUG_TOKENS:
            tokens.append(word)
            offsets.append(m.start())
        else:
            # Keep token positions honest so two-word variants are not glued across a gap.
            tokens.append("|")
            offsets.append(m.start())
    if any(t != "|" for t in tokens):
        for data, start, end in _find_drugs()(tokens, is_include_structure=False):
            if not _is_drug_record(data):
                continue
            generic, topical = _generic_name(data.get("name", ""))
            if generic:
                stop = offsets[end - 1] + len(tokens[end - 1])
                found.setdefault(generic, (generic, offsets[start], topical, stop))
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


def _medication(text: str, drugs: list[_Drug]) -> tuple[str, str | None, str]:
    names = [d[0] for d in drugs]
    topical = (any(d[2] for d in drugs) or bool(_TOPICAL.search(text))) and "nasal" not in text
    # Ingredients listed after a product name ("Terocin (lidocaine, menthol)") repeat it.
    ingredients = list(dict.fromkeys(part for n in names for part in n.split("/")))
    if set(ingredients) == set(names[0].split("/")):
        names = names[:1]
    if len(names) >= 2 and frozenset(names[:2]) in _COMBINATIONS:
        name = _COMBINATIONS[frozenset(names[:2])]
    elif len(names) >= 2 and topical:
        return "/".join(ingredients), "compounded topical", "medication"
    elif len(names) >= 2 and _SAME_PRODUCT_GAP.fullmatch(text[drugs[0][3] : drugs[1][1]]):
        # One product of several ingredients ("acetaminophen/caffeine/dihydrocodeine").
        joined = [drugs[0]]
        for before, after in zip(drugs, drugs[1:], strict=False):
            if not _SAME_PRODUCT_GAP.fullmatch(text[before[3] : after[1]]):
                break
            joined.append(after)
        name = "/".join(dict.fromkeys(p for d in joined for p in d[0].split("/")))
    else:
        name = names[0]
        if name in _APAP_PARTNERS and _APAP_STRENGTH.search(text):
            name = f"{name}/acetaminophen"
    cls = _product_class(name)
    if topical:
        cls = _topical_class(text, cls)
    return name, cls, "medication"


def _product_class(name: str) -> str | None:
    """The class of a generic or of a product of several: any opioid in it makes it an opioid."""
    if name in _CLASS_BY_GENERIC:
        return _CLASS_BY_GENERIC[name]
    classes = [_CLASS_BY_GENERIC.get(part) for part in name.split("/")]
    if "opioid" in classes:
        return "opioid"
    return next((c for c in classes if c), None)


def _topical_class(text: str, cls: str | None) -> str:
    """The class of one drug in a topical form ("Ketoprofen 20% cream", "Fentanyl patch")."""
    if _COMPOUNDED.search(text):
        return "compounded topical"
    if cls in _TOPICAL_CAN_BE:
        return "topical analgesic"
    if cls in _TOPICAL_KEEPS or (cls and _TRANSDERMAL.search(text)):
        return cls
    return "compounded topical"


def drug_classes() -> dict[str, str]:
    """Return generic name -> drug class for every medication this module knows."""
    return dict(_CLASS_BY_GENERIC)


def supplementary_brands() -> dict[str, str]:
    """Return brand -> generic for the products the drug-name library misses."""
    return {brand: generic for brand, generic in _SUPPLEMENT.items() if brand != generic}


# Dosage forms the library keeps as records of their own ("Lidocaine Patch": Lidoderm, ZTlido;
# "Diclofenac Patch": Flector); their brands are brands of the generic.
_LIBRARY_FORMS = ("patch", "gel", "cream", "ointment", "topical", "transdermal", "injection")


def library_brand_names(generic: str) -> list[str]:
    """Return the other names the drug-name library knows for a generic (brands, spellings),
    including those of its dosage-form records ("Lidocaine Patch" -> lidoderm)."""
    names: list[str] = []
    for query in ([generic], *([*generic.split(), form] for form in _LIBRARY_FORMS)):
        for data, *_ in _find_drugs()(query, is_include_structure=False):
            if _is_drug_record(data) and _generic_name(data.get("name", ""))[0] == generic:
                names += data.get("synonyms", [])
    return [s for s in dict.fromkeys(names) if s != generic]


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
    "dietary supplement": "supplement supplements vitamin vitamins nutritional herbal",
    "anticoagulant": "anticoagulants blood thinner thinners clot dvt",
    "antibiotic": "antibiotics antibacterial infection",
    "hormone": "hormones hormonal thyroid",
    "antihypertensive": "blood pressure hypertension antihypertensives",
    "antidiabetic": "diabetes diabetic blood sugar",
    "smoking cessation": "smoking quit tobacco",
    "gastrointestinal agent": "stomach gastrointestinal ulcer antispasmodic",
    "diagnostic imaging": "imaging scan thermography",
    "surgical assistance": "assistant surgeon co-surgeon anesthesia",
    "dental care": "dental dentist teeth tooth dentures",
    "partial hospitalization": "partial hospitalization day program intensive outpatient",
    "mobility aid": "walker walkers cane canes crutches wheelchair scooter mobility",
    "prosthesis": "prosthetic prosthetics artificial limb amputee",
    "medical supplies": "supplies gloves wipes dressings bandages gauze",
    "ergonomic equipment": "ergonomic ergonomics workstation standing desk keyboard",
}


def class_terms(treatment_class: str | None) -> str:
    """Return the everyday words for a treatment class ("opioid" -> "narcotic painkiller ...")."""
    return CLASS_TERMS.get(treatment_class or "", "")
