"""Lesson 07's checkers: a correct attempt, typical wrong ones, and none.

The curves are drawn from made-up scores (a weak Shirt, a strong Trouser), as cheap stand-ins
for a trained network's probabilities; the checkers see the same kind of tensors."""

from __future__ import annotations

import torch
from exercise_helpers import assert_verdict, verdict

from tbviz import events, logs
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "07_pr_curves"


def scores(n, share, separation, seed):
    """(truth, score): ``share`` of ``n`` images positive, their scores ``separation`` higher."""
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(n, generator=generator) < share
    noise = torch.randn(n, generator=generator)
    return truth, torch.sigmoid(noise + separation * truth.float() - 1)


def read_table(run, tag, step=1):
    from tensorboard.util import tensor_util

    logged = events.accumulator(run).Tensors(tag)
    return {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in logged}[step]


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "07_pr_curves/ex1_*")
    truth, score = scores(5000, 0.1, 2.0, seed=0)
    with logs.writer(LESSON, "ex1_thresholds") as writer:  # num_thresholds forgotten
        writer.add_pr_curve("Shirt/coarse", truth, score, 1)
        writer.add_pr_curve("Shirt/fine", truth, score, 1)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "num_thresholds=11")
    predicted = score >= score.quantile(0.9)  # the mix-up: the model's calls as the truth
    with logs.writer(LESSON, "ex1_thresholds") as writer:
        writer.add_pr_curve("Shirt/11", predicted, score, 1, num_thresholds=11)
        writer.add_pr_curve("Shirt/127", predicted, score, 1, num_thresholds=127)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "looks perfect")
    with logs.writer(LESSON, "ex1_thresholds") as writer:
        writer.add_pr_curve("Shirt/11", truth, score, 1, num_thresholds=11)
        writer.add_pr_curve("Shirt/127", truth, score, 1, num_thresholds=127)
    assert_verdict(verdict(LESSON, 1), CORRECT, "6 x 11", "6 x 127", "apart")


def test_ex1_two_runs_and_tensorboardx(attempt_root):
    from tensorboardX import SummaryWriter

    truth, score = scores(5000, 0.1, 2.0, seed=0)
    for n in (11, 127):
        with SummaryWriter(str(attempt_root / LESSON / f"ex1_n={n}")) as writer:
            writer.add_pr_curve("Shirt", truth.numpy(), score.numpy(), 1, num_thresholds=n)
    assert_verdict(verdict(LESSON, 1), CORRECT, "ex1_n=11", "ex1_n=127")
    other_truth, other_score = scores(5000, 0.1, 2.0, seed=1)  # another network's scores
    with logs.writer(LESSON, "ex1_n=11") as writer:
        writer.add_pr_curve("Shirt", other_truth, other_score, 1, num_thresholds=11)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "different images")


def log_operating_point(run, val, test, *, off_by_one=False, skip=0, test_curve=True):
    """Exercise 2 as the solution does it, with the slips the checker should catch."""
    with logs.writer(LESSON, run) as writer:
        writer.add_pr_curve("pr/Shirt", *val, 1)
        writer.flush()
        tp, fp, _, _, precision, recall = read_table(attempt_root_of(run), "pr/Shirt")
        k = next(k for k in range(127) if tp[k] + fp[k] > 0 and precision[k] >= 0.9) + skip
        threshold = k / (127 if off_by_one else 126)
        truth, score = test
        if test_curve:
            writer.add_pr_curve("pr_test/Shirt", truth, score, 1)
            writer.flush()
            table = read_table(attempt_root_of(run), "pr_test/Shirt")
            test_precision, test_recall = table[4, k], table[5, k]
        else:  # counted directly (here at threshold 0.5: the wrong column)
            called = score >= 0.5
            test_precision = ((called & truth).sum() / called.sum()).item()
            test_recall = ((called & truth).sum() / truth.sum()).item()
        point = {
            "threshold": threshold,
            "val_precision": precision[k],
            "val_recall": recall[k],
            "test_precision": test_precision,
            "test_recall": test_recall,
        }
        for name, value in point.items():
            writer.add_scalar(f"operating_point/{name}", value, 1)


def attempt_root_of(run):
    return logs.run_dir(LESSON, run)


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED)
    val, test = scores(5000, 0.1, 2.5, seed=0), scores(10_000, 0.1, 2.5, seed=1)
    log_operating_point("ex2_point", val, test, off_by_one=True)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "not k / 127")
    log_operating_point("ex2_point", val, test, skip=3)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "already reaches 0.9")
    log_operating_point("ex2_point", val, test, test_curve=False)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "far from validation's")
    log_operating_point("ex2_point", val, test)
    assert_verdict(verdict(LESSON, 2), CORRECT, "matching 'pr_test/Shirt'", "reaches 0.9")


def test_ex2_no_scalars_or_chosen_on_test(attempt_root):
    val, test = scores(5000, 0.1, 2.5, seed=0), scores(10_000, 0.1, 2.5, seed=1)
    with logs.writer(LESSON, "ex2_point") as writer:
        writer.add_pr_curve("pr/Shirt", *val, 1)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "val_precision", "operating_point/threshold")
    log_operating_point("ex2_point", test, val)  # the splits swapped: chosen on the test split
    assert_verdict(verdict(LESSON, 2), INCORRECT, "that is the test split")


def log_pairs(run, *, restrict=True, easy_separation=4.0):
    with logs.writer(LESSON, run) as writer:
        for tag, separation, seed in (
            ("pairs/Shirt vs T-shirt", 1.0, 0),
            ("pairs/Trouser vs Dress", easy_separation, 1),
        ):
            # two classes of 500 images each, or (not restricted) among 5,000 images
            truth, score = scores(
                1000 if restrict else 5000, 0.5 if restrict else 0.1, separation, seed
            )
            writer.add_pr_curve(tag, truth, score, 1)


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "07_pr_curves/ex3_*")
    log_pairs("ex3_pairs", restrict=False)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "keep only the validation images")
    log_pairs("ex3_pairs", easy_separation=0.2)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "trousers from dresses better")
    log_pairs("ex3_pairs")
    assert_verdict(verdict(LESSON, 3), CORRECT, "separates Trouser from Dress better")


def test_ex3_one_pair_only(attempt_root):
    with logs.writer(LESSON, "ex3_pairs") as writer:
        writer.add_pr_curve("pairs/Shirt vs T-shirt", *scores(1000, 0.5, 1.0, 0), 1)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "0 PR curves have 'trouser'")


def test_ex1_predictions_as_labels_with_a_weak_model(attempt_root):
    """The mix-up with a model too weak for the curve to look perfect: labels = argmax."""
    generator = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 10, (5000,), generator=generator)
    logits = torch.randn(5000, 10, generator=generator) + 1.5 * torch.nn.functional.one_hot(truth)
    probs = torch.softmax(logits, dim=1)
    shirt = 6
    with logs.writer(LESSON, "ex1_argmax") as writer:
        for n in (11, 127):
            labels = probs.argmax(1) == shirt
            writer.add_pr_curve(f"Shirt/{n}", labels, probs[:, shirt], 1, num_thresholds=n)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "the model's own predictions")
    with logs.writer(LESSON, "ex1_argmax") as writer:
        for n in (11, 127):
            writer.add_pr_curve(f"Shirt/{n}", truth == shirt, probs[:, shirt], 1, num_thresholds=n)
    assert_verdict(verdict(LESSON, 1), CORRECT, "6 x 11")
