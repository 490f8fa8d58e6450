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


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "checked from your answer", "ex1.check(")
    assert_verdict(verdict(LESSON, 1, "Shirt"), NOT_ATTEMPTED, "05_figures/ex1_*")
    # the confusion matrix logged under the exercise's tag: no bars in it
    cm = torch.diag(torch.full((10,), 90)) + torch.randint(0, 4, (10, 10))
    log_figure("ex1_recall", "per_class_recall", plots.confusion_matrix_figure(cm))
    assert_verdict(verdict(LESSON, 1, "Shirt"), INCORRECT, "no filled bars", "one bar per class")
    plt.bar(range(10), RECALL)  # drawn on pyplot's current figure, then a new one logged
    log_figure("ex1_recall", "per_class_recall", plt.figure())
    assert_verdict(verdict(LESSON, 1, "Shirt"), INCORRECT, "is blank")
    log_figure("ex1_recall", "per_class_recall", bar_chart([*RECALL[:9], 0.0]))
    assert_verdict(verdict(LESSON, 1, "Shirt"), INCORRECT, "shows 9 filled bars")
    log_figure("ex1_recall", "per_class_recall", bar_chart())
    assert_verdict(verdict(LESSON, 1, "Pullover"), INCORRECT, "you answered Pullover", "ROW")
    assert_verdict(verdict(LESSON, 1, "Shrit"), INCORRECT, "not a class name")
    assert_verdict(verdict(LESSON, 1, "shirt"), CORRECT, "10 vertical bars", "step 215")
    assert_verdict(verdict(LESSON, 1, 6), CORRECT, "Shirt's")
    # the kept verdict is what a check without the answer reports
    assert_verdict(verdict(LESSON, 1), CORRECT, "10 vertical bars")


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
    assert_verdict(verdict(LESSON, 1, "Shirt"), CORRECT, "10 vertical bars")
    logs.writer(LESSON, "ex1_sorted").close()  # that run afresh, without the tag
    log_figure("ex1_horizontal", "per_class_recall", bar_chart(horizontal=True))
    assert_verdict(verdict(LESSON, 1, "Shirt"), CORRECT, "10 horizontal bars")


def mistakes_figure(right=0):
    """A predictions figure of 8 validation images an untrained network gets wrong; the labels
    of the first ``right`` of them are replaced by its predictions (titled green)."""
    torch.manual_seed(0)
    net = models.FastNet(width=4)
    images, labels = data.tensors(train=False)
    images, labels = images[:300], labels[:300]
    predicted, _ = plots.predict(net, images)
    wrong = (predicted != labels).nonzero().squeeze(1)[:8]
    labels = labels[wrong].clone()
    labels[:right] = predicted[wrong][:right]
    return plots.predictions_figure(net, images[wrong], labels)


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "05_figures/ex2_*")
    log_figure("ex2_mistakes", "mistaken", mistakes_figure())  # another tag
    assert_verdict(verdict(LESSON, 2), INCORRECT, "'mistakes'", "mistaken")
    log_figure("ex2_mistakes", "mistakes", mistakes_figure(right=3))
    assert_verdict(verdict(LESSON, 2), INCORRECT, "3 title(s) in green")
    log_figure("ex2_mistakes", "mistakes", mistakes_figure())
    assert_verdict(verdict(LESSON, 2), CORRECT, "8 images, all titled in red")


def test_ex2_counts_and_writers(attempt_root):
    from tensorboardX import SummaryWriter as TensorboardXWriter

    torch.manual_seed(0)
    net = models.FastNet(width=4)
    images, labels = data.tensors(train=False)
    predicted, _ = plots.predict(net, images[:100])
    wrong = (predicted != labels[:100]).nonzero().squeeze(1)[:5]
    five = plots.predictions_figure(net, images[wrong], labels[wrong])
    log_figure("ex2_five", "mistakes", five, writer_cls=TensorboardXWriter)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "has 5 red titles")
    # the Pillow picture of the same kind of images is fine too
    wrong = (predicted != labels[:100]).nonzero().squeeze(1)[:8]
    picture = plots.predictions_image(net, images[wrong], labels[wrong])
    with logs.writer(LESSON, "ex2_five") as writer:
        writer.add_image("mistakes", picture, 100, dataformats="HWC")
    assert_verdict(verdict(LESSON, 2), CORRECT, "step 100")


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
