"""Lesson 02's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import torch
from exercise_helpers import assert_verdict, verdict, write_scalars

from tbviz import logs
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "02_scalars"


def minimize(run, *, lr=0.01, momentum=0.0, steps=500, x_after_step=False, grad_before=False):
    """The lesson's quadratic (a = 1, x0 = 5) with SGD, logging x, f and the gradient."""
    x = torch.tensor(5.0, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=momentum)
    with logs.writer(LESSON, run) as writer:
        for step in range(steps):
            f = x**2 - 2 * x + 1
            writer.add_scalar("quadratic/f", f.item(), step)
            if grad_before and step:  # a slip: x.grad read before backward(), the last step's
                writer.add_scalar("quadratic/grad", x.grad.item(), step)
            opt.zero_grad()
            f.backward()
            if not grad_before:
                writer.add_scalar("quadratic/grad", x.grad.item(), step)
            if not x_after_step:
                writer.add_scalar("quadratic/x", x.item(), step)
            opt.step()
            if x_after_step:  # a typical slip: x logged after the step moved it
                writer.add_scalar("quadratic/x", x.item(), step)


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "02_scalars/ex1_*")
    minimize("ex1_lr=0.01", x_after_step=True)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2(x - 1)", "before optimizer.step()")
    minimize("ex1_lr=0.01", grad_before=True)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "of the step before", "after f.backward()")
    minimize("ex1_lr=0.01", x_after_step=True)
    minimize("ex1_lr=0.01")
    assert_verdict(verdict(LESSON, 1), CORRECT, "all 500 steps")


def test_ex1_run_without_the_tag(attempt_root):
    minimize("ex1_plain")  # logs the gradient too; a second run without it must not matter
    write_scalars(attempt_root / LESSON / "ex1_other", {"quadratic/x": [(0, 5.0)]})
    assert verdict(LESSON, 1).verdict == CORRECT
    (attempt_root / LESSON / "ex1_plain").rename(attempt_root / LESSON / "plain")
    assert_verdict(verdict(LESSON, 1), INCORRECT, "'quadratic/grad'", "quadratic/x")


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2_lr=0.9")
    for lr in (0.5, 0.9, 0.99, 1.0):
        minimize(f"ex2_lr={lr}", lr=lr)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no run for lr = [1.01]")
    minimize("ex2_lr=1.01", lr=1.01, steps=100)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "lr = 1.01: 100 steps, 500 expected")
    minimize("ex2_lr=1.01", lr=1.01)
    assert_verdict(verdict(LESSON, 2), CORRECT, "bouncing")
    minimize("ex2_again_lr=1.0", lr=1.0)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "two runs for lr = 1.0")
    logs.run_dir(LESSON, "ex2_again_lr=1.0").rename(attempt_root / "elsewhere")
    minimize("ex2_lr=0.9")  # the rate in the name only: the optimizer got the default 0.01
    assert_verdict(verdict(LESSON, 2), INCORRECT, "first step of lr 0.01, not 0.9")


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED)
    minimize("ex3_sgd")
    minimize("ex3_momentum=0.9")  # the name says momentum, the optimizer has none
    assert_verdict(verdict(LESSON, 3), INCORRECT, "momentum should be faster")
    minimize("ex3_momentum=0.9", momentum=0.9)
    assert_verdict(verdict(LESSON, 3), CORRECT, "from step 297 (plain) and 103 (momentum)")
    logs.run_dir(LESSON, "ex3_sgd").rename(logs.run_dir(LESSON, "ex3_no_momentum"))
    assert verdict(LESSON, 3).verdict == CORRECT  # "no momentum" is the plain run


def test_ex4(attempt_root):
    assert_verdict(verdict(LESSON, 4), NOT_ATTEMPTED)
    run = attempt_root / LESSON / "ex4_train_eval"
    # The running mean logged under the exercise's tag: below validation in the first epoch.
    write_scalars(
        run,
        {
            "Accuracy/train_eval": [(100, 0.816), (200, 0.887)],
            "Accuracy/val": [(100, 0.858), (200, 0.888)],
        },
    )
    assert_verdict(verdict(LESSON, 4), INCORRECT, "running mean")
    logs.writer(LESSON, "ex4_train_eval").close()  # start the run afresh
    write_scalars(
        run,
        {"Accuracy/train_eval": [(1, 0.871), (2, 0.911)], "Accuracy/val": [(1, 0.858), (2, 0.888)]},
    )
    assert_verdict(verdict(LESSON, 4), INCORRECT, "batches seen")
    logs.writer(LESSON, "ex4_train_eval").close()
    write_scalars(
        run,
        {
            "Accuracy/train_eval": [(100, 0.871), (200, 0.911)],
            "Accuracy/val": [(100, 0.858), (200, 0.888)],
        },
    )
    assert_verdict(verdict(LESSON, 4), CORRECT, "0.871, 0.911")
