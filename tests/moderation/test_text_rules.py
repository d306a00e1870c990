from __future__ import annotations

from pathlib import Path

from clipfeed.moderation.text import check_text
from clipfeed.settings import Settings


def test_plain_caption_is_allowed() -> None:
    verdict = check_text("Sunset over the harbour #travel #sea", settings=Settings())
    assert verdict.action == "allow" and verdict.matches == []


def test_listed_phrases_are_caught_through_character_swaps() -> None:
    assert check_text("just K1ll   yourself", settings=Settings()).action == "reject"
    assert check_text("Get FREE followers now", settings=Settings()).action == "review"
    assert check_text("skills yourself", settings=Settings()).action == "allow"  # whole words only


def test_spam_signals_add_up() -> None:
    links = "see https://a.example https://b.example https://c.example"
    assert check_text(links, settings=Settings()).score == 0.3
    noisy = links + " " + "!" * 12
    assert check_text(noisy, settings=Settings()).action == "review"


def test_operators_replace_the_word_lists(tmp_path: Path) -> None:
    words = tmp_path / "reject.txt"
    words.write_text("# ours\nbanana bread\n")
    settings = Settings(moderation_reject_words_file=words)
    assert check_text("I love banana   bread", settings=settings).action == "reject"
    assert check_text("kill yourself", settings=settings).action == "allow"
