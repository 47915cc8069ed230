from __future__ import annotations

import random

import pytest

from generators.tasks.prompts import PromptLibrary, PromptTemplate, draw_topics, load_topics


def test_shipped_library_has_every_template_in_both_languages():
    lib = PromptLibrary.load()
    for tid in ("math", "math_ref", "code", "repair"):
        for lang in ("en", "zh"):
            t = lib.get(tid, lang)
            assert t.key.startswith(f"{tid}.{lang}@v{t.version}#") and len(t.hash) == 8


def test_render_keeps_latex_braces_and_refuses_missing_or_extra_values():
    t = PromptLibrary.load().get("math", "en")
    messages = t.messages(seed="What is 1/2 + 1/4?")
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    assert "\\boxed{<the number>}" in messages[-1]["content"] and "What is 1/2 + 1/4?" in messages[-1]["content"]
    with pytest.raises(KeyError):
        t.messages()
    with pytest.raises(KeyError):
        t.messages(problem="x", seed="y")


def test_zh_templates_are_chinese_and_code_template_takes_two_topics():
    lib = PromptLibrary.load()
    zh = lib.get("code", "zh").messages(topic1="排序", topic2="字典")[-1]["content"]
    assert "“排序”" in zh and "“字典”" in zh and "测试" in zh
    assert lib.get("code", "zh").placeholders == {"topic1", "topic2"}


def test_hash_changes_with_the_text_even_without_a_version_bump():
    a = PromptTemplate("math", 1, "en", "s", "u {{seed}}")
    b = PromptTemplate("math", 1, "en", "s", "u2 {{seed}}")
    assert a.hash != b.hash and a.key != b.key
    assert a.hash == PromptTemplate("math", 1, "en", "s", "u {{seed}}").hash


def test_library_file_missing_a_template_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("math:\n  version: 1\n  en: {user: 'x {{seed}}'}\n")
    with pytest.raises(ValueError, match="missing templates"):
        PromptLibrary.load(path)


def test_topics_are_bilingual_pairs_and_draws_are_distinct_and_reproducible():
    topics = load_topics()
    assert len(topics) >= 50
    assert all(en and zh for en, zh in topics)
    draws = [draw_topics(topics, "zh", random.Random(i)) for i in range(30)]
    assert all(a != b for a, b in draws)
    assert draws == [draw_topics(topics, "zh", random.Random(i)) for i in range(30)]
    zh_words = {zh for _, zh in topics}
    assert all(a in zh_words and b in zh_words for a, b in draws)
