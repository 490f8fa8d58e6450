"""Lesson 06's checkers: a correct attempt, typical wrong ones, and none.

Training a network takes too long here: the "learned" features are drawn around one centre
per class (the tops near each other, Shirt nearest to T-shirt/top), which is what training
gives; an untrained network's real features serve as the typical wrong ones."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from exercise_helpers import assert_verdict, verdict
from torch.utils.tensorboard import SummaryWriter

from tbviz import data, logs, models
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "06_embeddings"
KIND = {"T-shirt/top": "top", "Pullover": "top", "Coat": "top", "Shirt": "top"}
KIND.update({"Sandal": "shoe", "Sneaker": "shoe", "Ankle boot": "shoe"})


@pytest.fixture(scope="module")
def test_images():
    images, labels = data.tensors(train=False)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))[:2000]
    return images[order], labels[order]


def learned(labels, seed=0):
    """128 features per image around its class's centre, the tops and the shoes close."""
    g = torch.Generator().manual_seed(seed)
    own = torch.randn(10, 128, generator=g)
    top, shoe = torch.randn(128, generator=g), torch.randn(128, generator=g)
    centres = 2.0 * own
    for c in (0, 2, 4, 6):
        centres[c] = 2.0 * top + 1.2 * own[c]
    for c in (5, 7, 9):
        centres[c] = 2.0 * shoe + 1.2 * own[c]
    centres[6] = 0.6 * centres[0] + 0.4 * centres[6]  # Shirt next to T-shirt/top
    return (centres[labels] + 2.0 * torch.randn(len(labels), 128, generator=g)).relu()


def untrained(images):
    torch.manual_seed(0)
    net = models.FastNet(width=8).eval()
    with torch.no_grad():
        return net.features(images)


def names(labels):
    return [data.CLASSES[y] for y in labels]


def test_ex1(attempt_root, test_images):
    images, labels = test_images[0][:300], test_images[1][:300]
    rows = [[name, KIND.get(name, "other")] for name in names(labels)]
    features = learned(labels)
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "06_embeddings/ex1_*")
    with logs.writer(LESSON, "ex1_kinds") as writer:
        writer.add_scalar("not/an/embedding", 1.0, 0)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "hold no embedding")
    with logs.writer(LESSON, "ex1_kinds") as writer:  # the lists, without a header
        writer.add_embedding(features, metadata=rows, tag="learned")
    assert_verdict(verdict(LESSON, 1), INCORRECT, "one column", "metadata_header")
    wrong = [[name, "top" if name == "Dress" else kind] for name, kind in rows]
    with logs.writer(LESSON, "ex1_kinds") as writer:
        logs.add_embedding(
            writer, features, metadata=wrong, metadata_header=["class", "kind"], tag="learned"
        )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "Dress as 'top'")
    with logs.writer(LESSON, "ex1_kinds") as writer:
        logs.add_embedding(
            writer,
            images.reshape(300, -1),
            metadata=rows,
            metadata_header=["class", "kind"],
            tag="pixels",
        )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "784 numbers per point, the pixels")
    with logs.writer(LESSON, "ex1_kinds") as writer:
        logs.add_embedding(
            writer, features, metadata=rows, metadata_header=["class", "kind"], tag="learned"
        )
        logs.add_embedding(  # a second one, with the thumbnails: either may be checked
            writer,
            features,
            metadata=rows,
            label_img=data.unnormalize(images),
            metadata_header=["class", "kind"],
            tag="with_thumbnails",
        )
    assert_verdict(verdict(LESSON, 1), CORRECT, "300 points of 128 features", "'other'")


def test_ex1_tensorboardx_and_fewer_points(attempt_root, test_images):
    from tensorboardX import SummaryWriter as TensorboardXWriter

    labels = test_images[1][:200]
    rows = [[name, KIND.get(name, "other")] for name in names(labels)]
    with logs.writer(LESSON, "ex1_x", writer_cls=TensorboardXWriter) as writer:
        writer.add_embedding(
            learned(labels), metadata=rows, metadata_header=["class", "kind"], tag="learned"
        )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "has 200 points; embed 300")
    labels = test_images[1][:300]
    rows = [[KIND.get(name, "other"), name] for name in names(labels)]  # the columns swapped
    with logs.writer(LESSON, "ex1_x", writer_cls=TensorboardXWriter) as writer:
        writer.add_embedding(
            learned(labels), metadata=rows, metadata_header=["kind", "class"], tag="learned"
        )
    assert_verdict(verdict(LESSON, 1), CORRECT, "ex1_x/learned")


def test_ex2(attempt_root, test_images):
    images, labels = test_images
    pixels, features = images.reshape(len(images), -1), learned(labels)
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "06_embeddings/ex2_*")
    # the two in two runs
    with logs.writer(LESSON, "ex2_pixels") as writer:
        logs.add_embedding(writer, pixels, metadata=names(labels), tag="pixels")
    with logs.writer(LESSON, "ex2_learned") as writer:
        logs.add_embedding(writer, untrained(images), metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "different runs", "one writer")
    # the untrained network's features, now in the pixels' run, through a second writer
    with SummaryWriter(logs.run_dir(LESSON, "ex2_pixels")) as writer:
        logs.add_embedding(writer, untrained(images), metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no embedding of raw pixels", "second writer")
    (attempt_root / LESSON / "ex2_learned").rename(attempt_root / LESSON / "learned")
    with logs.writer(LESSON, "ex2_pixels") as writer:
        logs.add_embedding(writer, pixels, metadata=names(labels), tag="pixels")
        logs.add_embedding(writer, untrained(images), metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "78.0%)", "TRAINED network")
    with logs.writer(LESSON, "ex2_pixels") as writer:
        logs.add_embedding(writer, pixels, metadata=names(labels), tag="pixels")
        logs.add_embedding(writer, features, metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 2), CORRECT, "78.0% for the pixels", "(2000 x 128)")


def test_ex2_other_images_and_counts(attempt_root, test_images):
    images, labels = test_images[0][:1000], test_images[1][:1000]
    with logs.writer(LESSON, "ex2_both") as writer:
        logs.add_embedding(writer, images.reshape(1000, -1), metadata=names(labels), tag="px")
        logs.add_embedding(writer, learned(labels), metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "has 1000 points; embed 2,000")


def pair_counts(labels, features):
    """The solution's count: sorted (class, nearest neighbour's class) pairs."""
    unit = features - features.mean(dim=0)
    unit = unit / unit.norm(dim=1, keepdim=True)
    distances = 1 - unit @ unit.T
    distances.fill_diagonal_(float("inf"))
    nearest = labels[distances.argmin(dim=1)]
    return Counter(
        tuple(sorted((data.CLASSES[a], data.CLASSES[b])))
        for a, b in zip(labels.tolist(), nearest.tolist(), strict=True)
        if a != b
    )


def test_ex3(attempt_root, test_images):
    labels = test_images[1][:1000]
    features = learned(labels)
    pairs = pair_counts(labels, features)
    assert pairs.most_common(1)[0][0] == ("Shirt", "T-shirt/top")
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "checked from your answer")
    assert_verdict(verdict(LESSON, 3, pairs), NOT_ATTEMPTED, "06_embeddings/ex3_*", "ex2_*")
    with logs.writer(LESSON, "ex2_both") as writer:  # exercise 2's run serves
        logs.add_embedding(writer, features, metadata=names(labels), tag="learned")
    assert_verdict(verdict(LESSON, 3, pairs), CORRECT, "T-shirt/top / Shirt", "ex2_both/learned")
    assert_verdict(verdict(LESSON, 3), CORRECT, "comes first")  # the kept verdict
    assert_verdict(verdict(LESSON, 3, pairs.most_common()), CORRECT)
    assert_verdict(verdict(LESSON, 3, [("Shirt", "T-shirt/top"), ("Coat", "Pullover")]), CORRECT)
    # (a, b) and (b, a) counted apart: merged, the order is right again
    ordered = Counter()
    for (a, b), n in pairs.items():
        ordered[(a, b)] += n // 2
        ordered[(b, a)] += n - n // 2
    assert_verdict(verdict(LESSON, 3, ordered), CORRECT)
    assert_verdict(verdict(LESSON, 3, [("Coat", "Pullover")]), INCORRECT, "your first pair is")
    assert_verdict(verdict(LESSON, 3, {("Shirt", "Shirt"): 9}), INCORRECT, "different classes")
    assert_verdict(verdict(LESSON, 3, "Shirt"), INCORRECT, "got 'Shirt'")
    assert_verdict(verdict(LESSON, 3, [("Shirt", "Tshirt")]), INCORRECT, "not a pair of class")
    assert_verdict(verdict(LESSON, 3, 42), INCORRECT, "Counter")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "Counter")  # the kept verdict: the last one
