"""A small three-class corpus (topics: food, sports, tech), written as a CSV by the tests that need one.

Each text mixes everyday filler words with one to three cue words of its topic, and about one in three
also carries a cue word of another topic, so the model has to weigh them rather than look up
one word. Seeded: the same call always writes the same file. Labels are names; sorted, they are
food (0), sports (1), tech (2), the order `edgelstm.train.labels` gives them.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

TOPICS = {
    "sports": "match goal team coach league score season player stadium referee tennis football".split(),
    "tech": "software laptop code server phone chip network battery screen update browser cloud".split(),
    "food": "recipe soup bread cheese dinner kitchen flavor garlic salad baker pasta spicy".split(),
}
FILLER = ("the a this that it was is and but so very really quite today we they i you our their "
          "about after before with without new old good long short more some every").split()
LABELS_SORTED = tuple(sorted(TOPICS))


def texts(count: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """`count` (text, topic) pairs, the topics in turn."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for index in range(count):
        topic = names[index % len(names)]
        words = rng.choices(FILLER, k=rng.randint(5, 14)) + rng.choices(TOPICS[topic], k=rng.randint(1, 3))
        if rng.random() < 0.3:
            words.append(rng.choice(TOPICS[rng.choice([n for n in names if n != topic])]))
        rng.shuffle(words)
        rows.append((" ".join(words), topic))
    return rows


def write_csv(path: Path, count: int, *, seed: int = 0, label_of=None) -> Path:  # noqa: ANN001
    """The corpus as a CSV with columns text, label (`label_of(topic)` rewrites a label)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for text, topic in texts(count, seed=seed):
            writer.writerow([text, label_of(topic) if label_of else topic])
    return path
