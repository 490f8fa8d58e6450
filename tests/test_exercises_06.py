"""Lesson 06's checkers: a correct attempt, typical wrong ones, and none.

Training a network takes too long here: the "learned" features are drawn around one centre
per class (the tops near each other, Shirt nearest to T-shirt/top), which is what training
gives; an untrained network's real features serve as the typical wrong ones."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import torch
from exercise_helpers import assert_verdict, verdict
from torch.utils.tensorboard import SummaryWriter

from tbviz import data, exercises, logs, models
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
    assert_verdict(verdict(LESSON, 1), INCORRECT, "holds no embedding")
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


def log_ex1(run, features, labels, writer_cls=SummaryWriter):
    rows = [[name, KIND.get(name, "other")] for name in names(labels)]
    with logs.writer(LESSON, run, writer_cls=writer_cls) as writer:
        logs.add_embedding(
            writer, features, metadata=rows, metadata_header=["class", "kind"], tag="learned"
        )


def written_at(attempt_root, run, seconds):
    """Set the time the run's event files were written, in seconds after the epoch."""
    for file in (attempt_root / LESSON / run).glob("events.out.tfevents.*"):
        os.utime(file, (seconds, seconds))


def test_ex1_untrained_features(attempt_root, test_images):
    # an untrained network's features already group the shoes and the tops by their pixels;
    # their 5-NN accuracy (about 65%) is what tells them from a trained network's
    images, labels = test_images[0][:300], test_images[1][:300]
    log_ex1("ex1_untrained", untrained(images), labels)
    assert_verdict(
        verdict(LESSON, 1), INCORRECT, "5-NN accuracy", "are these the features of the trained"
    )


def test_ex1_more_points_and_nan(attempt_root, test_images):
    labels = test_images[1][:400]
    features = learned(labels)
    log_ex1("ex1_more", features, labels)
    assert_verdict(verdict(LESSON, 1), CORRECT, "400 points of 128 features")
    features[7, 3] = float("nan")
    log_ex1("ex1_more", features, labels)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "1 of its 400 points holds NaN")
    features[8, 3] = float("nan")
    log_ex1("ex1_more", features, labels)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 of its 400 points hold NaN")


def test_ex1_a_failed_run_beside_a_correct_one(attempt_root, test_images):
    images, labels = test_images[0][:300], test_images[1][:300]
    log_ex1("ex1_try1", untrained(images), labels)  # judged first by name: it must not hide try2
    log_ex1("ex1_try2", learned(labels), labels)
    assert_verdict(verdict(LESSON, 1), CORRECT, "ex1_try2/learned", "ex1_try2 passes")
    # both wrong: the newest run's failure, named
    log_ex1("ex1_try2", images.reshape(300, -1), labels)
    written_at(attempt_root, "ex1_try1", 1_000_000)
    written_at(attempt_root, "ex1_try2", 2_000_000)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "the newest, ex1_try2", "the pixels")
    written_at(attempt_root, "ex1_try1", 3_000_000)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "the newest, ex1_try1", "trained network")


def test_ex2_a_failed_run_beside_a_correct_one(attempt_root, test_images):
    images, labels = test_images
    pixels = images.reshape(len(images), -1)
    for run, features in (("ex2_trained", learned(labels)), ("ex2_untrained", untrained(images))):
        with logs.writer(LESSON, run) as writer:
            logs.add_embedding(writer, pixels, metadata=names(labels), tag="pixels")
            logs.add_embedding(writer, features, metadata=names(labels), tag="learned")
    # ex2_untrained, last by name, must not hide ex2_trained
    assert_verdict(verdict(LESSON, 2), CORRECT, "run ex2_trained lists", "ex2_trained passes")
    (attempt_root / LESSON / "ex2_trained").rename(attempt_root / LESSON / "trained")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "TRAINED network")


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


def test_ex3_solution_keeps_the_answer(capsys):
    ex3 = exercises.for_lesson(LESSON)[2]
    ex3.solution()
    for hint in range(1, len(ex3.hints) + 1):
        ex3.hint(hint)
    said = capsys.readouterr().out + ex3.answer
    assert "solutions/06_embeddings_solutions.ipynb" in said
    for name in ("T-shirt/top", "Shirt", "Pullover", "Coat"):
        assert name not in said, name


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
    wrong_first = verdict(LESSON, 3, [("Coat", "Pullover")])
    assert_verdict(wrong_first, INCORRECT, "your first pair is", "another pair more often")
    assert "T-shirt/top" not in wrong_first.message  # the answer is not given away
    # the right first pair with a count far from the checker's: the top count is checked
    (top, best), *rest = pairs.most_common()
    assert_verdict(verdict(LESSON, 3, [(top, best * 2), *rest]), INCORRECT, f"give {best}")
    assert_verdict(verdict(LESSON, 3, {top: 1000}), INCORRECT, "counted it 1000 times")
    assert_verdict(verdict(LESSON, 3, [(top, round(best * 1.08)), *rest]), CORRECT)
    assert_verdict(verdict(LESSON, 3, {("Shirt", "Shirt"): 9}), INCORRECT, "different classes")
    assert_verdict(verdict(LESSON, 3, "Shirt"), INCORRECT, "got 'Shirt'")
    assert_verdict(verdict(LESSON, 3, [("Shirt", "Tshirt")]), INCORRECT, "not a pair of class")
    assert_verdict(verdict(LESSON, 3, 42), INCORRECT, "Counter")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "Counter")  # the kept verdict: the last one
