"""Identity probes: ask the endpoint who made it and what it is called, in English and Chinese.

WHY: a model distilled from another's outputs, or an app forwarding to someone else's API, often
answers that it *is* that other model ("I am ChatGPT, made by OpenAI"; a Gemini answering 我是文心一言).
Identity confusion is weak evidence on its own (small models confabulate), so taoke reports it as a
flag with the answers quoted, never as a verdict. Vendor knowledge is a table (:data:`VENDORS`), not
code: adding a vendor is a data edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from taoke.probe.client import ProbeClient

# Several phrasings per language: one phrasing can be dodged by a system prompt, several rarely all are.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "en": (
        "Who created you? Answer in one sentence.",
        "What is your model name, and which company trained you?",
        "Are you ChatGPT, Claude, Gemini, Llama, Qwen or something else? Who made you?",
    ),
    "zh": (
        "你是谁？是哪家公司开发的？",
        "请告诉我你的模型名称和开发者。",
        "你是由哪个团队训练的什么模型？",
    ),
}

# vendor -> (display name, model-name patterns (regex, case-insensitive), vendor-name patterns)
VENDORS: dict[str, dict[str, Any]] = {
    "openai": {"name": "OpenAI", "models": [r"chat\s?gpt", r"gpt-?[345o]", r"\bgpt\b"], "org": [r"openai"]},
    "anthropic": {"name": "Anthropic", "models": [r"\bclaude\b"], "org": [r"anthropic"]},
    "google": {
        "name": "Google",
        "models": [r"\bgemini\b", r"\bgemma\b", r"\bbard\b", r"\bpalm\b"],
        "org": [r"\bgoogle\b", r"deepmind", r"谷歌"],
    },
    "meta": {"name": "Meta", "models": [r"\bllama\b", r"\bllama-?\d"], "org": [r"\bmeta\b", r"facebook"]},
    "alibaba": {
        "name": "Alibaba",
        "models": [r"\bqwen\b", r"通义千问", r"通义", r"千问"],
        "org": [r"alibaba", r"阿里巴巴", r"阿里云"],
    },
    "baidu": {
        "name": "Baidu",
        "models": [r"文心一言", r"\bernie\b", r"文心"],
        "org": [r"\bbaidu\b", r"百度"],
    },
    "01ai": {
        "name": "01.AI",
        "models": [r"\byi-\d", r"\byi\b(?= (?:model|large|34b|6b))"],
        "org": [r"01\.ai", r"零一万物"],
    },
    "deepseek": {"name": "DeepSeek", "models": [r"deepseek"], "org": [r"deepseek", r"深度求索"]},
    "mistral": {"name": "Mistral AI", "models": [r"\bmistral\b", r"\bmixtral\b"], "org": [r"mistral ai"]},
    "microsoft": {
        "name": "Microsoft",
        "models": [r"\bphi-?\d", r"\bcopilot\b"],
        "org": [r"microsoft", r"微软"],
    },
    "huggingface": {
        "name": "Hugging Face",
        "models": [r"smol\s?lm"],
        "org": [r"hugging\s?face"],
    },
    "zhipu": {"name": "Zhipu AI", "models": [r"chatglm", r"\bglm-?\d"], "org": [r"zhipu", r"智谱", r"清华"]},
    "moonshot": {"name": "Moonshot AI", "models": [r"\bkimi\b"], "org": [r"moonshot", r"月之暗面"]},
    "tencent": {"name": "Tencent", "models": [r"hunyuan", r"混元"], "org": [r"tencent", r"腾讯"]},
    "bytedance": {"name": "ByteDance", "models": [r"doubao", r"豆包"], "org": [r"bytedance", r"字节跳动"]},
}

_COMPILED = {
    v: (
        [re.compile(p, re.IGNORECASE) for p in d["models"]],
        [re.compile(p, re.IGNORECASE) for p in d["org"]],
    )
    for v, d in VENDORS.items()
}


def vendors_in(text: str) -> dict[str, list[str]]:
    """Vendors named in ``text`` (by a model name or the company), with the matched words.

    >>> sorted(vendors_in("I am Qwen, created by Alibaba Cloud."))
    ['alibaba']
    >>> vendors_in("我是文心一言，由百度开发。")["baidu"]
    ['文心一言', '百度']
    """
    found: dict[str, list[str]] = {}
    for vendor, (models, orgs) in _COMPILED.items():
        hits = [m.group(0) for rx in (*models, *orgs) for m in [rx.search(text)] if m]
        hits = list(dict.fromkeys(hits))
        hits = [h for h in hits if not any(h != o and h.lower() in o.lower() for o in hits)]
        if hits:
            found[vendor] = hits
    return found


def vendor_of_name(served: str | None) -> str | None:
    """The vendor a served model name points at (``gpt-4o`` -> openai), or None if it names none."""
    if not served:
        return None
    spaced = re.sub(r"[-_/.:]+", " ", served)
    hits = vendors_in(served) or vendors_in(spaced)
    return next(iter(hits), None)


@dataclass
class IdentityAnswer:
    lang: str
    question: str
    answer: str
    vendors: dict[str, list[str]]


@dataclass
class IdentityResult:
    """What the model says it is, and whether that contradicts the name it is served under."""

    served_name: str | None
    served_vendor: str | None
    answers: list[IdentityAnswer] = field(default_factory=list)
    claimed: dict[str, int] = field(default_factory=dict)  # vendor -> number of answers naming it
    confusion: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "served_name": self.served_name,
            "served_vendor": self.served_vendor,
            "claimed": self.claimed,
            "confusion": self.confusion,
            "message": self.message,
            "answers": [a.__dict__ for a in self.answers],
        }


def assess(served_name: str | None, answers: list[IdentityAnswer]) -> IdentityResult:
    """Tally claimed vendors and flag a contradiction with the served name.

    Confusion is flagged when at least two answers name a vendor other than the served name's, and
    that vendor is named at least as often as the served one: a single stray mention ("unlike
    ChatGPT, I...", or a small model confabulating "made by Google" once in six) is not enough.
    """
    served_vendor = vendor_of_name(served_name)
    claimed: dict[str, int] = {}
    for a in answers:
        for v in a.vendors:
            claimed[v] = claimed.get(v, 0) + 1
    res = IdentityResult(
        served_name, served_vendor, answers, dict(sorted(claimed.items(), key=lambda kv: -kv[1]))
    )
    if not claimed:
        res.message = f"no answer names a known vendor or model ({len(answers)} answers)"
        return res
    top, n_top = next(iter(res.claimed.items()))
    own = claimed.get(served_vendor or "", 0)
    others = {v: n for v, n in claimed.items() if v != served_vendor}
    if served_vendor is None:
        res.message = f"served as {served_name!r} (no known vendor in the name); answers claim " + ", ".join(
            f"{VENDORS[v]['name']} ({n}/{len(answers)})" for v, n in res.claimed.items()
        )
        res.confusion = n_top * 2 > len(answers)
        return res
    if others and max(others.values()) >= max(own, 2):
        worst = max(others, key=others.get)  # type: ignore[arg-type]
        res.confusion = True
        res.message = (
            f"identity confusion: served as {served_name!r} ({VENDORS[served_vendor]['name']}) but "
            f"{others[worst]}/{len(answers)} answers claim {VENDORS[worst]['name']}"
        )
    else:
        res.message = (
            f"answers agree with the served name ({own}/{len(answers)} name {VENDORS[served_vendor]['name']})"
        )
    return res


def probe_identity(
    client: ProbeClient, langs: tuple[str, ...] = ("en", "zh"), max_tokens: int = 32
) -> IdentityResult:
    """Ask every question in ``langs`` once (greedy) and assess the answers."""
    answers: list[IdentityAnswer] = []
    for lang in langs:
        for q in QUESTIONS[lang]:
            reply = client.chat(q, max_tokens=max_tokens)
            answers.append(IdentityAnswer(lang, q, reply.text, vendors_in(reply.text)))
    return assess(client.model, answers)
