"""Lesson 09's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import pytest
import torch
from exercise_helpers import assert_verdict, verdict, write_scalars
from torch import nn

from tbviz import logs, train
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "09_activations_gradients"
STEPS = [1, *range(25, 301, 25)]


def probe_logs(run, first_ratio, last_ratio, accuracy, layers=8):
    """What train_mlp logs, by hand: grad_norm/layerN (layer8 at 1.0, layer1 at the ratio,
    moving from first_ratio to last_ratio over training) and Accuracy/val at step 300."""
    scalars = {}
    for n in range(1, layers + 1):
        share = [
            (first_ratio * (last_ratio / first_ratio) ** (i / (len(STEPS) - 1))) ** ((8 - n) / 7)
            for i in range(len(STEPS))
        ]
        scalars[f"grad_norm/layer{n}"] = list(zip(STEPS, share, strict=True))
    scalars["Accuracy/val"] = [(300, accuracy)]
    return write_scalars(run, scalars)


def test_ex1(attempt_root):
    lesson = attempt_root / LESSON
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "09_activations_gradients/ex1_*")
    probe_logs(lesson / "ex1_tanh", 9e-7, 6.4e-7, 0.105)  # still the sigmoid network
    assert_verdict(verdict(LESSON, 1), INCORRECT, "sigmoid network's picture", "nn.Tanh")
    logs.writer(LESSON, "ex1_tanh").close()
    probe_logs(lesson / "ex1_tanh", 1.5e-2, 2.9, 0.676, layers=1)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "layers [1]")
    logs.writer(LESSON, "ex1_tanh").close()
    probe_logs(lesson / "ex1_tanh", 1.5e-2, 2.9, 0.676)
    assert_verdict(verdict(LESSON, 1), CORRECT, "2.9e+00 at step 300", "67.6%", "no sigmoid")
    probe_logs(lesson / "sigmoid", 9e-7, 6.4e-7, 0.105)  # the lesson's own runs
    probe_logs(lesson / "relu_bn", 4.3, 1.6, 0.82)
    assert_verdict(verdict(LESSON, 1), CORRECT, "sigmoid (sigmoid): 6.4e-07, 10.5%", "82.0%")


def test_ex1_which_run(attempt_root):
    lesson = attempt_root / LESSON
    probe_logs(lesson / "ex1_a", 1.5e-2, 2.9, 0.676)
    probe_logs(lesson / "ex1_b", 1.5e-2, 2.9, 0.676)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "put 'tanh' in its name")
    write_scalars(lesson / "ex2_other", {"Accuracy/val": [(300, 0.5)]})  # another exercise's
    write_scalars(lesson / "ex1_empty", {"Loss/train": [(1, float("nan"))]})
    logs.writer(LESSON, "ex1_b").close()
    probe_logs(lesson / "ex1_tanh", 1.5e-2, float("nan"), 0.676)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "NaN or infinite")


def clip_training(run, *, max_norm=1.0, after_is_return_value=False, steps=150):
    """A small BatchNorm + ReLU network on random data, clipped, both norms logged per step."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    x, y = torch.randn(512, 20), torch.randint(0, 4, (512,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    with logs.writer(LESSON, run) as writer:
        for step in range(1, steps + 1):
            batch = torch.randint(0, 512, (64,))
            loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            before = nn.utils.clip_grad_norm_(net.parameters(), max_norm=max_norm)
            norms = torch.stack([p.grad.norm() for p in net.parameters()])
            after = before if after_is_return_value else torch.linalg.vector_norm(norms)
            writer.add_scalar("grad_total/before_clip", before.item(), step)
            writer.add_scalar("grad_total/after_clip", after.item(), step)
            optimizer.step()


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2_*")
    clip_training("ex2_clip", max_norm=0.5, after_is_return_value=True)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "clipping never acted", "return value")
    clip_training("ex2_clip", max_norm=0.5, steps=40)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "40 points", "every training step")
    clip_training("ex2_clip", max_norm=0.5)
    result = verdict(LESSON, 2)
    assert_verdict(result, CORRECT, "max_norm 0.5 acted on", "of 150 steps")


def test_ex2_wrong_norms(attempt_root):
    run = attempt_root / LESSON / "ex2_clip"
    before = [(s, 2.0 if s % 2 else 0.5) for s in range(1, 121)]
    swapped = [(s, min(v, 1.0)) for s, v in before]
    write_scalars(run, {"grad_total/before_clip": swapped, "grad_total/after_clip": before})
    assert_verdict(verdict(LESSON, 2), INCORRECT, "Are the two tags swapped")
    logs.writer(LESSON, "ex2_clip").close()
    one_param = [(s, min(v, 1.0) * (0.6 if s % 4 == 1 else 1.0)) for s, v in before]
    write_scalars(run, {"grad_total/before_clip": before, "grad_total/after_clip": one_param})
    result = verdict(LESSON, 2)
    assert_verdict(result, INCORRECT, "differ from step to step where clipping acted")
    assert "about" not in result.message  # max_norm is not known, only guessed from the logs
    logs.writer(LESSON, "ex2_clip").close()
    summed = [(s, 1.6 if v > 1 else 0.8) for s, v in before]  # sum of per-parameter norms
    write_scalars(run, {"grad_total/before_clip": before, "grad_total/after_clip": summed})
    assert_verdict(
        verdict(LESSON, 2), INCORRECT, "swapped, or is after_clip a sum of per-parameter norms"
    )


def test_ex2_one_parameter_trained(attempt_root):
    """after_clip taken from one parameter's gradient (real training): not quoted as max_norm."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    x, y = torch.randn(512, 20), torch.randint(0, 4, (512,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    with logs.writer(LESSON, "ex2_clip") as writer:
        for step in range(1, 121):
            batch = torch.randint(0, 512, (64,))
            loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            before = nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.5)
            writer.add_scalar("grad_total/before_clip", before.item(), step)
            writer.add_scalar("grad_total/after_clip", net[0].weight.grad.norm().item(), step)
            optimizer.step()
    result = verdict(LESSON, 2)
    assert_verdict(result, INCORRECT, "differ from step to step", "not one parameter's")
    assert "about" not in result.message


def first_conv_filters(run, *, scale=True, clone=True):
    """FastNet's first-conv filters, before and after a stand-in for training (a nudge to
    every weight), logged with add_images under one tag at two steps."""
    torch.manual_seed(0)
    net = train.Config(epochs=1, width=8).build_model()
    weight = net.features_net[0][0].weight
    initial = weight.detach().cpu()
    initial = initial.clone() if clone else initial
    with torch.no_grad():  # "training"
        weight.add_(0.1 * torch.randn_like(weight))
    trained = weight.detach().cpu()
    s = max(initial.abs().max(), trained.abs().max())

    def pixels(w):
        w = (0.5 + 0.5 * w / s) if scale else w
        return w.repeat_interleave(10, dim=2).repeat_interleave(10, dim=3)

    with logs.writer(LESSON, run) as writer:
        writer.add_images("conv1/filters", pixels(initial), 0)
        writer.add_images("conv1/filters", pixels(trained), 430)
        writer.add_images("conv1/change", pixels(trained - initial), 430)


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "ex3_*")
    write_scalars(attempt_root / LESSON / "ex3_filters", {"Loss/train": [(1, 0.5)]})
    assert_verdict(verdict(LESSON, 3), INCORRECT, "hold no images")
    first_conv_filters("ex3_filters", scale=False)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "are black (0)", "[0, 1]")
    first_conv_filters("ex3_filters", clone=False)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "the same picture", ".clone()")
    first_conv_filters("ex3_filters")
    assert_verdict(verdict(LESSON, 3), CORRECT, "8 filters (30 x 30", "step 0", "step 430")


def test_ex3_two_tags(attempt_root):
    torch.manual_seed(1)
    before = torch.rand(8, 1, 3, 3)
    with logs.writer(LESSON, "ex3_tags") as writer:
        writer.add_images("filters/before", before, 0)
        writer.add_images("filters/after", (before + 0.2 * torch.randn(8, 1, 3, 3)).clamp(0, 1), 0)
    assert_verdict(verdict(LESSON, 3), CORRECT, "filters/before", "3 x 3 pixels")
    with logs.writer(LESSON, "ex3_tags") as writer:
        writer.add_images("filters", torch.rand(10, 1, 28, 27), 0)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "row of 8 square tiles")


def two_tags(run, before_tag, after_tag, *, step0=0, step1=0):
    torch.manual_seed(1)
    before = torch.rand(8, 1, 3, 3)
    with logs.writer(LESSON, run) as writer:
        writer.add_images(before_tag, before, step0)
        after = (before + 0.2 * torch.randn(8, 1, 3, 3)).clamp(0, 1)
        writer.add_images(after_tag, after, step1)


def test_ex3_tag_names(attempt_root):
    # "untrained" holds "trained", but is not the word.
    two_tags("ex3_tags", "filters/untrained", "filters/trained")
    assert_verdict(verdict(LESSON, 3), CORRECT, "before (ex3_tags:filters/untrained, step 0)")
    logs.writer(LESSON, "ex3_tags").close()
    two_tags("ex3_tags", "filters/initial_weights", "filters_final", step1=430)
    assert_verdict(verdict(LESSON, 3), CORRECT, "filters/initial_weights")
    logs.writer(LESSON, "ex3_tags").close()
    # Two tags at one step whose names do not say which is which.
    two_tags("ex3_tags", "filters/epoch0", "filters/epoch1")
    assert_verdict(
        verdict(LESSON, 3),
        INCORRECT,
        "two images at the same step",
        "ex3_tags:filters/epoch0 at step 0",
        "under one tag",
        "filters/before and filters/after",
    )
    logs.writer(LESSON, "ex3_tags").close()
    with logs.writer(LESSON, "ex3_tags") as writer:
        writer.add_images("filters", torch.rand(8, 1, 3, 3), 0)
    assert_verdict(
        verdict(LESSON, 3), INCORRECT, "the same tag at two steps", "two tags named with before"
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # NaN to uint8
def test_ex3_nan_filters(attempt_root):
    nan = torch.full((8, 1, 3, 3), float("nan"))
    with logs.writer(LESSON, "ex3_nan") as writer:
        writer.add_images("conv1/filters", torch.rand(8, 1, 3, 3), 0)
        writer.add_images("conv1/filters", 0.5 + 0.5 * nan / nan.abs().max(), 430)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "hold NaN", "torch.isnan")
