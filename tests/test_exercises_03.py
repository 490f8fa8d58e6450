"""Lesson 03's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import torch
from exercise_helpers import assert_verdict, verdict, write_scalars
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tbviz import data, logs, models, runtime
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "03_histograms"


def train(log, batches=8, log_every=2):
    """A few AdamW batches of FastNet on test images, calling ``log(net, step)`` at step 0
    and every ``log_every`` batches (after the optimizer step, the gradients still there)."""
    runtime.seed(0)
    images, labels = data.tensors(train=False)
    net = models.FastNet(width=16)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    log(net, 0)
    for step in range(1, batches + 1):
        batch = slice(64 * (step - 1), 64 * step)
        loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % log_every == 0:
            log(net, step)
    return net


def log_buffers(run, *, only=None, before=True, steps=True):
    with logs.writer(LESSON, run) as writer:

        def log(net, step):
            if (step == 0 and not before) or (step > 0 and not steps):
                return
            for name, buffer in net.named_buffers():
                if buffer.is_floating_point() and (only is None or only in name):
                    writer.add_histogram(f"buffers/{name}", buffer, step)

        train(log)


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "03_histograms/ex1_*", "ex1_buffers")
    with logs.writer(LESSON, "ex1_params") as writer:  # parameters instead of buffers
        train(lambda net, step: logs.log_parameters(writer, net, step))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "running_mean, running_var", "named_buffers()")
    logs.run_dir(LESSON, "ex1_params").rename(attempt_root / "elsewhere")
    log_buffers("ex1_buffers", only="running_var")
    assert_verdict(verdict(LESSON, 1), INCORRECT, "running_var only", "every floating-point")
    log_buffers("ex1_buffers", steps=False)  # only the starting values
    assert_verdict(verdict(LESSON, 1), INCORRECT, "at 1 step(s) ([0])", "several steps")
    log_buffers("ex1_buffers")
    result = verdict(LESSON, 1)
    assert_verdict(result, CORRECT, "features_net.0.2.running_var", "from a mean of 1.00")


def test_ex1_several_runs_and_no_step_zero(attempt_root):
    log_buffers("ex1_a", before=False)  # the mean still falls between the logged steps
    assert_verdict(verdict(LESSON, 1), CORRECT, "at step 2")
    log_buffers("ex1_b")
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 runs", "keep one")


def log_norms(run, value, per_layer=False, zeroed=False):
    with logs.writer(LESSON, run) as writer:

        def log(net, step):
            if step == 0:
                return
            if zeroed:  # logged after the next zero_grad(): every gradient is 0
                net.zero_grad(set_to_none=False)
            logs.log_parameters(writer, net, step)
            if per_layer:  # one norm per layer: weight and bias together
                layers = {name.rsplit(".", 1)[0] for name, _ in net.named_parameters()}
                for layer in layers:
                    module = net.get_submodule(layer)
                    norm = torch.cat([p.grad.flatten() for p in module.parameters()]).norm()
                    writer.add_scalar(f"gradnorm/{layer}", norm.item(), step)
                return
            for name, param in net.named_parameters():
                writer.add_scalar(f"gradnorm/{name}", value(param).item(), step)

        train(log, batches=4)


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2_*")
    write_scalars(attempt_root / LESSON / "ex2_norms", {"Loss/train": [(1, 2.0)]})
    assert_verdict(verdict(LESSON, 2), INCORRECT, "has a scalar gradnorm/<name>", "Loss/train")
    write_scalars(attempt_root / LESSON / "ex2_norms", {"gradnorm/classifier.weight": [(1, 2.0)]})
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no grads/<name> histograms")
    log_norms("ex2_norms", lambda p: p.norm())  # the weight's norm, not the gradient's
    assert_verdict(verdict(LESSON, 2), INCORRECT, "sqrt(sum_squares)", "param.grad.norm()")
    log_norms("ex2_norms", lambda p: p.grad.square().sum())  # forgot the square root
    assert_verdict(verdict(LESSON, 2), INCORRECT, "take its square root")
    log_norms("ex2_norms", lambda p: p.grad.norm(), zeroed=True)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "is 0", "before the next zero_grad()")
    log_norms("ex2_norms", lambda p: p.grad.norm())
    assert_verdict(verdict(LESSON, 2), CORRECT, "all 10 gradnorm/ scalars", "20 (scalar, step)")
    log_norms("ex2_norms", None, per_layer=True)  # a layer's norm: its weight and bias
    assert_verdict(verdict(LESSON, 2), CORRECT, "all 6 gradnorm/ scalars")


def log_confidence(run, batches, tag="confidence/val"):
    """Hand-made confidences (a real training is too slow here): ``batches`` maps a step to
    (low, high) of evenly spread values."""
    with SummaryWriter(str(logs.run_dir(LESSON, run))) as writer:
        for step, (low, high) in batches.items():
            writer.add_histogram(tag, torch.linspace(low, high, 500), step)


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "03_histograms/ex3_*")
    learned = {0: (0.1, 0.13), 40: (0.3, 1.0), 80: (0.4, 1.0), 120: (0.5, 1.0)}
    log_confidence("ex3_logits", {s: (4 * a, 9 * b) for s, (a, b) in learned.items()})
    assert_verdict(verdict(LESSON, 3), INCORRECT, "at most 1", "softmax")
    logs.run_dir(LESSON, "ex3_logits").rename(attempt_root / "elsewhere")
    log_confidence("ex3_all", {s: (0.0, b) for s, (a, b) in learned.items()})  # every class
    assert_verdict(verdict(LESSON, 3), INCORRECT, "at least 0.1", ".max(dim=1)")
    logs.writer(LESSON, "ex3_all").close()
    log_confidence("ex3_all", {s: ab for s, ab in learned.items() if s})  # no step 0
    assert_verdict(verdict(LESSON, 3), INCORRECT, "3 step(s)", "4 histograms")
    logs.writer(LESSON, "ex3_all").close()
    log_confidence("ex3_all", learned)
    assert_verdict(verdict(LESSON, 3), CORRECT, "[0, 40, 80, 120]", "0.11 -> 0.65 -> 0.70 -> 0.75")


def test_ex3_other_runs(attempt_root):
    with logs.writer(LESSON, "ex3_params") as writer:  # another exercise's histograms
        train(lambda net, step: logs.log_parameters(writer, net, step), batches=2)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "put 'confidence' in its tag")
    logs.run_dir(LESSON, "ex3_params").rename(attempt_root / "elsewhere")
    log_confidence("ex3_untrained", {s: (0.1, 0.13) for s in (0, 1, 2, 3)}, tag="conf")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "did the network train")
    logs.run_dir(LESSON, "ex3_untrained").rename(attempt_root / "elsewhere2")
    # a valid attempt with an unnamed tag beside another histogram: the one in [0.1, 1] counts
    learned = {0: (0.1, 0.13), 40: (0.3, 1.0), 80: (0.4, 1.0), 120: (0.5, 1.0)}
    log_confidence("ex3_maxprob", learned, tag="val/maxprob")
    with SummaryWriter(str(logs.run_dir(LESSON, "ex3_maxprob"))) as writer:
        for step in learned:
            writer.add_histogram("val/predicted_class", torch.arange(10.0).repeat(50), step)
    assert_verdict(verdict(LESSON, 3), CORRECT, "0.11 -> 0.65")


def test_odd_runs(attempt_root):
    """An empty run, NaN values, tensorboardX's logs: a clear verdict, never a crash."""
    from tensorboardX import SummaryWriter as XWriter

    for number in (1, 2, 3):
        logs.writer(LESSON, f"ex{number}_empty").close()  # an event file with no events
    assert_verdict(verdict(LESSON, 1), INCORRECT, "their histograms: none")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "they have none")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "have no histograms")
    values = torch.linspace(0.1, 0.9, 100)
    values[0] = float("nan")
    with XWriter(str(logs.run_dir(LESSON, "ex3_x"))) as writer:  # tensorboardX, with a NaN
        for step in range(4):
            writer.add_histogram("confidence", values, step)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "NaN or Inf", "logs.add_histogram")
    with XWriter(str(logs.run_dir(LESSON, "ex1_x"))) as writer:
        for step, var in enumerate([1.0, 0.5, 0.3]):
            for bn in (0, 1):
                writer.add_histogram(
                    f"bn/features_net.{bn}.2.running_var", torch.full((8,), var), step
                )
                writer.add_histogram(f"bn/features_net.{bn}.2.running_mean", torch.zeros(8), step)
    assert_verdict(verdict(LESSON, 1), CORRECT, "from a mean of 1.00 at step 0 to 0.30")


def test_a_run_written_twice(attempt_root):
    """Histograms share the framework's rule: each step once, or the run was written twice."""
    learned = {0: (0.1, 0.13), 40: (0.3, 1.0), 80: (0.4, 1.0), 120: (0.5, 1.0)}
    for _ in range(2):  # a plain SummaryWriter adds a second event file to the same run
        log_confidence("ex3_twice", learned)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "some steps twice (2 event files)")
