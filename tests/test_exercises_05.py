"""Lesson 05's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from exercise_helpers import assert_verdict, verdict

from tbviz import data, logs, models, plots
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, lesson05

LESSON = "05_figures"
# the recalls of the lesson's network (section 5), Shirt's the lowest
RECALL = [0.833, 0.984, 0.834, 0.905, 0.863, 0.973, 0.772, 0.949, 0.978, 0.950]


def log_figure(run, tag, figure, step=215, writer_cls=None):
    with logs.writer(LESSON, run, writer_cls=writer_cls) as writer:
        writer.add_figure(tag, figure, step)


def bar_chart(recall=RECALL, horizontal=False):
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if horizontal:
        ax.barh(data.CLASSES, recall)
    else:
        ax.bar(data.CLASSES, recall, color="tab:orange")
        ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


def matrix(recall=RECALL, per_class=500):
    """A confusion matrix with these recalls: each class's misses all go to the next class, so
    its precision differs from its recall."""
    cm = torch.zeros(10, 10, dtype=torch.long)
    for i, r in enumerate(recall):
        cm[i, i] = round(r * per_class)
        cm[i, (i + 1) % 10] = per_class - cm[i, i]
    return cm


def test_ex1(attempt_root):
    cm = matrix()
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "checked from your answer", "ex1.check(")
    assert_verdict(verdict(LESSON, 1, "Shirt", cm), NOT_ATTEMPTED, "05_figures/ex1_*")
    assert_verdict(verdict(LESSON, 1, "Shirt"), INCORRECT, "called as ex1.check(lowest, cm)")
    # the confusion matrix logged under the exercise's tag: no bars in it
    log_figure("ex1_recall", "per_class_recall", plots.confusion_matrix_figure(cm))
    assert_verdict(
        verdict(LESSON, 1, "Shirt", cm), INCORRECT, "no filled bars", "one bar per class"
    )
    plt.bar(range(10), RECALL)  # drawn on pyplot's current figure, then a new one logged
    log_figure("ex1_recall", "per_class_recall", plt.figure())
    assert_verdict(verdict(LESSON, 1, "Shirt", cm), INCORRECT, "is blank")
    zero = [*RECALL[:9], 0.0]
    log_figure("ex1_recall", "per_class_recall", bar_chart(zero))
    result = verdict(LESSON, 1, "Ankle boot", matrix(zero))
    assert_verdict(result, INCORRECT, "shows 9 filled bars", "recall is 0 draws no bar")
    precision = (cm.diag() / cm.sum(dim=0)).tolist()  # the other total
    log_figure("ex1_recall", "per_class_recall", bar_chart(precision))
    assert_verdict(verdict(LESSON, 1, "Shirt", cm), INCORRECT, "precision", "ROW total")
    log_figure("ex1_recall", "per_class_recall", bar_chart())
    assert_verdict(verdict(LESSON, 1, "Pullover", cm), INCORRECT, "you answered Pullover")
    assert_verdict(verdict(LESSON, 1, "Shrit", cm), INCORRECT, "not a class name")
    assert_verdict(verdict(LESSON, 1, "Shirt", cm.T), INCORRECT, "not the recalls")
    assert_verdict(verdict(LESSON, 1, "shirt", cm), CORRECT, "vertical bars", "step 215")
    assert_verdict(verdict(LESSON, 1, 6, cm.numpy()), CORRECT, "Shirt's")
    # the kept verdict is what a check without the answer reports
    assert_verdict(verdict(LESSON, 1), CORRECT, "vertical bars")


def test_ex1_the_learners_own_network(attempt_root):
    """Another network's lowest class is the right answer for it: nothing fixed on Shirt."""
    recall = list(RECALL)
    recall[8], recall[6] = 0.70, 0.80  # Bag lowest
    log_figure("ex1_mine", "per_class_recall", bar_chart(recall))
    assert_verdict(verdict(LESSON, 1, "Shirt", matrix(recall)), INCORRECT, "is Bag's")
    assert_verdict(verdict(LESSON, 1, "Bag", matrix(recall)), CORRECT, "lowest is Bag's")


def test_ex1_other_charts(attempt_root):
    """Bars sorted, horizontal, in several colours, with a grid: all are one bar per class."""
    order = np.argsort(RECALL)
    fig, ax = plt.subplots()
    bars = ax.bar(range(10), np.array(RECALL)[order], color=plt.cm.tab10(range(10)))
    ax.bar_label(bars, fmt="%.2f", label_type="center")
    ax.grid(True)
    ax.set_xticks(range(10), [data.CLASSES[i] for i in order], rotation=90)
    fig.tight_layout()
    log_figure("ex1_sorted", "per_class_recall", fig)
    assert_verdict(verdict(LESSON, 1, "Shirt", matrix()), CORRECT, "vertical bars")
    logs.writer(LESSON, "ex1_sorted").close()  # that run afresh, without the tag
    log_figure("ex1_horizontal", "per_class_recall", bar_chart(horizontal=True))
    assert_verdict(verdict(LESSON, 1, "Shirt", matrix()), CORRECT, "horizontal bars")


@pytest.fixture(scope="module")
def untrained():
    """An untrained network's probabilities on the validation split, and its mistakes sorted
    by confidence, highest first."""
    torch.manual_seed(0)
    net = models.FastNet(width=4)
    val = data.load_splits()[1]
    probs = models.predict_probs(net, val.images)
    confidence, predicted = probs.max(dim=1)
    wrong = (predicted != val.labels).nonzero().squeeze(1)
    wrong = wrong[confidence[wrong].argsort(descending=True)]
    return net, val, probs, wrong


def mistakes_figure(untrained, picked, right=0):
    """The predictions figure of validation images ``picked``; the labels of the first
    ``right`` of them replaced by the predictions (titled green)."""
    net, val, probs, _ = untrained
    labels = val.labels[picked].clone()
    labels[:right] = probs[picked].argmax(dim=1)[:right]
    return plots.predictions_figure(net, val.images[picked], labels)


def test_ex2(attempt_root, untrained):
    _, val, probs, wrong = untrained
    worst, mild = wrong[:8], wrong[-8:]
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "checked from your answer")
    assert_verdict(verdict(LESSON, 2, probs, worst), NOT_ATTEMPTED, "05_figures/ex2_*")
    log_figure("ex2_mistakes", "mistaken", mistakes_figure(untrained, worst))  # another tag
    assert_verdict(verdict(LESSON, 2, probs, worst), INCORRECT, "'mistakes'", "mistaken")
    log_figure("ex2_mistakes", "mistakes", mistakes_figure(untrained, worst, right=3))
    assert_verdict(verdict(LESSON, 2, probs, worst), INCORRECT, "3 title(s) in green")
    log_figure("ex2_mistakes", "mistakes", mistakes_figure(untrained, mild))
    assert_verdict(verdict(LESSON, 2, probs, mild), INCORRECT, "not the most confident ones")
    right = (probs.argmax(dim=1) == val.labels).nonzero().squeeze(1)[:1]
    assert_verdict(
        verdict(LESSON, 2, probs, torch.cat([worst[:7], right])), INCORRECT, "predicted right"
    )
    assert_verdict(verdict(LESSON, 2, probs[:100], worst), INCORRECT, "5000 x 10")
    log_figure("ex2_mistakes", "mistakes", mistakes_figure(untrained, worst))
    assert_verdict(verdict(LESSON, 2, probs, worst), CORRECT, "8 images, all titled in red")


def test_ex2_counts_and_writers(attempt_root, untrained):
    from tensorboardX import SummaryWriter as TensorboardXWriter

    net, val, probs, wrong = untrained
    five = plots.predictions_figure(net, val.images[wrong[:5]], val.labels[wrong[:5]])
    log_figure("ex2_five", "mistakes", five, writer_cls=TensorboardXWriter)
    assert_verdict(verdict(LESSON, 2, probs, wrong[:8]), INCORRECT, "has 5 red titles")
    # the Pillow picture of the same kind of images is fine too
    picture = plots.predictions_image(net, val.images[wrong[:8]], val.labels[wrong[:8]])
    with logs.writer(LESSON, "ex2_five") as writer:
        writer.add_image("mistakes", picture, 100, dataformats="HWC")
    assert_verdict(verdict(LESSON, 2, probs, wrong[:8]), CORRECT, "step 100")


def three_figures(sizes=((2, 2.2), (2, 2.2), (2, 2.2))):
    images, _ = data.tensors(train=True)
    figures = []
    for k, size in enumerate(sizes):
        fig, axes = plt.subplots(2, 2, figsize=size)
        for ax, image in zip(axes.flat, images[4 * k : 4 * k + 4], strict=True):
            ax.imshow(data.unnormalize(image).squeeze().numpy(), cmap="gray_r")
            ax.axis("off")
        figures.append(fig)
    return figures


def test_ex3(attempt_root):
    figures = three_figures()
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "checked from your answer")
    assert_verdict(verdict(LESSON, 3, figures), NOT_ATTEMPTED, "05_figures/ex3_*")
    with logs.writer(LESSON, "ex3_list") as writer:  # one figure at a time
        for figure in figures:
            writer.add_figure("three", figure, 0, close=False)
    assert_verdict(verdict(LESSON, 3, figures), INCORRECT, "3 images of one figure's size", "ONE")
    assert_verdict(verdict(LESSON, 3, figures[0]), INCORRECT, "not one figure")
    assert_verdict(verdict(LESSON, 3, three_figures([(2, 2.2), (3, 2.2)])), INCORRECT, "differ")
    log_figure("ex3_list", "three", figures, step=0)
    assert_verdict(verdict(LESSON, 3, figures), CORRECT, "ONE image", "600 x 220", "side by side")
    assert_verdict(verdict(LESSON, 3, [*figures, figures[0]]), INCORRECT, "no image", "tiled")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_helpers_ignore_other_pictures():
    """The pixel readers find no bars in a grid of images, no titles in a blank picture."""
    grid = plots.image_grid(*data.subset(*data.tensors(train=True), 9))
    from torch.utils.tensorboard._utils import figure_to_image

    rgb = lesson05._rgb(figure_to_image(grid).transpose(1, 2, 0) / 255)
    assert lesson05._bars(rgb) is None
    red, green = lesson05._colour_masks(np.full((50, 50, 3), 255))
    assert lesson05._blobs(red) == lesson05._blobs(green) == 0
