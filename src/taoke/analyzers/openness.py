"""Openness of a release: European Open Source AI Index dimensions and Model Openness Framework classes.

WHY two frameworks: the Index (Liesenfeld & Dingemanse, FAccT '24, doi:10.1145/3630106.3659005) rates
12 dimensions open / partial / closed and is where "open-washing" was named; the Model Openness
Framework (White et al., arXiv 2403.13784) turns 17 components and their licences into cumulative
classes III (open model) ⊂ II (open tooling) ⊂ I (open science). Both are computed from one
:class:`Inventory` of what the release actually contains or links, so every rating cites the file or
link that produced it.

The MOF class computation is a port of the Model Openness Tool's ``ModelEvaluator::evaluate`` and
``getProgress`` (lfai/model_openness_tool, web/modules/mof/src/ModelEvaluator.php), including its
quirks (PHP ``array_search`` returning index 0 reads as "not found"); it reproduces the tool's
golden ``Test_Data/expected_results.json`` exactly (tests/test_openness.py). Data and sources:
``taoke/data/openness/mof.json`` and ``osai.json``.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from taoke.errors import CorruptFile, SourceNotFound
from taoke.evidence import Evidence


class Decidability(str, enum.Enum):
    """Where the answer to an openness dimension lives.

    RELEASE: in the release's own files (weights, licence texts, code, model card, data cards, config),
    so taoke decides it. EXTERNAL: outside the release (a paper, a training-data release, a training
    repository, hardware reports): taoke says "needs external evidence" unless the user supplies it
    (``taoke audit --evidence FILE``) instead of guessing from the card's wording."""

    RELEASE = "release"
    EXTERNAL = "external"


# European Open Source AI Index dimensions (osai.json ids). Weights: the Index's criterion is whether
# they are shared (gated = partial), which the release shows; licences: the licence texts it ships;
# model card and datasheet: files of the release. Data sources, training code and its documentation,
# hardware, preprint and paper live outside it.
DIMENSION_DECIDABILITY: dict[str, Decidability] = {
    "datasources_basemodel": Decidability.EXTERNAL,
    "datasources_endmodel": Decidability.EXTERNAL,
    "weights_basemodel": Decidability.RELEASE,
    "weights_endmodel": Decidability.RELEASE,
    "trainingcode": Decidability.EXTERNAL,
    "code": Decidability.EXTERNAL,
    "hardware_architecture": Decidability.EXTERNAL,
    "preprint": Decidability.EXTERNAL,
    "paper": Decidability.EXTERNAL,
    "modelcard": Decidability.RELEASE,
    "datasheet": Decidability.RELEASE,
    "licenses": Decidability.RELEASE,
}

# Model Openness Framework components (mof.json names), same split.
MOF_DECIDABILITY: dict[str, Decidability] = {
    "Model architecture": Decidability.RELEASE,
    "Model parameters (Final)": Decidability.RELEASE,
    "Model card": Decidability.RELEASE,
    "Data card": Decidability.RELEASE,
    "Model metadata": Decidability.RELEASE,
    "Inference code": Decidability.RELEASE,
    "Evaluation results": Decidability.RELEASE,
    "Sample model outputs": Decidability.RELEASE,
    "Technical report": Decidability.EXTERNAL,
    "Research paper": Decidability.EXTERNAL,
    "Training code": Decidability.EXTERNAL,
    "Evaluation code": Decidability.EXTERNAL,
    "Evaluation data": Decidability.EXTERNAL,
    "Supporting libraries and tools": Decidability.EXTERNAL,
    "Datasets": Decidability.EXTERNAL,
    "Data preprocessing code": Decidability.EXTERNAL,
    "Model parameters (Intermediate)": Decidability.EXTERNAL,
}

NEEDS_EVIDENCE = "needs external evidence"


@dataclass
class UserEvidence:
    """One statement the user supplies for an EXTERNAL dimension: the class it supports, and why."""

    dimension: str
    klass: str  # open | partial | closed
    link: str = ""
    statement: str = ""


def load_evidence(path: Path) -> dict[str, UserEvidence]:
    """Read ``--evidence FILE`` (JSON or YAML): ``{dimension: {class, link, statement}}``, optionally
    under a top-level ``dimensions`` key. Bad input raises one error naming the file (exit 2)."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SourceNotFound("evidence file not found", path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFile(f"evidence file cannot be read ({exc})", path) from exc
    try:
        doc = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise CorruptFile(f"evidence file is not JSON or YAML ({str(exc).splitlines()[0]})", path) from exc
    if isinstance(doc, dict) and isinstance(doc.get("dimensions"), dict):
        doc = doc["dimensions"]
    if not isinstance(doc, dict):
        raise CorruptFile("evidence file must map dimension ids to {class, link, statement}", path)
    out: dict[str, UserEvidence] = {}
    for dim, v in doc.items():
        if dim not in DIMENSION_DECIDABILITY:
            known = ", ".join(DIMENSION_DECIDABILITY)
            raise CorruptFile(f"evidence file names an unknown dimension {dim!r} (known: {known})", path)
        if not isinstance(v, dict) or str(v.get("class", "")).strip() not in ("open", "partial", "closed"):
            raise CorruptFile(f"evidence for {dim!r} needs class: open, partial or closed", path)
        link = v.get("link") or ""
        out[dim] = UserEvidence(
            dim,
            str(v["class"]).strip(),
            ", ".join(map(str, link)) if isinstance(link, list) else str(link),
            str(v.get("statement") or v.get("notes") or ""),
        )
    return out


@lru_cache(maxsize=1)
def mof_data() -> dict[str, Any]:
    return json.loads(
        (resources.files("taoke") / "data" / "openness" / "mof.json").read_text(encoding="utf-8")
    )


@lru_cache(maxsize=1)
def osai_data() -> dict[str, Any]:
    return json.loads(
        (resources.files("taoke") / "data" / "openness" / "osai.json").read_text(encoding="utf-8")
    )


# --------------------------------------------------------------------------- MOF


def _components() -> list[dict[str, Any]]:
    return mof_data()["components"]


def _required(cls: int) -> list[int]:
    return [c["id"] for c in _components() if c["class"] == cls and c["required"]]


def _optional(cls: int) -> list[int]:
    return [c["id"] for c in _components() if c["class"] == cls and not c["required"]]


def is_open_licence(lic: str) -> bool:
    """MOT's isOpenSourceLicense: FSF-libre, OSI-approved or an open-data licence."""
    d = mof_data()
    return (
        lic in d["osi_approved"]
        or lic in d["fsf_libre"]
        or any(re.match(p, lic) for p in d["open_data_patterns"])
    )


def is_type_appropriate(lic: str, content_type: str) -> bool:
    return lic in mof_data()["type_appropriate"].get(content_type, [])


def _php_search(value: int, arr: list[int]) -> int | bool:
    """PHP array_search: the index, or False. Index 0 is falsy in PHP's ``!`` tests; callers keep that."""
    return arr.index(value) if value in arr else False


@dataclass
class MofResult:
    klass: int
    label: str
    progress: dict[str, float]
    evaluation: dict[int, dict[str, list[int]]]
    licences: dict[int, str]
    not_type_appropriate: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        names = {c["id"]: c["name"] for c in _components()}
        return {
            "class": self.klass,
            "label": self.label,
            "progress": self.progress,
            "evaluation": {
                str(k): {kk: [names[i] for i in vv] for kk, vv in v.items()}
                for k, v in self.evaluation.items()
            },
            "licences": {names[k]: v for k, v in self.licences.items()},
            "not_type_appropriate": [names[i] for i in self.not_type_appropriate],
        }


def mof_evaluate(model: dict[str, Any]) -> MofResult:
    """Classify a MOF model document (the ``models/*.yml`` schema) like the Model Openness Tool."""
    release = model.get("release") or {}
    by_name = {c["name"]: c for c in _components()}
    by_id = {c["id"]: c for c in _components()}
    comps: dict[int, dict[str, Any]] = {}
    for c in release.get("components") or []:
        meta = by_name.get(str(c.get("name", "")).strip())
        if meta is not None:
            comps[meta["id"]] = c
    glob = release.get("license") or {}
    if not isinstance(glob, dict):
        glob = {}

    def resolve(cid: int) -> str | None:
        comp = comps[cid]
        if comp.get("license") is not None:
            return str(comp["license"]) or None
        ctype = by_id[cid]["content_type"]
        for key in (ctype, "distribution"):
            entry = glob.get(key) or {}
            if isinstance(entry, dict) and entry.get("name"):
                return str(entry["name"])
        return None

    ev: dict[int, dict[str, list[int]]] = {}
    lic_all: dict[int, str] = {}
    nta: list[int] = []
    req: list[int] = []
    opt: list[int] = []
    for cls in (3, 2, 1):
        e: dict[str, list[int]] = {
            "missing": [],
            "included": [],
            "invalid": [],
            "unlicensed": [],
            "optional": [],
        }
        req = req + _required(cls)
        opt = opt + _optional(cls)
        for cid, bucket_if_open in [(c, "included") for c in req] + [(c, "optional") for c in opt]:
            if cid not in comps:
                if bucket_if_open == "included":
                    e["missing"].append(cid)
                continue
            lic = resolve(cid) or "unlicensed"
            if is_open_licence(lic):
                e[bucket_if_open].append(cid)
                if not is_type_appropriate(lic, by_id[cid]["content_type"]) and cid not in nta:
                    nta.append(cid)
            elif lic == "unlicensed":
                e["unlicensed"].append(cid)
            else:
                e["invalid"].append(cid)
            lic_all[cid] = lic
        ev[cls] = e
    # The technical report (11) may be omitted when the research paper (21) is provided.
    if not _php_search(11, ev[3]["included"]):
        status: str | None = None
        for st in ("included", "invalid", "unlicensed"):
            if _php_search(21, ev[1][st]) is not False:
                status = st
                break
        if status is not None:
            for cls in (3, 2, 1):
                if 11 in ev[cls]["missing"]:
                    ev[cls]["missing"].remove(11)
            ev[3][status].append(21)
            ev[2][status].append(21)
    progress = {str(c): _progress(ev, c) for c in (1, 2, 3)}
    klass = 0
    for c in (3, 2, 1):
        if progress[str(c)] == 100.0:
            klass = c
    return MofResult(klass, mof_data()["labels"][str(klass)], progress, ev, lic_all, nta)


def _progress(ev: dict[int, dict[str, list[int]]], cls: int) -> float:
    total = 0
    included = 0
    i = 3
    while i >= cls:
        total += len(_required(i))
        included = len(ev[i]["included"])
        if included < total:
            break
        i -= 1
    if i > cls:
        return 0
    if cls == 1 and not _php_search(11, ev[1]["included"]) and _php_search(21, ev[1]["included"]):
        total -= 1
    p = included / total * 100
    return 100 if p > 100 else p


# --------------------------------------------------------------------------- inventory


@dataclass
class Item:
    """One thing the release has: where it was seen and under which licence (SPDX id or name)."""

    present: bool
    where: str = ""
    licence: str | None = None
    level: str = "none"  # none | partial | full

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


COMPONENT_KEYS = {
    "architecture": "Model architecture",
    "weights": "Model parameters (Final)",
    "tech_report": "Technical report",
    "eval_results": "Evaluation results",
    "model_card": "Model card",
    "data_card": "Data card",
    "sample_outputs": "Sample model outputs",
    "training_code": "Training code",
    "inference_code": "Inference code",
    "eval_code": "Evaluation code",
    "eval_data": "Evaluation data",
    "libraries": "Supporting libraries and tools",
    "datasets": "Datasets",
    "preprocessing_code": "Data preprocessing code",
    "intermediate": "Model parameters (Intermediate)",
    "paper": "Research paper",
    "metadata": "Model metadata",
}


@dataclass
class Inventory:
    """What the release contains or links, keyed like MOF components (see COMPONENT_KEYS), plus
    ``preprint`` (an arXiv-style archived preprint), ``hardware`` (training hardware documented) and
    ``base_weights`` (the base model's weights are available)."""

    items: dict[str, Item] = field(default_factory=dict)
    release_licence: str | None = None  # SPDX id when open, else the licence name
    release_licence_open: bool = False
    source: str = "release"

    def has(self, key: str) -> bool:
        return key in self.items and self.items[key].present

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": {k: v.to_dict() for k, v in self.items.items()},
            "release_licence": self.release_licence,
            "release_licence_open": self.release_licence_open,
            "source": self.source,
        }

    def to_mof(self, name: str) -> dict[str, Any]:
        comps = []
        for key, cname in COMPONENT_KEYS.items():
            it = self.items.get(key)
            if it and it.present:
                c: dict[str, Any] = {"name": cname}
                if it.licence:
                    c["license"] = it.licence
                comps.append(c)
        lic = {"distribution": {"name": self.release_licence}} if self.release_licence else {}
        return {"release": {"name": name, "license": lic, "components": comps}}


_ARXIV = re.compile(r"arxiv\.org/(abs|pdf)/\d{4}\.\d{4,5}|huggingface\.co/papers/\d{4}\.\d{4,5}", re.I)
_PEER = re.compile(
    r"aclanthology\.org|openreview\.net|proceedings\.(mlr|neurips)|papers\.nips\.cc|"
    r"dl\.acm\.org|doi\.org/10\.",
    re.I,
)
_GITHUB = re.compile(r"https?://github\.com/[\w.-]+/[\w.-]+", re.I)
_HARDWARE = re.compile(r"\b(A100|H100|H800|H200|V100|TPU ?v\d|GPU hours|GPU-hours|Ascend 910)\b", re.I)
_BENCH = re.compile(
    r"\b(MMLU|C-Eval|CMMLU|GSM8K|HumanEval|HellaSwag|ARC|BBH|TruthfulQA|MATH|"
    r"Winogrande|GPQA|AGIEval|MBPP)\b"
)


def inventory_from_release(
    files: list[str],
    card_meta: dict[str, Any],
    card_text: str,
    licence_id: str | None,
    licence_spdx: str | None,
    code_header_licences: dict[str, str | None],
) -> Inventory:
    """Inventory from a release folder: its relative file names, card front matter and text, the
    identified licence (taoke id and SPDX id when it has one) and the licence of each .py header."""
    inv = Inventory(
        release_licence=licence_spdx or licence_id,
        release_licence_open=bool(licence_spdx and is_open_licence(licence_spdx)),
    )
    lic = licence_spdx or licence_id
    names = [f.lower() for f in files]

    def first(pred: Any) -> str | None:
        return next((f for f, n in zip(files, names, strict=True) if pred(n)), None)

    weights = first(
        lambda n: n.endswith((".safetensors", ".gguf", ".bin", ".pt", ".pth")) and "training_args" not in n
    )
    if weights:
        gated = isinstance(card_meta, dict) and any(str(k).startswith("extra_gated") for k in card_meta)
        inv.items["weights"] = Item(True, weights, lic, "partial" if gated else "full")
    py = [f for f in files if f.endswith(".py")]
    modeling = [f for f in py if re.search(r"modeling|model\.py|modelling", f.lower())]
    if modeling:
        inv.items["architecture"] = Item(
            True, modeling[0], code_header_licences.get(modeling[0]) or lic, "full"
        )
    elif first(lambda n: n.endswith("config.json")):
        inv.items["architecture"] = Item(
            False, first(lambda n: n.endswith("config.json")) or "", None, "partial"
        )
    train = [f for f in py if re.search(r"train|finetune|sft|pretrain", f.lower())]
    repos = _GITHUB.findall(card_text)
    if train:
        inv.items["training_code"] = Item(True, train[0], code_header_licences.get(train[0]) or lic, "full")
    elif re.search(r"training code|train(ing)? script|github\.com/\S*train", card_text, re.I) and repos:
        inv.items["training_code"] = Item(True, repos[0], None, "partial")
    infer = [f for f in py if re.search(r"infer|generat|chat|demo|predict", f.lower())]
    if infer:
        inv.items["inference_code"] = Item(True, infer[0], code_header_licences.get(infer[0]) or lic, "full")
    elif re.search(r"```(python|py)?[\s\S]*?\.generate\(", card_text):
        inv.items["inference_code"] = Item(True, "model card usage snippet", lic, "partial")
    evalc = [f for f in py if re.search(r"eval", f.lower())]
    if evalc:
        inv.items["eval_code"] = Item(True, evalc[0], code_header_licences.get(evalc[0]) or lic, "full")
    datasets = card_meta.get("datasets") if isinstance(card_meta, dict) else None
    if datasets:
        ds = datasets if isinstance(datasets, list) else [datasets]
        inv.items["datasets"] = Item(True, "card datasets: " + ", ".join(map(str, ds[:5])), None, "partial")
    datasheet = first(lambda n: re.search(r"datasheet|data_card|datacard|data-card", n) is not None)
    if datasheet:
        inv.items["data_card"] = Item(True, datasheet, lic, "full")
    elif re.search(r"^#+\s*(training data|dataset|data)\b", card_text, re.I | re.M):
        inv.items["data_card"] = Item(True, "model card 'training data' section", lic, "partial")
    readme = first(lambda n: n.rsplit("/", 1)[-1] in ("readme.md", "model_card.md", "modelcard.md"))
    if readme or card_text.strip():
        covered = sum(
            bool(re.search(p, card_text, re.I))
            for p in (
                r"architecture|layers|hidden size",
                r"training|trained on",
                r"evaluat|benchmark",
                r"limitation|bias|intended use",
            )
        )
        inv.items["model_card"] = Item(
            bool(card_text.strip()), readme or "model card", lic, "full" if covered >= 3 else "partial"
        )
    if _BENCH.search(card_text) or (isinstance(card_meta, dict) and card_meta.get("model-index")):
        inv.items["eval_results"] = Item(True, "model card (benchmark results)", lic, "full")
    m = _ARXIV.search(card_text)
    if m:
        inv.items["preprint"] = Item(True, m.group(0), None, "full")
        inv.items["tech_report"] = Item(True, m.group(0), None, "full")
    m = _PEER.search(card_text)
    if m:
        inv.items["paper"] = Item(True, m.group(0), None, "full")
    m = _HARDWARE.search(card_text)
    if m:
        inv.items["hardware"] = Item(True, f"model card mentions {m.group(0)}", None, "partial")
    if re.search(r"intermediate checkpoints?|revision=.?step\d+", card_text, re.I):
        inv.items["intermediate"] = Item(True, "model card mentions intermediate checkpoints", lic, "full")
    meta = first(lambda n: n.endswith(("config.json", "generation_config.json")))
    if meta:
        inv.items["metadata"] = Item(True, meta, lic, "full")
    return inv


# A MOF record sometimes lists a component only to say it was not released ("Undisclosed",
# "Component not include."): such an entry is an absence, not a component, for every component. The
# weights are no exception: the Index's "🟥 Weights of the user-facing end model are not shared" is what
# such a record states (the earlier reading, weights "Undisclosed" = weights shared under an unknown
# licence, rated EXAONE's and StarCoder's records "open" although both say the weights are withheld).
_NOT_RELEASED = re.compile(r"undisclosed|not includ", re.I)

# OSI-approved licences that MOF records name in free text rather than by SPDX id ("Apache 2.0",
# "Apache license 2.0", "MIT license"). The Index's licences criterion is about the licence, not its
# spelling ("🟩 The project is fully covered by open licenses"; its notes read "Apache 2.0" and
# "Apache-2.0, an OSI-approved license" alike), so they are read as the SPDX id. Whole-string matches
# only: "commercial use restrictions; Apache 2.0, <custom licence>" stays what it is.
_FREE_TEXT_OSI = (
    (re.compile(r"^\s*apache(\s+licen[cs]e)?,?\s*(v(ersion)?\s*)?2(\.0)?\s*$", re.I), "Apache-2.0"),
    (re.compile(r"^\s*(the\s+)?mit(\s+licen[cs]e)?\s*$", re.I), "MIT"),
)


def _spdx_name(lic: str | None) -> str | None:
    """The SPDX id of a free-text name of an OSI-approved licence (see :data:`_FREE_TEXT_OSI`), else
    ``lic`` unchanged. Used for the Index ratings from a MOF record only: ``mof_evaluate`` keeps the
    Model Openness Tool's exact behaviour (its golden data treats only SPDX ids as open)."""
    for pat, spdx in _FREE_TEXT_OSI:
        if lic and pat.match(lic):
            return spdx
    return lic


# Licences whose weights are downloaded only after accepting terms or giving contact details on a
# form (the Index's "partial" for weights: "gated downloads"): the Llama and Gemma community terms and
# Stability AI's community licence gate every official download. Data the code reads, like the licence
# table; in a release folder the card's ``extra_gated_*`` fields say the same thing.
GATED_LICENCES = re.compile(
    r"llama[\s-]*\d?(\.\d)?[\s-]*(community|licen)|gemma|stability ai community", re.I
)


def inventory_from_mof(model: dict[str, Any]) -> Inventory:
    """Inventory from a MOF model document (used to measure agreement with the Index on real,
    independently collected inputs)."""
    res = mof_evaluate(model)
    by_name = {v: k for k, v in COMPONENT_KEYS.items()}
    names = {c["id"]: c["name"] for c in _components()}
    inv = Inventory(source="mof")
    for cid, lic in res.licences.items():
        key = by_name[names[cid]]
        lic = _spdx_name(lic)
        if _NOT_RELEASED.search(lic or ""):
            continue  # the record says the component is not released: for the weights too
        level = "partial" if key == "weights" and GATED_LICENCES.search(lic or "") else "full"
        inv.items[key] = Item(True, f"MOF component {names[cid]}", lic, level)
    # The Index's model card criterion asks for architecture, training, fine-tuning and evaluation;
    # a record that lists no training data cannot have a card documenting training: partial.
    if "model_card" in inv.items and "datasets" not in inv.items:
        inv.items["model_card"].level = "partial"
    # MOF's "Research paper" is usually an arXiv preprint: it counts as a peer-reviewed paper only when
    # its link is a venue; otherwise it is the Index's "preprint". A technical report alone is a partial one.
    inv.items.pop("paper", None)
    for c in (model.get("release") or {}).get("components") or []:
        if not isinstance(c, dict):
            continue
        path = str(c.get("component_path") or "")
        if c.get("name") == "Research paper":
            inv.items["preprint"] = Item(True, path or "MOF component Research paper", None, "full")
            if _PEER.search(path):
                inv.items["paper"] = Item(True, path, None, "full")
        if c.get("name") == "Technical report":
            inv.items.setdefault(
                "preprint", Item(True, path or "MOF component Technical report", None, "partial")
            )
    w = _spdx_name(res.licences.get(10))
    if not w or w == "unlicensed" or _NOT_RELEASED.search(w):
        # no licence stated for the weights: the licence the release ships for its code (the
        # architecture component's), which is the LICENSE file a repository holds
        arch = _spdx_name(
            res.licences.get(next(c["id"] for c in _components() if c["name"] == "Model architecture"))
        )
        w = arch if arch and arch != "unlicensed" and not _NOT_RELEASED.search(arch) else w
    inv.release_licence = w
    inv.release_licence_open = bool(w and is_open_licence(w))
    return inv


# --------------------------------------------------------------------------- Index dimensions


@dataclass
class Rating:
    dimension: str
    name: str
    group: str
    klass: str  # open | partial | closed | unknown (an EXTERNAL dimension without evidence)
    evidence: str
    basis: str = "release"  # release | user-evidence | needs-evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "name": self.name,
            "group": self.group,
            "class": self.klass,
            "evidence": self.evidence,
            "decidability": DIMENSION_DECIDABILITY[self.dimension].value,
            "basis": self.basis,
        }


def decide(ratings: list[Rating], evidence: dict[str, UserEvidence] | None = None) -> list[Rating]:
    """Keep the ratings of RELEASE dimensions; for EXTERNAL ones use the user's evidence, or say
    "needs external evidence" (class ``unknown``) rather than guess from the card's wording."""
    out = []
    for r in ratings:
        if DIMENSION_DECIDABILITY[r.dimension] is Decidability.RELEASE:
            out.append(r)
            continue
        ev = (evidence or {}).get(r.dimension)
        if ev is not None:
            why = "; ".join(x for x in (ev.link, ev.statement) if x) or "user-supplied"
            out.append(Rating(r.dimension, r.name, r.group, ev.klass, why, "user-evidence"))
        else:
            out.append(Rating(r.dimension, r.name, r.group, "unknown", NEEDS_EVIDENCE, "needs-evidence"))
    return out


def _lic_open(inv: Inventory, key: str) -> bool:
    it = inv.items.get(key)
    return bool(it and it.present and it.licence and is_open_licence(it.licence))


# How weights are rated: "shared" (the Index's written criterion: shared = open, gated = partial) or
# "licence" (the earlier rule: open only under an open licence). Chosen on half A of the Index systems
# (bench/openness_agreement.py), reported on half B.
WEIGHTS_RULE = "shared"


def rate_osai(inv: Inventory, weights_rule: str | None = None) -> list[Rating]:
    """Rate the 12 Index dimensions from the inventory; each rating says what it rests on. These are
    the inventory's best reading for every dimension; :func:`decide` then keeps only the RELEASE ones."""
    weights_rule = weights_rule or WEIGHTS_RULE
    out: list[Rating] = []
    meta = {d["id"]: d for d in osai_data()["dimensions"]}

    def add(dim: str, klass: str, why: str) -> None:
        out.append(Rating(dim, meta[dim]["name"], meta[dim]["group"], klass, why))

    ds = inv.items.get("datasets")
    if ds and ds.present:
        add(
            "datasources_basemodel",
            "open" if _lic_open(inv, "datasets") and inv.has("data_card") else "partial",
            ds.where,
        )
        add(
            "datasources_endmodel",
            "open" if _lic_open(inv, "datasets") and inv.has("data_card") else "partial",
            ds.where,
        )
    else:
        add("datasources_basemodel", "closed", "no training data sources shipped or listed")
        add("datasources_endmodel", "closed", "no fine-tuning data sources shipped or listed")
    w = inv.items.get("weights")
    if w and w.present:
        # the Index's criterion: weights shared = open, "partially/not fully shared, e.g. gated
        # downloads" = partial; their licence is rated under "licenses"
        if weights_rule == "licence":
            k = "open" if _lic_open(inv, "weights") else "partial"
        else:
            k = "partial" if w.level == "partial" else "open"
        why = f"{w.where} under {w.licence or 'no stated licence'}" + (
            ""
            if k == "open"
            else " (gated download: not freely shared)"
            if weights_rule != "licence"
            else " (not an open licence: restricted use)"
        )
        add("weights_basemodel", k, why)
        add("weights_endmodel", k, why)
    else:
        add("weights_basemodel", "closed", "no weights in the release")
        add("weights_endmodel", "closed", "no weights in the release")
    tc = inv.items.get("training_code")
    if tc and tc.present:
        full = tc.level == "full" and inv.has("preprocessing_code")
        add("trainingcode", "open" if full else "partial", tc.where)
        add("code", "open" if full and inv.has("libraries") else "partial", f"training code at {tc.where}")
    else:
        add("trainingcode", "closed", "no training or data-processing code shipped or linked")
        add("code", "closed", "no training code to document")
    hw = inv.items.get("hardware")
    add(
        "hardware_architecture",
        "partial" if (hw and hw.present) or inv.has("tech_report") else "closed",
        hw.where
        if hw and hw.present
        else ("technical report" if inv.has("tech_report") else "training hardware not documented"),
    )
    pp = inv.items.get("preprint")
    add(
        "preprint",
        "open"
        if pp and pp.present and pp.level == "full"
        else ("partial" if pp and pp.present else "closed"),
        pp.where if pp and pp.present else "no archived preprint linked",
    )
    pa = inv.items.get("paper")
    add(
        "paper",
        "partial" if pa and pa.present else "closed",
        pa.where if pa and pa.present else "no peer-reviewed paper linked",
    )
    mc = inv.items.get("model_card")
    add(
        "modelcard",
        ("open" if mc.level == "full" else "partial") if mc and mc.present else "closed",
        mc.where if mc and mc.present else "no model card",
    )
    dc = inv.items.get("data_card")
    add(
        "datasheet",
        ("open" if dc.level == "full" else "partial") if dc and dc.present else "closed",
        dc.where if dc and dc.present else "no datasheet / data card",
    )
    opened = [k for k in ("weights", "training_code", "datasets") if _lic_open(inv, k)]
    present = [k for k in ("weights", "training_code", "datasets") if inv.has(k)]
    if present and len(opened) == len(present) and len(present) >= 2:
        add("licenses", "open", f"{', '.join(present)} under open licences")
    elif len(opened) >= 1 and inv.release_licence_open:
        add(
            "licenses",
            "partial" if len(present) >= 2 else "open",
            f"open licence ({inv.release_licence}) for {', '.join(opened)}",
        )
    elif not opened and inv.release_licence_open:
        add("licenses", "open", f"the release's licence is {inv.release_licence}, an open licence")
    else:
        add(
            "licenses", "closed", f"release licence {inv.release_licence or 'unknown'} is not an open licence"
        )
    return out


def conclusion(ratings: list[Rating], mof: MofResult, inv: Inventory | None = None) -> tuple[str, str]:
    """(slug, plain words): 'open weights, not open source' and the like."""
    r = {x.dimension: x.klass for x in ratings}
    # shared AND under an open licence (the Index rates sharing and licence in two dimensions)
    weights_open = r.get("weights_endmodel") == "open" and (inv is None or _lic_open(inv, "weights"))
    weights_any = r.get("weights_endmodel") in ("open", "partial")
    data = r.get("datasources_basemodel") == "open"
    code = r.get("trainingcode") == "open"
    if weights_open and data and code:
        return "open-source", "open source: weights, training code and data are available under open licences"
    if weights_open and "unknown" in (r.get("datasources_basemodel"), r.get("trainingcode")):
        return (
            "open-weights-needs-evidence",
            "open weights; whether it is open source needs external evidence (training data, training "
            "code): supply it with --evidence",
        )
    if weights_open:
        return (
            "open-weights",
            "open weights, not open source: the weights are openly licensed, but training "
            "data and/or training code are not available",
        )
    if weights_any:
        return (
            "restricted-weights",
            "weights available, but not under an open licence (restricted or "
            "unidentified terms): not open source, not even open weights",
        )
    return "closed", "closed: no weights in the release"


@dataclass
class OpennessResult:
    inventory: Inventory
    ratings: list[Rating]
    mof: MofResult
    conclusion: str
    conclusion_text: str
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inventory": self.inventory.to_dict(),
            "osai": [r.to_dict() for r in self.ratings],
            "mof": self.mof.to_dict(),
            "conclusion": self.conclusion,
            "conclusion_text": self.conclusion_text,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def assess(
    inv: Inventory, name: str = "release", evidence: dict[str, UserEvidence] | None = None
) -> OpennessResult:
    """Openness of a release: RELEASE dimensions decided from its files, EXTERNAL ones from the
    user's ``evidence`` or marked "needs external evidence" (see :data:`DIMENSION_DECIDABILITY`)."""
    ratings = decide(rate_osai(inv), evidence)
    mof = mof_evaluate(inv.to_mof(name))
    slug, text = conclusion(ratings, mof, inv)
    counts = {k: sum(1 for r in ratings if r.klass == k) for k in ("open", "partial", "closed")}
    ev = [
        Evidence(
            "openness",
            "openness-conclusion",
            text,
            "medium" if slug != "open-source" else "info",
            detail={"osai_counts": counts, "mof_class": mof.label, "mof_progress": mof.progress},
        )
    ]
    return OpennessResult(inv, ratings, mof, slug, text, ev)


# --------------------------------------------------------------------------- agreement with the Index


def _family_key(name: str) -> str:
    n = name.lower()
    n = re.sub(r"[-_ ](\d+(\.\d+)?[bm]|\d+x\d+b|a\d+(\.\d+)?b)\b.*$", "", n)  # drop size suffixes
    n = re.sub(r"[-_ ]?(instruct|chat|base|hf|it)$", "", n)
    return re.sub(r"[^a-z0-9.]", "", n)


_SIZE = re.compile(r"(?<![a-z0-9])(\d+([._]\d+)?[bmk]|\d+x\d+b|a\d+(\.\d+)?b)(?![a-z0-9])")
_ROLE = {"instruct", "chat", "base", "hf", "it"}


def _release_key(name: str) -> str:
    """A model name without its size and its role (instruct / chat / base / it / hf) but with every
    version token kept: "Llama-3.1-405B-Instruct" and "Llama-3.1-70B" give "llama3.1"; "Qwen-14B"
    and "Qwen3.5-397B-A17B", "CodeGemma-2B" and "CodeGemma-1.1-7B-IT" do not meet. The Index rates
    a family by its largest size ("Evaluation is then based around the largest model in the family",
    readme.md), so a size difference is the same release, a version difference is not."""
    toks = [t for t in re.split(r"[-_\s/]+", _SIZE.sub(" ", name.lower())) if t]
    roles = [i for i, t in enumerate(toks) if t in _ROLE]
    # a name with two role words ("Pythia-Chat-Base-7B") carries the first as part of its name
    keep = set(roles[:1]) if len(roles) > 1 else set()
    return "".join(t for i, t in enumerate(toks) if t not in _ROLE or i in keep)


def _is_instruct(name: str) -> bool:
    return bool(set(re.split(r"[-_\s]+", name.lower())) & (_ROLE - {"base", "hf"}))


def _size(name: str) -> str:
    m = _SIZE.search(name.lower())
    return m.group(0).replace("_", ".") if m else ""


def describes(mof_name: str, system: dict[str, Any], dimension: str) -> bool:
    """Whether a MOF record describes the model an Index dimension rates: the base model for
    ``weights_basemodel`` (the end model when the Index names no base model: "In case a distinction
    between base (foundation) and end (user) model is not applicable, this mirrors the end model data
    entries", readme.md), the end model for every other dimension. Same release = same name without
    size and role (:func:`_release_key`)."""
    key = _release_key(mof_name)
    end = _release_key(str(system.get("endmodelname") or ""))
    base = _release_key(str(system.get("basemodelname") or ""))
    if dimension == "weights_basemodel" and base:
        return bool(key) and key == base
    return bool(key) and key == end


def same_release(mof_name: str, system: dict[str, Any]) -> str:
    """Does a MOF record describe the Index system's release? "end" when it is the Index's end model
    (any size), "base" when it is its base model only, "" when it is another version of the family."""
    key = _release_key(mof_name)
    if key and key == _release_key(str(system.get("endmodelname") or "")):
        return "end"
    if key and key == _release_key(str(system.get("basemodelname") or "")):
        return "base"
    return ""


def _match_rank(mof_name: str, system: dict[str, Any]) -> tuple[int, bool, bool, str]:
    """Order of preference among the MOF records of one release for an Index system: the end model's
    version, then the base model's; then that model's role (instruct vs base) and size."""
    same = same_release(mof_name, system)
    target = str(system.get("basemodelname" if same == "base" else "endmodelname") or "")
    return (
        {"end": 0, "base": 1}.get(same, 2),
        _is_instruct(mof_name) != _is_instruct(target),
        _size(mof_name) != _size(target),
        mof_name,
    )


# Which MOF components each decidable Index dimension rests on: a dimension is "carried" by a MOF
# record only when the record lists one of them (an absent component is a silence, not a "closed").
# Licences rest on the weights' licence (the Index's notes read "Weights: <licence>. Code: ... Data:
# ..."), so a weights component with no licence, or "unlicensed", carries nothing either.
CARRIED_BY: dict[str, tuple[str, ...]] = {
    "weights_basemodel": ("weights",),
    "weights_endmodel": ("weights",),
    "modelcard": ("model_card",),
    "datasheet": ("data_card",),
    "licenses": ("weights",),
}


def mof_carries(model: dict[str, Any], dimension: str) -> bool:
    """Whether a MOF record carries the information a decidable Index dimension rests on: it lists
    the component(s) of :data:`CARRIED_BY` (for ``licenses``: the weights with a stated licence)."""
    keys = CARRIED_BY.get(dimension)
    if keys is None:
        return True
    names = {v: k for k, v in COMPONENT_KEYS.items()}
    for c in (model.get("release") or {}).get("components") or []:
        if not isinstance(c, dict) or names.get(str(c.get("name", "")).strip()) not in keys:
            continue
        if dimension != "licenses":
            return True
        lic = mof_evaluate(model).licences.get(10) or "unlicensed"
        return lic != "unlicensed" and not _NOT_RELEASED.search(lic)
    return False


def index_agreement(
    osai_dir: Path, mof_dir: Path, half: str | None = None, weights_rule: str | None = None
) -> dict[str, Any]:
    """Agreement of taoke's Index ratings (computed from MOF model files: independent inputs) with the
    Index's own ratings, for systems present in both. Exact-class agreement per dimension and overall,
    plus within-one-step agreement (open vs partial, partial vs closed), split by
    :data:`DIMENSION_DECIDABILITY`. ``half``: "A" / "B" keeps every other Index system (sorted by file
    name) so that a rule chosen on one half is reported on the other.

    Each Index system is paired with the MOF record of the release it rates (:func:`same_release`,
    ranked by :func:`_match_rank`) when its family has one, else with the family's first record. Each
    pair says, per dimension, whether the record describes the rated model (:func:`describes`) and
    lists the component the rating rests on (:func:`mof_carries`); ``comparable`` gives the agreement
    on those ratings and the disagreements by kind (:data:`DISAGREEMENT_KINDS`)."""
    import yaml

    mof_by_key: dict[str, list[tuple[str, Path]]] = {}
    for p in sorted(mof_dir.glob("*.yml")):
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        name = str(((doc or {}).get("release") or {}).get("name") or p.stem)
        mof_by_key.setdefault(_family_key(name), []).append((name, p))
    dims = [d["id"] for d in osai_data()["dimensions"]]
    order = {"closed": 0, "partial": 1, "open": 2}
    pairs = []
    per_dim = {d: [0, 0, 0] for d in dims}  # exact, within-one, n
    for i, p in enumerate(sorted(osai_dir.glob("*.yaml"))):
        if half is not None and (i % 2 == 0) != (half == "A"):
            continue
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        system = doc.get("system") or {}
        keys = {_family_key(str(system.get(k) or "")) for k in ("name", "endmodelname")} - {""}
        family = [c for k in sorted(keys) for c in mof_by_key.get(k, [])]
        if not family:
            continue
        # of the family's records, the one that describes the Index's release if there is one;
        # otherwise the family's first record by file name
        same_ones = [c for c in family if same_release(c[0], system)]
        mof_name, hit = min(same_ones, key=lambda c: _match_rank(c[0], system)) if same_ones else family[0]
        mdoc = yaml.safe_load(hit.read_text(encoding="utf-8"))
        inv = inventory_from_mof(mdoc)
        ours = {r.dimension: r.klass for r in rate_osai(inv, weights_rule)}
        same = same_release(mof_name, system)
        row = {"index": p.name, "mof": hit.name, "same_release": same, "dims": {}, "carried": {}}
        for d in dims:
            theirs = str(
                ((doc.get(d) or {}) if isinstance(doc.get(d), dict) else {}).get("class") or ""
            ).strip()
            if theirs not in order:
                continue
            per_dim[d][2] += 1
            per_dim[d][0] += ours[d] == theirs
            per_dim[d][1] += abs(order[ours[d]] - order[theirs]) <= 1
            row["dims"][d] = [ours[d], theirs]
            row["carried"][d] = mof_carries(mdoc, d)
            row.setdefault("describes", {})[d] = describes(mof_name, system, d)
        pairs.append(row)
    n = sum(v[2] for v in per_dim.values())

    def part(kind: Decidability) -> dict[str, Any]:
        ds = [d for d in dims if DIMENSION_DECIDABILITY[d] is kind]
        m = sum(per_dim[d][2] for d in ds)
        return {
            "dimensions": ds,
            "ratings": m,
            "exact_agreement": sum(per_dim[d][0] for d in ds) / m if m else None,
            "within_one_step": sum(per_dim[d][1] for d in ds) / m if m else None,
        }

    n = sum(v[2] for v in per_dim.values())
    return {
        "systems_matched": len(pairs),
        "comparable": _comparable(pairs),
        "ratings_compared": n,
        "exact_agreement": sum(v[0] for v in per_dim.values()) / n if n else None,
        "within_one_step": sum(v[1] for v in per_dim.values()) / n if n else None,
        "decidable_from_release": part(Decidability.RELEASE),
        "needs_external_evidence": part(Decidability.EXTERNAL),
        "per_dimension": {d: {"exact": v[0] / v[2] if v[2] else None, "n": v[2]} for d, v in per_dim.items()},
        "pairs": pairs,
    }


# Why taoke's rating (from a MOF record) and the Index's differ, decided mechanically per rating:
DISAGREEMENT_KINDS = {
    "other_release": "the MOF record describes another version of the family (or only the base model)",
    "mof_silent": "same release, but the record lists no component this dimension rests on",
    "content_depth": "same release, component listed; open vs partial is the depth of a card's "
    "content, which MOF does not record",
    "other": "same release, component listed: a rule error, or the Index's judgement on facts the "
    "record does not hold (removed weights, a base model's licence)",
}


def disagreement_kind(pair: dict[str, Any], dimension: str) -> str:
    """One of :data:`DISAGREEMENT_KINDS` for a rating of :func:`index_agreement`'s ``pairs``."""
    if not pair["describes"][dimension]:
        return "other_release"
    if not pair["carried"][dimension]:
        return "mof_silent"
    ours, theirs = pair["dims"][dimension]
    if dimension in ("modelcard", "datasheet") and "closed" not in (ours, theirs):
        return "content_depth"
    return "other"


def _comparable(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Decidable dimensions only: agreement where the MOF record describes the rated release, and
    where it also carries the dimension's component; and the disagreements by kind."""
    rel = [d for d, k in DIMENSION_DECIDABILITY.items() if k is Decidability.RELEASE]
    rows = [(p, d) for p in pairs for d in rel if d in p["dims"]]

    def share(sel: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:
        ok = sum(p["dims"][d][0] == p["dims"][d][1] for p, d in sel)
        return {"ratings": len(sel), "exact_agreement": ok / len(sel) if sel else None}

    same = [(p, d) for p, d in rows if p["describes"][d]]
    kinds = {k: 0 for k in DISAGREEMENT_KINDS}
    for p, d in rows:
        if p["dims"][d][0] != p["dims"][d][1]:
            kinds[disagreement_kind(p, d)] += 1
    return {
        "same_release": share(same),
        "same_release_mof_carries": share([(p, d) for p, d in same if p["carried"][d]]),
        "disagreements": {"total": sum(kinds.values()), **kinds},
    }
