"""Reviews in other scripts train like English ones: Korean (spaces between words, rich endings),
Chinese and Japanese (no spaces: characters are the words under the CJK rule).

Each corpus is built here from parallel phrase lists, the same structure and size in every
language: a review is a few neutral clauses and one or two clauses of its label's sentiment, in
random order. Chinese and Japanese clauses run together with no punctuation between some of
them, as real text does, so a whitespace tokenizer sees mostly one-off "words".
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from edgelstm.runtime.standardize import RULE_CJK, RULE_V1
from edgelstm.runtime.tokenizer import Tokenizer

PHRASES = {
    "english": {
        "pos": ["the acting was wonderful", "i loved the story", "a truly great film", "the music was beautiful",
                "it was fun from start to end", "the ending moved me", "the direction was brilliant",
                "i would happily watch it again"],
        "neg": ["the acting was terrible", "i hated the story", "a truly awful film", "the music was annoying",
                "it was boring from start to end", "the ending made no sense", "the direction was clumsy",
                "i want my evening back"],
        "neutral": ["we saw it on friday", "the cinema was full", "it runs about two hours", "my friend chose it",
                    "there is a long opening scene", "it is set in a small town", "it came out last year",
                    "the lead actor is new", "we bought popcorn", "the trailer showed the city"],
    },
    "korean": {
        "pos": ["연기가 훌륭했다", "이야기가 정말 좋았어요", "정말 멋진 영화였다", "음악이 아름다웠다",
                "처음부터 끝까지 재미있었다", "결말이 감동적이었다", "연출이 뛰어났다", "다시 보고 싶은 영화다"],
        "neg": ["연기가 형편없었다", "이야기가 너무 싫었어요", "정말 최악의 영화였다", "음악이 거슬렸다",
                "처음부터 끝까지 지루했다", "결말이 말이 안 된다", "연출이 엉성했다", "시간이 아까운 영화다"],
        "neutral": ["금요일에 봤다", "극장이 꽉 찼다", "상영 시간은 두 시간 정도다", "친구가 골랐다",
                    "긴 오프닝 장면이 있다", "작은 마을이 배경이다", "작년에 개봉했다", "주연 배우는 신인이다",
                    "팝콘을 샀다", "예고편에 도시가 나왔다"],
    },
    "chinese": {
        "pos": ["演技非常精彩", "我很喜欢这个故事", "真是一部好电影", "音乐很优美", "从头到尾都很有趣",
                "结局让我很感动", "导演的手法很出色", "我愿意再看一遍"],
        "neg": ["演技非常糟糕", "我很讨厌这个故事", "真是一部烂电影", "音乐很刺耳", "从头到尾都很无聊",
                "结局毫无道理", "导演的手法很笨拙", "浪费了我一个晚上"],
        "neutral": ["我们星期五去看的", "电影院坐满了人", "片长大约两个小时", "是我朋友选的", "开头有一段很长的镜头",
                    "故事发生在一个小镇", "去年上映的", "男主角是新人", "我们买了爆米花", "预告片里有城市"],
    },
    "japanese": {
        "pos": ["演技が素晴らしかった", "この話がとても好きだ", "本当にいい映画だった", "音楽が美しかった",
                "最初から最後まで楽しかった", "結末に感動した", "演出が見事だった", "もう一度見たい"],
        "neg": ["演技がひどかった", "この話が大嫌いだ", "本当にひどい映画だった", "音楽がうるさかった",
                "最初から最後まで退屈だった", "結末が意味不明だった", "演出が下手だった", "時間の無駄だった"],
        "neutral": ["金曜日に見た", "映画館は満席だった", "上映時間は約二時間だ", "友達が選んだ", "長いオープニングがある",
                    "小さな町が舞台だ", "去年公開された", "主演は新人だ", "ポップコーンを買った", "予告編に街が出た"],
    },
}
# How clauses join: spaced scripts with a comma or "and"; Chinese and Japanese often with nothing at all.
JOINERS = {"english": [", ", " and ", ". "], "korean": [", ", " 그리고 ", ". "],
           "chinese": ["，", "", "", "。"], "japanese": ["、", "", "", "。"]}
SIZE = 1200  # per language: same size everywhere


def reviews(language: str, size: int = SIZE, seed: int = 0) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    phrases, joiners = PHRASES[language], JOINERS[language]
    out = []
    for n in range(size):
        label = n % 2
        clauses = rng.sample(phrases["neutral"], rng.randint(2, 4))
        clauses += rng.sample(phrases["pos" if label else "neg"], rng.randint(1, 2))
        rng.shuffle(clauses)
        text = clauses[0]
        for clause in clauses[1:]:
            text += rng.choice(joiners) + clause
        out.append((text, label))
    return out


def write_csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def coverage(tokenizer: Tokenizer, texts: list[str]) -> float:
    """Share of the tokens of `texts` the tokenizer's vocabulary knows."""
    ids = [i for text in texts for i in tokenizer.tokens_to_ids(text)]
    return sum(i > 1 for i in ids) / max(1, len(ids))


@pytest.mark.parametrize("language", ["chinese", "japanese"])
def test_the_cjk_rule_gives_chinese_and_japanese_a_vocabulary_that_covers_new_text(language: str) -> None:
    texts = [text for text, _ in reviews(language)]
    train, held_out = texts[:1000], texts[1000:]
    old, new = (Tokenizer.fit(train, vocab_size=300, maxlen=64, rule=rule) for rule in (RULE_V1, RULE_CJK))
    assert coverage(old, held_out) < 0.8  # runs of characters between punctuation: mostly one-off words
    assert coverage(new, held_out) > 0.99  # characters recur


@pytest.mark.slow
def test_korean_chinese_and_japanese_train_as_well_as_english_of_the_same_size(tmp_path: Path) -> None:
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.fit import train

    settings = dict(vocab_size=300, maxlen=64, embedding_dim=8, lstm_units=8, epochs=8, batch_size=32,
                    learning_rate=1e-2, early_stopping_patience=0, calibration_size=16, seed=0, dropout=0.0, l2=0.0,
                    learning_rate_schedule="constant", clipnorm=None, embedding_dropout=0.0, restore_best=True)
    accuracy = {}
    for language in PHRASES:
        data = write_csv(tmp_path / f"{language}.csv", reviews(language))
        run = train(TrainConfig(data=str(data), **settings), tmp_path / language, verbose=0)
        accuracy[language] = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["validation"]["accuracy"]
        if language != "english":
            assert json.loads((run / "tokenizer.json").read_text(encoding="utf-8"))["standardize"] == RULE_CJK
    assert accuracy["english"] >= 0.9, accuracy
    for language in ("korean", "chinese", "japanese"):
        assert accuracy[language] >= accuracy["english"] - 0.03, accuracy
