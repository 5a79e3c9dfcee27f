"""Report strings in English and Chinese.

WHY Chinese: the community that argued the Yi-34B case (套壳, "shelling") reads Chinese; an audit it
cannot read settles nothing. Section titles, labels and status words are translated here; findings
with a known ``kind`` are re-phrased from their structured ``detail`` by :func:`finding`, and any
other evidence message falls back to its English text (numbers and names are language-neutral).
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "zh")

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "taoke audit", "zh": "taoke 审计报告"},
    "release": {"en": "Release", "zh": "发布"},
    "headline": {"en": "Headline findings", "zh": "主要结论"},
    "declared": {"en": "Declared vs measured lineage", "zh": "声明的来源与实测的来源"},
    "declared_parents": {"en": "Declared parents", "zh": "声明的基座模型"},
    "relation": {"en": "relation", "zh": "关系类型"},
    "declared_in": {"en": "declared in", "zh": "声明位置"},
    "none_declared": {"en": "the release declares no base model", "zh": "该发布未声明任何基座模型"},
    "code": {"en": "Code lineage", "zh": "代码来源"},
    "code_reference": {"en": "reference", "zh": "参考实现"},
    "file": {"en": "file", "zh": "文件"},
    "derives_from": {"en": "derives from", "zh": "来源于"},
    "containment": {"en": "containment", "zh": "包含度"},
    "of_reference": {"en": "of reference", "zh": "占参考实现"},
    "classes": {"en": "classes/functions", "zh": "类/函数"},
    "notice": {"en": "licence header", "zh": "许可证声明头"},
    "kept": {"en": "kept", "zh": "保留"},
    "missing": {"en": "missing", "zh": "缺失"},
    "partial": {"en": "partial", "zh": "部分保留"},
    "skipped": {"en": "skipped", "zh": "已跳过"},
    "no_match": {"en": "no reference match", "zh": "未匹配到参考实现"},
    "spans": {"en": "Matched spans (suspect | reference)", "zh": "匹配片段（被检 | 参考）"},
    "claims": {"en": "Claims", "zh": "宣称与核验"},
    "benchmarks": {"en": "Benchmark claims in the card (not verified)", "zh": "模型卡中的评测成绩（未核验）"},
    "licence": {"en": "Licence and obligations", "zh": "许可证与义务"},
    "release_licence": {"en": "Release licence", "zh": "发布的许可证"},
    "card_tag": {"en": "licence tag", "zh": "许可证标签"},
    "obligation": {"en": "obligation", "zh": "义务"},
    "status": {"en": "status", "zh": "状态"},
    "evidence": {"en": "evidence", "zh": "证据"},
    "because": {"en": "applies because", "zh": "适用原因"},
    "met": {"en": "met", "zh": "已满足"},
    "not-met": {"en": "not met", "zh": "未满足"},
    "unknown": {"en": "unknown", "zh": "无法判断"},
    "openness": {"en": "Openness", "zh": "开放程度"},
    "osai": {"en": "European Open Source AI Index dimensions", "zh": "欧洲开源AI指数（OSAI）维度"},
    "mof": {"en": "Model Openness Framework", "zh": "模型开放框架（MOF）"},
    "open": {"en": "open", "zh": "开放"},
    "closed": {"en": "closed", "zh": "封闭"},
    "dimension": {"en": "dimension", "zh": "维度"},
    "rating": {"en": "rating", "zh": "评级"},
    "progress": {"en": "progress", "zh": "进度"},
    "conclusion": {"en": "Conclusion", "zh": "结论"},
    "comparisons": {"en": "Weights and tokenizer (--against)", "zh": "权重与分词器比对（--against）"},
    "heatmap": {"en": "Per-layer similarity", "zh": "逐层相似度"},
    "relationship": {"en": "relationship", "zh": "关系"},
    "tokenizer": {"en": "tokenizer", "zh": "分词器"},
    "other_findings": {"en": "Other findings", "zh": "其他发现"},
    "no_findings": {"en": "no findings", "zh": "无"},
    "compare_unavailable": {"en": "compare unavailable", "zh": "权重比对不可用"},
    "open-source": {
        "en": "open source: weights, training code and data are available under open licences",
        "zh": "开源：权重、训练代码与数据均以开放许可证提供",
    },
    "open-weights": {
        "en": "open weights, not open source: the weights are openly licensed, but training data "
        "and/or training code are not available",
        "zh": "开放权重，但不是开源：权重以开放许可证发布，但训练数据和/或训练代码未公开",
    },
    "restricted-weights": {
        "en": "weights available, but not under an open licence (restricted or unidentified "
        "terms): not open source, not even open weights",
        "zh": "提供了权重，但不是开放许可证（限制性或无法识别的条款）：不是开源，也算不上开放权重",
    },
    "closed-conclusion": {"en": "closed: no weights in the release", "zh": "封闭：发布中没有权重"},
}

# kind -> template filled from Evidence.detail (zh); English keeps the analyzer's own message.
FINDINGS_ZH: dict[str, str] = {
    "undeclared-parent": "权重来源于 {reference}（{relationship}）；该发布未如实声明",
    "declared-parent-unsupported": "声明的基座为 {declared}，但权重比对不支持这一点（{relationship}）",
    "declared-parent-confirmed": "声明的基座 {reference} 得到权重比对证实（{relationship}）",
    "weights-untestable": "权重无法与 {reference} 比对（无可用的统计量：untestable）",
    "code-derived": "{file} 的代码来源于 transformers {reference}（共享指纹 {shared_fingerprints} 个）",
    "code-notice-missing": "{file} 复制了 {reference}，但删去了原文件的版权与许可证声明",
    "code-notice-partial": "{file} 复制了 {reference}，但只保留了部分版权与许可证声明",
    "undeclared-tokenizer": "分词器来源于 {reference}（{relationship}），该发布未说明",
    "borrowed-code": "建模代码来源于 {reference}：架构是借用的（合法，但须遵守代码许可证义务）",
    "licence-identified": "{file} 的文本即 {licence} 许可证",
    "licence-tag-mismatch": "模型卡标注 license: {card_tag}，但许可证文件实为 {text}",
    "obligations-not-met": "{count} 项许可证义务未满足：{list}",
    "code-unreadable": "{file}：无法作为 Python 源码读取（二进制内容、编码错误或超出大小限制），未比对",
}


def t(key: str, lang: str) -> str:
    """The string for ``key`` in ``lang`` (English when missing)."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]


def finding(kind: str, message: str, detail: dict[str, Any], lang: str) -> str:
    """One finding in ``lang``: a template for known kinds in Chinese, else the English message."""
    if kind == "openness-conclusion" and detail.get("slug"):
        return conclusion(str(detail["slug"]), message, lang)
    if lang == "zh" and kind in FINDINGS_ZH:
        fields = dict(detail)
        if kind == "declared-parent-unsupported":
            fields.setdefault("declared", detail.get("reference", ""))
        try:
            return FINDINGS_ZH[kind].format(**fields)
        except (KeyError, IndexError, ValueError):
            return message
    return message


def status(s: str, lang: str) -> str:
    return t(s, lang)


def conclusion(slug: str, english: str, lang: str) -> str:
    if lang == "en":
        return english
    return t("closed-conclusion" if slug == "closed" else slug, lang)
