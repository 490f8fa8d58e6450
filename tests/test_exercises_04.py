"""Lesson 04's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import pytest
import torch
from exercise_helpers import assert_verdict, verdict
from torch import nn
from torchvision.transforms import v2

from tbviz import data, logs, models, runtime
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "04_images"


@pytest.fixture(scope="module")
def test_set():
    return data.tensors(train=False)


def filters(net, *, scale=True, enlarge=8):
    weight = net.features_net[0][0].weight.detach().clone()
    if scale:
        low = weight.amin(dim=(1, 2, 3), keepdim=True)
        weight = (weight - low) / (weight.amax(dim=(1, 2, 3), keepdim=True) - low)
    return nn.functional.interpolate(weight, scale_factor=enlarge, mode="nearest")


def log_filters(run, test_set, *, batches=5, steps=(0, "end"), grid=logs.add_image_grid, **kw):
    runtime.seed(0)
    images, labels = test_set
    net = models.FastNet(width=16)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    with logs.writer(LESSON, run) as writer:
        if 0 in steps:
            grid(writer, "conv1/filters", filters(net, **kw), 0)
        for step in range(1, batches + 1):
            batch = slice(64 * (step - 1), 64 * step)
            loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if "end" in steps:
            grid(writer, "conv1/filters", filters(net, **kw), batches)
        if "again" in steps:  # the grid "after training" logged again from the step-0 weights
            runtime.seed(0)
            grid(writer, "conv1/filters", filters(models.FastNet(width=16), **kw), batches)


def test_ex1(attempt_root, test_set):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "04_images/ex1_*")
    log_filters("ex1_filters", test_set, steps=("end",))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "logged at steps [5]", "step 0")
    log_filters("ex1_filters", test_set, enlarge=1)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "tiles are 3 x 3", "enlarge")
    log_filters("ex1_filters", test_set, scale=False)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "not 0 to 1", "on its own")
    log_filters("ex1_filters", test_set, steps=(0, "again"))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "identical")
    log_filters("ex1_filters", test_set)
    assert_verdict(verdict(LESSON, 1), CORRECT, "steps 0 and 5", "16 tiles of 24 x 24")


def test_ex1_other_layouts(attempt_root, test_set):
    def add_images(writer, tag, images, step):  # no borders, 8 per row
        writer.add_images(tag, images, step)

    log_filters("ex1_add_images", test_set, grid=add_images, enlarge=4)
    assert_verdict(verdict(LESSON, 1), CORRECT, "16 tiles of 12 x 12")

    def four_per_row(writer, tag, images, step):
        logs.add_image_grid(writer, tag, images, step, nrow=4)

    log_filters("ex1_add_images", test_set, grid=four_per_row)
    assert_verdict(verdict(LESSON, 1), CORRECT, "16 tiles of 24 x 24")
    log_filters("ex1_second", test_set)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 image tags", "one tag")


def test_ex1_other_images_beside_the_grid(attempt_root, test_set):
    """A harmless extra image tag, in another run or in the same one, does not hide the grid."""
    log_filters("ex1_conv1", test_set)
    with logs.writer(LESSON, "ex1_conv1_extra") as writer:
        writer.add_images("samples", data.unnormalize(test_set[0][:8]), 0)
    assert_verdict(verdict(LESSON, 1), CORRECT, "run ex1_conv1 logs conv1/filters", "16 tiles")
    log_filters("ex1_conv1", test_set)
    with logs.writer(LESSON, "ex1_conv1_extra") as writer:  # samples, predictions after training
        writer.add_images("samples", data.unnormalize(test_set[0][:16]), 0)
        writer.add_images("predictions", data.unnormalize(test_set[0][:16]), 5)
    assert_verdict(verdict(LESSON, 1), CORRECT, "run ex1_conv1 logs conv1/filters")

    def with_samples(writer, tag, images, step):  # an extra tag in the same run
        logs.add_image_grid(writer, tag, images, step)
        writer.add_images("samples", data.unnormalize(test_set[0][:4]), step)

    logs.writer(LESSON, "ex1_conv1_extra").close()
    log_filters("ex1_conv1", test_set, grid=with_samples)
    assert_verdict(verdict(LESSON, 1), CORRECT, "run ex1_conv1 logs conv1/filters")
    log_filters("ex1_conv1", test_set, grid=with_samples, steps=("end",))  # none at step 0
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 image tags", "none a grid of 16 tiles")


def log_classes(run, test_set, *, tag=lambda name: f"class/{name.replace('/', '_')}", shift=0):
    images, labels = test_set
    with logs.writer(LESSON, run) as writer:
        for index, name in enumerate(data.CLASSES):
            first = images[(labels == (index + shift) % 10).nonzero()[0, 0]]
            writer.add_image(tag(name), data.unnormalize(first), 0)


def test_ex2(attempt_root, test_set):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "04_images/ex2_*")
    log_classes("ex2_classes", test_set, tag=lambda name: f"class/{name}")  # the slash kept
    assert_verdict(verdict(LESSON, 2), INCORRECT, "'class/T-shirt/top'", "'top'", "replace")
    log_classes("ex2_classes", test_set, shift=1)  # each image under the next class's name
    assert_verdict(verdict(LESSON, 2), INCORRECT, "is a Fashion-MNIST Trouser, not a T-shirt/top")
    log_classes("ex2_classes", test_set, tag=lambda name: f"class/{len(name)}")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "names a class of data.CLASSES")
    with logs.writer(LESSON, "ex2_classes") as writer:
        for name in data.CLASSES[1:]:
            writer.add_image(f"class/{name}", data.unnormalize(test_set[0][0]), 0)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no image tag for ['T-shirt/top']")
    log_classes("ex2_classes", test_set)
    assert_verdict(verdict(LESSON, 2), CORRECT, "10 of them found", "'class/T-shirt_top'")


def test_ex2_card_titled_top(attempt_root, test_set):
    """class/top names T-shirt/top by its last word only: the card would read 'top'."""
    log_classes("ex2_classes", test_set, tag=lambda name: f"class/{name.split('/')[-1]}")
    result = verdict(LESSON, 2)
    assert_verdict(result, INCORRECT, "the card reads 'top', which does not say T-shirt")
    log_classes("ex2_classes", test_set, tag=lambda name: f"{name.replace('/', '_')}/image")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "titles its card 'image'", "T-shirt")


MILD = v2.Compose([v2.RandomRotation(10), v2.RandomResizedCrop(28, scale=(0.85, 1.0))])
STRONG = v2.Compose(
    [
        v2.RandomRotation(45),
        v2.RandomResizedCrop(28, scale=(0.4, 1.0)),
        v2.RandomErasing(p=1.0, scale=(0.1, 0.3), value=0.5),
    ]
)


def log_views(run, pipeline, test_set, *, tag="augment/views", original=True, grid=True):
    image = data.unnormalize(test_set[0][0])
    torch.manual_seed(0)
    views = torch.stack([image] * original + [pipeline(image) for _ in range(16 - original)])
    with logs.writer(LESSON, run) as writer:
        if grid:
            logs.add_image_grid(writer, tag, views, 0)
        else:
            writer.add_images(tag, views, 0)


def test_ex3(attempt_root, test_set):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "ex3_mild and ex3_strong")
    log_views("ex3_mild", MILD, test_set)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "0 runs", "'strong'")
    log_views("ex3_strong", STRONG, test_set, tag="strong/views")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "share no image tag", "the same tag")
    log_views("ex3_strong", MILD, test_set)
    log_views("ex3_mild", STRONG, test_set)  # the pipelines swapped
    assert_verdict(verdict(LESSON, 3), INCORRECT, "should change the image more")
    log_views("ex3_strong", STRONG, test_set)
    log_views("ex3_mild", MILD, test_set)
    assert_verdict(verdict(LESSON, 3), CORRECT, "from the original (the first tile)")
    # without the original, as add_images batches: the views compared with each other
    log_views("ex3_strong", STRONG, test_set, original=False, grid=False)
    log_views("ex3_mild", MILD, test_set, original=False, grid=False)
    assert_verdict(verdict(LESSON, 3), CORRECT, "between every two views")


def test_ex3_one_run_both_mild_and_strong(attempt_root, test_set):
    log_views("ex3_mild_vs_strong", STRONG, test_set)
    assert_verdict(
        verdict(LESSON, 3),
        INCORRECT,
        "one run has both 'mild' and 'strong' in its name (ex3_mild_vs_strong)",
        "ex3_mild and ex3_strong",
    )


def test_odd_runs(attempt_root, test_set):
    """An empty run, another lesson's run, tensorboardX's logs: a clear verdict, never a crash."""
    from tensorboardX import SummaryWriter as XWriter

    for number in (1, 2):
        logs.writer(LESSON, f"ex{number}_empty").close()  # an event file with no events
    assert_verdict(verdict(LESSON, 1), INCORRECT, "have no images")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "tags: none")
    with logs.writer(LESSON, "ex3_mild") as writer:  # a run of lesson 03 under this name
        writer.add_histogram("weights/w", torch.randn(10), 0)
    log_views("ex3_strong", STRONG, test_set)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "share no image tag")
    image = data.unnormalize(test_set[0][0])
    torch.manual_seed(0)
    for run, pipeline in (("ex3_mild", MILD), ("ex3_strong", STRONG)):
        logs.writer(LESSON, run).close()
        with XWriter(str(logs.run_dir(LESSON, run))) as writer:
            for step in range(4):  # one view per step
                writer.add_image("views", pipeline(image), step)
    assert_verdict(verdict(LESSON, 3), CORRECT, "between every two views")
