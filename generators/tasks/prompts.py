"""Versioned zh/en prompt templates and the code-topic list of the synthetic loop.

Templates live in ``prompt_templates.yaml`` (or a file named by ``generate.prompt_templates``).
Every output row records its template as ``gen_prompt`` = ``<id>.<lang>@v<version>#<hash8>``;
the hash covers the template text, so an edit that forgot to bump the version still shows.
Placeholders are ``{{name}}`` so that LaTeX braces (``\\boxed{}``) stay literal; rendering
refuses a missing or an unexpected value instead of sending a half-filled prompt.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

TEMPLATES_FILE = Path(__file__).with_name("prompt_templates.yaml")
TOPICS_FILE = Path(__file__).with_name("code_topics.txt")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
TEMPLATE_IDS = ("math", "math_ref", "code", "code_ref", "repair")


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: int
    lang: str
    system: str
    user: str
    stop: tuple[str, ...] = ()  # stop sequences sent with the request (cut a model that rambles on)

    @property
    def hash(self) -> str:
        blob = json.dumps([self.id, self.version, self.lang, self.system, self.user, list(self.stop)],
                          ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:8]

    @property
    def key(self) -> str:
        """What each output row records: id, language, version and content hash."""
        return f"{self.id}.{self.lang}@v{self.version}#{self.hash}"

    @property
    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.system)) | set(PLACEHOLDER.findall(self.user))

    def render_user(self, **values: str) -> str:
        missing = self.placeholders - set(values)
        extra = set(values) - self.placeholders
        if missing or extra:
            raise KeyError(f"template {self.key}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.user)

    def messages(self, **values: str) -> list[dict[str, str]]:
        """System (when the template has one) + user message, ready for chat completions."""
        out = [{"role": "system", "content": self.system}] if self.system.strip() else []
        return out + [{"role": "user", "content": self.render_user(**values)}]


class PromptLibrary:
    """All templates of one file, looked up by (id, lang)."""

    def __init__(self, templates: dict[tuple[str, str], PromptTemplate]):
        self.templates = templates

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PromptLibrary":
        path = Path(path) if path else TEMPLATES_FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        templates = {}
        for tid, spec in data.items():
            if not isinstance(spec, dict) or "version" not in spec:
                raise ValueError(f"{path}: template {tid!r} needs a version and zh/en variants")
            for lang in ("en", "zh"):
                if lang in spec:
                    v = spec[lang]
                    templates[(tid, lang)] = PromptTemplate(tid, int(spec["version"]), lang,
                                                            str(v.get("system") or ""), str(v["user"]),
                                                            tuple(str(x) for x in spec.get("stop") or ()))
        missing = [(t, lang) for t in TEMPLATE_IDS for lang in ("en", "zh") if (t, lang) not in templates]
        if missing:
            raise ValueError(f"{path}: missing templates {missing}")
        return cls(templates)

    def get(self, template_id: str, lang: str) -> PromptTemplate:
        return self.templates[(template_id, lang)]


def load_topics(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(en, zh) topic-word pairs; ``#`` lines are comments."""
    pairs = []
    for line in Path(path or TOPICS_FILE).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            en, _, zh = line.partition("\t")
            pairs.append((en.strip(), (zh or en).strip()))
    if len(pairs) < 2:
        raise ValueError(f"{path}: need at least two topics")
    return pairs


def draw_topics(topics: list[tuple[str, str]], lang: str, rng: random.Random) -> tuple[str, str]:
    """Two distinct topic words in ``lang`` (the Yuan 2.0 recipe: a task from two topics)."""
    a, b = rng.sample(range(len(topics)), 2)
    col = 1 if lang == "zh" else 0
    return topics[a][col], topics[b][col]
