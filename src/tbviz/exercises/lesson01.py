"""Checkers for lesson 01 (the model graph).

Exercise 3 also takes the exported program, which lives in the learner's session, not in a log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, NotAttempted, exercise, expect, tags

LESSON = "01_model_graph"

_POSITIONAL = re.compile(r"\w+\[\d+\]")  # Sequential[0], Conv2d[0]: a module named by position
_LAYERS = {  # what each layer of a block records when it is traced
    "conv": ("aten::_convolution", "aten::conv2d"),
    "pool": ("aten::max_pool2d",),
    "norm": ("aten::batch_norm",),
    "relu": ("aten::relu", "aten::relu_"),
}


def _graph_run(attempt: Attempt) -> Path:
    """The one run of the exercise that holds a graph (private helper: the framework's
    ``run_with`` reads tag lists, and a graph is a yes/no in a run's tags)."""
    runs = attempt.need_runs("one with a graph: writer.add_graph(net, example_input)")
    holding = [run for run in runs if tags(run).get("graph")]
    expect(
        holding,
        f"none of the runs {[attempt.name(r) for r in runs]} holds a graph: log one with "
        "writer.add_graph(net, example_input)",
    )
    expect(
        len(holding) == 1,
        f"{len(holding)} runs have a graph ({[attempt.name(r) for r in holding]}); keep one",
    )
    return holding[0]


def _nodes(run: Path) -> list[tuple[str, str]]:
    """(name, op) of every node of a run's graph."""
    return [(node.name, node.op) for node in events.accumulator(run).Graph().node]


def _module_names(nodes: list[tuple[str, str]]) -> set[str]:
    """The module attribute names in the scopes: 'Linear[fc1]' -> 'fc1'."""
    return {name for node, _ in nodes for name in re.findall(r"\[(\w+)\]", node)}


@exercise(
    LESSON,
    1,
    "name your blocks",
    hints=(
        "nn.Sequential(OrderedDict([('conv', nn.Conv2d(...)), ('pool', ...), ...])) names its "
        "modules; a plain nn.Sequential(a, b) names them 0, 1, ...",
        "Name both levels: the feature extractor's blocks (block1, block2) and, inside each "
        "block, its conv, pool, norm and relu, then add_graph in a run ex1_<something>.",
    ),
    solution="A named_block(c_in, c_out) that builds Sequential(OrderedDict(conv, pool, norm, "
    "relu)) and a features = Sequential(OrderedDict(block1, block2)); the graph then reads "
    "NamedFastNet/Sequential[features]/Sequential[block1]/Conv2d[conv].",
)
def named_blocks(attempt: Attempt) -> str:
    run = _graph_run(attempt)
    nodes = _nodes(run)
    convs = [name for name, op in nodes if op in _LAYERS["conv"]]
    # The feature extractor: the scopes holding the convolutions, each conv's block (or, for a
    # conv directly in a Sequential, that Sequential). The head may keep positional names.
    scopes = {
        "/".join(parts[: max(2, len(parts) - 1)])
        for parts in (conv.split("/")[:-1] for conv in convs)
    }
    inside = [name for name, _ in nodes if any(name.startswith(s + "/") for s in scopes)]
    positional = list(dict.fromkeys(m for name in inside for m in _POSITIONAL.findall(name)))
    expect(
        not positional,
        f"the feature extractor in the graph of {attempt.name(run)} still has modules named by "
        f"position: {positional[:6]}. Build each nn.Sequential of it (the blocks and the layers "
        "inside them) from an OrderedDict of (name, module) pairs",
    )
    expect(
        len(convs) >= 2,
        f"the graph has {len(convs)} convolution(s); a FastNet-like model has two blocks, each "
        "starting with a convolution",
    )
    blocks = []
    for conv in convs:
        parts = conv.split("/")[:-1]  # model / features / block / conv (the last is the node)
        expect(
            len(parts) >= 4,
            f"a convolution sits at {'/'.join(parts)}: put each conv in a named block (block1, "
            "block2) inside the feature extractor (features = nn.Sequential(OrderedDict(...)))",
        )
        block = "/".join(parts[:-1])
        if block not in blocks:
            blocks.append(block)
    expect(
        len(blocks) >= 2,
        f"all convolutions are in one block, {blocks[0]}: give each block its own conv",
    )
    for block in blocks:
        ops = {op for name, op in nodes if name.startswith(block + "/")}
        missing = [layer for layer, names in _LAYERS.items() if not ops & set(names)]
        expect(
            not missing,
            f"block {block.rsplit('/', 1)[-1]} has no {' or '.join(missing)} layer: each "
            "block is FastNet's conv, pool, norm (BatchNorm2d) and relu",
        )
    short = [re.sub(r"^\w+\[(\w+)\]$", r"\1", block.rsplit("/", 1)[-1]) for block in blocks]
    names = [(name, op) for name, op in nodes if any(name.startswith(b + "/") for b in blocks)]
    return (
        f"the feature extractor in the graph of {attempt.name(run)} has no module named by "
        f"position; its blocks {short} each hold conv, pool, norm and relu, named "
        f"{', '.join(sorted(_module_names(names)))}."
    )


_FIELDS = (
    "Total params",
    "Input size (MB)",
    "Forward/backward pass size (MB)",
    "Params size (MB)",
)


def _texts(run: Path) -> dict[str, list[tuple[int, str]]]:
    """{tag: [(step, text), ...]} of the text summaries of a run (add_text)."""
    acc = events.accumulator(run)
    out = {}
    for tag in acc.Tags().get("tensors", []):
        if tag.endswith("/text_summary"):
            points = []
            for event in acc.Tensors(tag):
                values = event.tensor_proto.string_val
                points.append((event.step, values[0].decode(errors="replace") if values else ""))
            out[tag.removesuffix("/text_summary")] = points
    return out


def _numbers(text: str, step: int) -> dict[str, float]:
    """The footer numbers of a torchinfo table."""
    out = {}
    for field in _FIELDS:
        match = re.search(re.escape(field) + r":\s*([\d,.]+)", text)
        expect(
            match,
            f"the text at step {step} has no '{field}:' line: log the torchinfo table itself, "
            "str(summary(net, input_size=...))",
        )
        out[field] = float(match.group(1).replace(",", "").rstrip("."))
    return out


@exercise(
    LESSON,
    2,
    "what grows with the batch",
    hints=(
        "summary(models.TutorialNet(), input_size=(batch, 1, 28, 28), verbose=0) for batch 1 "
        "and 256; add_text('summary', f'```\\n{table}\\n```', batch) puts each at its batch size.",
        "Compare the footers: Total params and Params size against Input size and "
        "Forward/backward pass size. Which of them depend on how many images go through?",
    ),
    solution="Both tables under one tag at steps 1 and 256: Total params (44,426) and Params "
    "size (0.18 MB) stay; Input size and the Forward/backward pass size (0.04 to 9.61 MB) "
    "grow with the batch, which is why a smaller batch is the first fix for out-of-memory.",
)
def batch_tables(attempt: Attempt) -> str:
    runs = attempt.need_runs("one with the two tables, e.g. ex2_batch_sizes")
    found = {(run, tag): points for run in runs for tag, points in _texts(run).items()}
    expect(
        found,
        f"no text in the runs {[attempt.name(r) for r in runs]}: log each table with "
        "writer.add_text(tag, f'```\\n{table}\\n```', step)",
    )
    both = [key for key, points in found.items() if {1, 256} <= {s for s, _ in points}]
    if not both:
        held = {f"{attempt.name(run)}: {tag}": [s for s, _ in p] for (run, tag), p in found.items()}
        raise Incorrect(
            f"no text tag has entries at both step 1 and step 256 (text tags and their steps: "
            f"{held}): log both tables under one tag, each at its batch size as the step"
        )
    run, tag = both[0]
    texts = {}
    for step, text in found[(run, tag)]:
        expect(
            step not in texts or step not in (1, 256),
            f"'{tag}' in {attempt.name(run)} has two entries at step {step}: the run was "
            "written twice; write it afresh with logs.writer",
        )
        texts[step] = text
    one, big = _numbers(texts[1], 1), _numbers(texts[256], 256)
    expect(
        one["Total params"] == big["Total params"],
        f"Total params is {one['Total params']:,.0f} at step 1 and {big['Total params']:,.0f} at "
        "step 256: summarize the same TutorialNet both times",
    )
    expect(
        one["Total params"] == 44_426,
        f"Total params is {one['Total params']:,.0f}; TutorialNet has 44,426: summarize "
        "models.TutorialNet()",
    )
    fb1, fb256 = one["Forward/backward pass size (MB)"], big["Forward/backward pass size (MB)"]
    expect(
        fb1 < fb256,
        f"the Forward/backward pass size is {fb1} MB at step 1 and {fb256} MB at step 256: log "
        "each table at its own batch size (batch 1 at step 1, batch 256 at step 256)",
    )
    expect(
        fb256 > 100 * fb1 and big["Input size (MB)"] > one["Input size (MB)"],
        f"the Forward/backward pass size grows only from {fb1} to {fb256} MB: summarize with "
        "input_size=(1, 1, 28, 28) and (256, 1, 28, 28)",
    )
    return (
        f"'{tag}' in {attempt.name(run)} at steps 1 and 256: Total params "
        f"{one['Total params']:,.0f} and Params size {one['Params size (MB)']:g} MB stay, Input "
        f"size {one['Input size (MB)']:g} to {big['Input size (MB)']:g} MB and Forward/backward "
        f"pass size {fb1:g} to {fb256:g} MB grow with the batch."
    )


def _exported_ops(exported: Any) -> tuple[list[str], set[str]]:
    """The operations (aten.where.self, ...) of an ExportedProgram and the modules they ran in."""
    from torch.export import ExportedProgram

    if not isinstance(exported, ExportedProgram):
        what = type(exported).__name__
        model = " (the model itself)" if hasattr(exported, "forward") else ""
        raise Incorrect(
            f"the answer is a {what}{model}, not an ExportedProgram: pass what "
            "torch.export.export(model.eval(), (images,)) returns"
        )
    ops, modules = [], set()
    for node in exported.graph.nodes:
        if node.op != "call_function":
            continue
        ops.append(str(node.target))
        for path, _ in (node.meta.get("nn_module_stack") or {}).values():
            if path:
                modules.add(str(path).rsplit(".", 1)[-1])
    return ops, modules


@exercise(
    LESSON,
    3,
    "trace both branches",
    hints=(
        "Compute both self.positive(x) and self.negative(x), then pick with "
        "torch.where(condition, a, b), where the condition is a tensor (x.mean(dim=1, "
        "keepdim=True) > 0), never a Python bool.",
        "Log the graph in a run ex3_<something> inside warnings.catch_warnings(record=True) "
        "to see that no TracerWarning comes; then exported = torch.export.export(model.eval(), "
        "(images,)) and ex3.check(exported).",
    ),
    solution="forward returns torch.where(x.mean(dim=1, keepdim=True) > 0, self.positive(x), "
    "self.negative(x)): the graph holds both Linear layers and aten::where, no TracerWarning, "
    "and the exported program computes flatten, mean, gt, linear, linear, where.",
    answer="ex3.check(exported): the program torch.export.export returned for your model",
)
def both_branches(attempt: Attempt, exported: Any = None) -> str:
    run = _graph_run(attempt)
    if exported is None:
        raise NotAttempted("pass the exported program: ex3.check(exported)")
    nodes = _nodes(run)
    names = _module_names(nodes)
    missing = sorted({"positive", "negative"} - names)
    expect(
        not missing,
        f"the graph of {attempt.name(run)} has no {' or '.join(missing)} module: an if on "
        "tensor values keeps only the branch that ran; compute both and choose with "
        "torch.where",
    )
    expect(
        any(op == "aten::where" for _, op in nodes),
        f"the graph of {attempt.name(run)} has both branches but no aten::where: choose "
        "between them with torch.where(condition, a, b)",
    )
    ops, modules = _exported_ops(exported)
    expect(
        any(op.startswith("aten.where") for op in ops),
        f"the exported program has no where among its operations "
        f"({', '.join(op.split('.')[1] if '.' in op else op for op in ops) or 'none'}): export "
        "the model that uses torch.where",
    )
    missing = sorted({"positive", "negative"} - modules)
    expect(
        not missing,
        f"no operation of the exported program runs in {' or '.join(missing)}: export the "
        "model whose graph you logged, with both branches",
    )
    short = ", ".join(op.split(".")[1] if "." in op else op for op in ops)
    return (
        f"the graph of {attempt.name(run)} holds positive, negative and aten::where, and the "
        f"exported program computes {short}."
    )
