"""Cases: read and validate golden/cases/*.toml into `Case` objects.

A case file is one family (its stem is the first part of every id in it). An optional [defaults] table is
merged under every [[case]]. Any problem is reported as one line naming the file, the line and the case.
The format is documented in golden/cases/README.md; this module is its executable definition.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from conformance import resources, vocabulary
from conformance.model import (
    CALLABLE_KWARGS,
    CALLABLE_METHODS,
    GROUP_FLAGS,
    GROUP_LR_ARGUMENT,
    INTERVENTIONS,
    NONFINITE_STRINGS,
    ON_VALUES,
    PROTOCOLS,
    READABLE_ATTRIBUTES,
    SETTABLE_ATTRIBUTES,
    SETTABLE_KEYS,
    STATE_DICTS,
    SUBCLASS_KWARG,
    TENSOR_KEY,
    USER_SUBCLASS,
    Case,
    Intervention,
    OptimizerSpec,
    SchedulerSpec,
    has_attribute,
    is_tensor_argument,
    json_safe,
)

GOLDEN_DIR = resources.GOLDEN_DIR  # the checkout's golden/, or the wheel's copy (conformance/resources.py)
CASES_DIR = resources.CASES_DIR

# Size bounds: a case is a few hundred rows of trace, and one that asks for millions runs for minutes and grows
# past hundreds of MB in every command. schemas/case.schema.json states the same numbers.
MAX_STEPS = 10000  # loop iterations
MAX_GROUPS = 16  # param groups
MAX_SCHEDULER_DEPTH = 4  # nesting levels: a plain scheduler is depth 1, a composite of plain ones depth 2
MAX_CHILDREN = 16  # schedulers directly inside one composite

SCHEDULERS = (
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "SequentialLR",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "SWALR",  # torch.optim.swa_utils.SWALR: an LRScheduler that lives outside lr_scheduler
)
COMPOSITES = ("ChainedScheduler", "SequentialLR")
# Every class name a scheduler node may have: the 16, and the base class a user's own subclass derives from.
SCHEDULER_CLASSES = (*SCHEDULERS, USER_SUBCLASS)
# Where the reference defines each scheduler class (snippets import it, the site links its documentation):
# torch.optim.lr_scheduler, except SWALR, which torch keeps with stochastic weight averaging.
REFERENCE_MODULES = {"SWALR": "torch.optim.swa_utils"}


def reference_module(scheduler: str) -> str:
    """The dotted module of the reference's class for `scheduler` ("torch.optim.lr_scheduler" for most)."""
    return REFERENCE_MODULES.get(scheduler, "torch.optim.lr_scheduler")


# Adagrad and Rprop: optimizers with neither momentum nor betas (torch's own test of CyclicLR's refusal uses
# Rprop); AdamW: Adam's group keys with its own defaults (torch's test_lr_scheduler_checkpoint uses it)
OPTIMIZERS = ("SGD", "Adam", "Adagrad", "AdamW", "Rprop")
WITHOUT_MOMENTUM = ("Adagrad", "Rprop")  # nothing for observe_momentum to read

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9][a-z0-9._-]*$")
CASE_KEYS = {
    "id",
    "why",
    "scheduler",
    "kwargs",
    "children",
    "on",
    "optimizer",
    "groups",
    "steps",
    "protocol",
    "resume_at",
    "metrics",
    "epochs",
    "tensor_lr",
    "observe_momentum",
    "torch",
    "tags",
    "expect_error",
    "expect_warning",
    "interventions",
}
CHILD_KEYS = {"scheduler", "kwargs", "children"}
# A composite's child also takes `on` (the optimizer it is built on), or is `{ none = true }` (None in the list)
MEMBER_KEYS = CHILD_KEYS | {"on"}
MAX_INTERVENTIONS = 1000  # actions in one case, after `at` lists are expanded
MAX_SCHEDULER_STEPS = 100  # `count` of one scheduler-steps action
# The keys each intervention takes besides `at` and `do` (spec 4.5), and which of them are required.
INTERVENTION_KEYS = {
    "skip-optimizer-step": (set(), ()),
    "scheduler-steps": ({"count", "epoch"}, ("count",)),
    "wrap-optimizer-step": ({"keep_attributes"}, ()),
    "set": ({"group", "key", "value"}, ("group", "key", "value")),
    "add-param-group": ({"options"}, ()),
    "add-scheduler": ({"scheduler", "first", "from", "replace"}, ("scheduler",)),
    "call": ({"method"}, ("method",)),
    "read-scheduler": ({"attribute"}, ("attribute",)),
    "set-scheduler": ({"attribute", "value"}, ("attribute", "value")),
    "change-argument": ({"argument", "group", "multiply", "value"}, ("argument",)),
    "resume": ({"load", "scheduler", "weights_only"}, ("load",)),
}


class DataError(ValueError):
    """Problems in the suite's data (case files, goldens) found before grading: exit code 2.

    `problems` holds every problem found, one line each, so that all of them are reported at once; str() is
    the first one (with a count of the others), so it stays one line too.
    """

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}" if problems else "data problem")


class CaseError(DataError):
    """A case file is malformed. Each problem is one line: `file:line: case-id: what is wrong`."""


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case under `directory`, in file then declaration order. Raises CaseError with every problem."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CaseError(f"{directory}: no case files (*.toml)")
    cases: list[Case] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        loaded, found = _load_file(path)
        problems += found
        shown = _rel(path)
        for case, line in loaded:
            here = f"{shown}:{line}" if line else shown
            if case.id in seen:
                problems.append(f"{here}: {case.id}: duplicate id, first defined in {seen[case.id]}")
                continue
            seen[case.id] = here
            cases.append(case)
    if problems:
        raise CaseError(*problems)
    return cases


def read_text(path: Path) -> str:
    """A data file's text. Raises CaseError, one line naming the file (and the line of the first byte that is
    not UTF-8), for what cannot be read as UTF-8 text: a directory, a missing file, another encoding."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise CaseError(f"{_rel(path)}:{line}: not UTF-8 text (byte {exc.object[exc.start]:#04x})") from None
    except OSError as exc:
        raise CaseError(f"{_rel(path)}: cannot read ({exc.strerror})") from None


def load_file(path: Path) -> list[Case]:
    """The cases of one file. Raises CaseError with every problem in it."""
    loaded, problems = _load_file(path)
    if problems:
        raise CaseError(*problems)
    return [case for case, _line in loaded]


def _load_file(path: Path) -> tuple[list[tuple[Case, int]], list[str]]:
    """The cases of one file that parse, each with the line of its id (0: unknown), and one line per
    problem."""
    try:
        text = read_text(path)
    except CaseError as exc:
        return [], [str(exc)]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{_rel(path)}: invalid TOML: {exc}"]
    unknown_top = set(data) - {"defaults", "case"}
    if unknown_top:
        return [], [f"{_rel(path)}: unknown top-level keys {sorted(unknown_top)} (expected [defaults], [[case]])"]
    defaults = data.get("defaults", {})
    raw_cases = data.get("case", [])
    if not isinstance(defaults, dict) or not isinstance(raw_cases, list):
        return [], [f"{_rel(path)}: expected a [defaults] table and [[case]] tables"]
    cases, problems = [], []
    lines = case_lines(text)
    shown = _rel(path)  # once per file: making a display path costs as much as checking a case
    for index, raw in enumerate(raw_cases):
        if not isinstance(raw, dict):
            problems.append(f"{_rel(path)}: case #{index + 1}: expected a [[case]] table")
            continue
        merged = {**defaults, **raw}
        case_id = merged.get("id", f"<case #{index + 1}>")
        try:
            cases.append((parse_case(merged, source=shown, family=path.stem),
                          lines[index] if index < len(lines) else 0))
        except (CaseError, vocabulary.VocabularyError, TypeError, ValueError, KeyError) as exc:
            problems.append(f"{_where(path, case_id, text, index)}: {exc}")
    return cases, problems


def parse_case(data: Mapping[str, Any], source: str = "<memory>", family: str | None = None) -> Case:
    """Validate one merged case dict and build the Case. Raises CaseError with a short reason."""
    unknown = set(data) - CASE_KEYS
    if unknown:
        raise CaseError(f"unknown keys {sorted(unknown)}")
    for key in ("id", "why", "scheduler", "groups", "steps"):
        if key not in data:
            raise CaseError(f"missing required key {key!r}")
    case_id = data["id"]
    if not isinstance(case_id, str) or not ID_PATTERN.match(case_id):
        raise CaseError(f"id {case_id!r} is not a slug like 'steplr/gamma-half-step3'")
    if family is not None and case_id.split("/", 1)[0] != family:
        raise CaseError(f"id {case_id!r} must start with '{family}/' (the file's stem)")
    why = data["why"]
    if not isinstance(why, str) or not why.strip() or "\n" in why.strip():
        raise CaseError("'why' must be one non-empty line")

    scheduler = _parse_scheduler(data, "case", on_values=("optimizer", "none"))
    groups = data["groups"]
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) and "lr" in g for g in groups):
        raise CaseError("'groups' must be a non-empty list of tables, each with an 'lr'")
    if len(groups) > MAX_GROUPS:
        raise CaseError(f"'groups' has {len(groups)} param groups, over the limit of {MAX_GROUPS} (MAX_GROUPS)")
    _check_groups(groups, data.get("tensor_lr", False))
    steps = data["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise CaseError("'steps' must be a positive integer")
    if steps > MAX_STEPS:
        raise CaseError(f"'steps' = {steps} is over the limit of {MAX_STEPS} (MAX_STEPS)")

    optimizer = data.get("optimizer", {"name": "SGD"})
    if isinstance(optimizer, str):
        optimizer = {"name": optimizer}
    if optimizer.get("name") not in OPTIMIZERS:
        raise CaseError(f"optimizer name must be one of {OPTIMIZERS}, got {optimizer.get('name')!r}")

    protocol = data.get("protocol", "standard")
    if protocol not in PROTOCOLS:
        raise CaseError(f"protocol {protocol!r} is not one of {PROTOCOLS}")
    resume_at = data.get("resume_at")
    if protocol == "resume-state-dict" or (protocol == "scheduler-first" and resume_at is not None):
        if not isinstance(resume_at, int) or isinstance(resume_at, bool) or not 0 < resume_at < steps:
            raise CaseError(f"protocol {protocol} needs resume_at with 0 < resume_at < steps")
    elif resume_at is not None:
        raise CaseError("resume_at only applies to protocols resume-state-dict and scheduler-first")

    metrics = _floats(data.get("metrics"), "metrics", steps)
    epochs = _floats(data.get("epochs"), "epochs", steps)
    if protocol == "step-epoch" and epochs is None:
        raise CaseError("protocol step-epoch needs 'epochs', one per step")
    if epochs is not None and protocol != "step-epoch":
        raise CaseError("'epochs' only applies to protocol step-epoch")
    is_plateau = any(s.name == "ReduceLROnPlateau" for s in scheduler.walk())
    if is_plateau != (metrics is not None):
        raise CaseError("'metrics' (one per step) is required for ReduceLROnPlateau and only for it")

    torch_range = data.get("torch", "")
    if torch_range:
        _specifier(torch_range)
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CaseError("'tags' must be a list of strings")
    interventions = _parse_interventions(data.get("interventions", []), steps, len(groups), resume_at)
    if protocol == "step-epoch" and any(action.epoch is not None for action in interventions):
        raise CaseError("'interventions': a scheduler-steps epoch mixes step(epoch) into a run of step() calls; "
                        "under protocol step-epoch every step already has its epoch")
    for action in interventions:
        if action.do == "resume" and action.scheduler is not None and action.scheduler.name != scheduler.name:
            raise CaseError(f"'interventions': resume at {action.at} rebuilds a {action.scheduler.name}, but the "
                            f"case's scheduler is a {scheduler.name} (a state dict is loaded into its own class)")
        if action.do == "set-scheduler":
            _check_settable(action, scheduler.name)
        if action.do == "change-argument":
            _check_changeable(action, scheduler, groups, bool(data.get("tensor_lr", False)))
    second = any(s.on == "second-optimizer" for s in scheduler.walk())
    if second and (resume_at is not None or any(a.do == "resume" for a in interventions)):
        raise CaseError("a child on the second optimizer cannot be resumed: the checkpoint holds the case's "
                        "optimizer only (spec 2.5)")
    observe_momentum = data.get("observe_momentum", False)
    if not isinstance(observe_momentum, bool):
        raise CaseError("'observe_momentum' must be a boolean")
    if observe_momentum and optimizer["name"] in WITHOUT_MOMENTUM:  # nothing to read: neither momentum nor betas
        raise CaseError(f"'observe_momentum' needs an optimizer with momentum or betas, not {optimizer['name']}")

    return Case(
        id=case_id,
        why=why.strip(),
        scheduler=scheduler,
        groups=tuple(dict(g) for g in groups),
        steps=steps,
        optimizer=OptimizerSpec(optimizer["name"], {k: v for k, v in optimizer.items() if k != "name"}),
        protocol=protocol,
        resume_at=resume_at,
        metrics=metrics,
        epochs=epochs,
        tensor_lr=bool(data.get("tensor_lr", False)),
        observe_momentum=observe_momentum,
        torch=torch_range,
        tags=tuple(tags),
        expect_error=data.get("expect_error"),
        expect_warning=data.get("expect_warning"),
        interventions=interventions,
        source=source,
        raw=dict(data),
    )


def _parse_scheduler(data: Mapping[str, Any], where: str, depth: int = 1,
                     on_values: tuple[str, ...] | None = None) -> SchedulerSpec:
    """One scheduler table; `on_values` the values its `on` may take (None: it takes no `on`: an added or a
    resumed scheduler is built on the case's optimizer)."""
    if depth > MAX_SCHEDULER_DEPTH:
        raise CaseError(f"{where}: schedulers nested {depth} levels deep, over the limit of {MAX_SCHEDULER_DEPTH} "
                        "(MAX_SCHEDULER_DEPTH)")
    name = data.get("scheduler")
    if name not in SCHEDULER_CLASSES:
        raise CaseError(f"{where}: unknown scheduler {name!r}")
    kwargs = data.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise CaseError(f"{where}: 'kwargs' must be a table")
    if (name == USER_SUBCLASS) != (SUBCLASS_KWARG in kwargs):
        raise CaseError(f"{where}: 'kwargs.{SUBCLASS_KWARG}' (a user's subclass) is required for {USER_SUBCLASS} "
                        "and only for it")
    for key, value in kwargs.items():
        if key == SUBCLASS_KWARG:
            vocabulary.validate_subclass(value, f"{where}.kwargs.{key}")
        elif key in CALLABLE_KWARGS:
            vocabulary.validate(value, f"{where}.kwargs.{key}")
        else:
            for item in value if isinstance(value, list) else [value]:
                _check_tensor_argument(item, f"{where}.kwargs.{key}")
    children_data = data.get("children")
    if (name in COMPOSITES) != (children_data is not None):  # an empty list pins the error torch raises for it
        raise CaseError(f"{where}: 'children' is required for {'/'.join(COMPOSITES)} and only for them")
    children_data = children_data or []
    if not isinstance(children_data, list):
        raise CaseError(f"{where}: 'children' must be a list of tables")
    if len(children_data) > MAX_CHILDREN:
        raise CaseError(f"{where}: {len(children_data)} children, over the limit of {MAX_CHILDREN} (MAX_CHILDREN)")
    on = data.get("on", "optimizer")
    if on_values is not None and on not in on_values:
        raise CaseError(f"{where}: 'on' must be one of {list(on_values)}, got {on!r}")
    if on != "optimizer" and name == "ChainedScheduler" and kwargs.get("optimizer") is not True:
        raise CaseError(f"{where}: 'on' of a ChainedScheduler needs kwargs.optimizer = true (else no optimizer is "
                        "passed to it)")
    children = []
    for i, child in enumerate(children_data):
        if isinstance(child, dict) and "none" in child:  # Python's None where a scheduler belongs (spec 2.5)
            if set(child) != {"none"} or child["none"] is not True:  # true, not 1: TOML keeps the two apart
                raise CaseError(f"{where}.children[{i}]: a none child is exactly {{ none = true }}")
            children.append(None)
            continue
        if not isinstance(child, dict) or set(child) - MEMBER_KEYS:
            raise CaseError(f"{where}.children[{i}]: expected a table with keys {sorted(MEMBER_KEYS)}, or "
                            "{ none = true }")
        children.append(_parse_scheduler(child, f"{where}.children[{i}]", depth + 1, ON_VALUES))
    return SchedulerSpec(name, dict(kwargs), tuple(children), on)


def _check_tensor_argument(value, where: str) -> None:
    """A table holding `tensor` is a tensor argument (model.TENSOR_KEY): exactly {tensor = number}."""
    if isinstance(value, dict) and TENSOR_KEY in value:
        number = value[TENSOR_KEY]
        if set(value) != {TENSOR_KEY} or not isinstance(number, (int, float)) or isinstance(number, bool):
            raise CaseError(f"{where}: a tensor argument is the table {{ {TENSOR_KEY} = <number> }}, got {value!r}")


def _check_groups(groups: list, tensor_lr) -> None:
    """The harness's flags in group tables (model.GROUP_FLAGS): booleans, and a group's own tensor_lr only where
    the case-wide one is off (under it every group already is a tensor)."""
    for index, group in enumerate(groups):
        for flag in GROUP_FLAGS:
            if flag in group and not isinstance(group[flag], bool):
                raise CaseError(f"groups[{index}].{flag} must be true or false")
        if group.get("tensor_lr") is not None and tensor_lr is True:
            raise CaseError(f"groups[{index}].tensor_lr: the case's tensor_lr already makes every group's lr a "
                            "tensor; give one or the other")


def _parse_interventions(data, steps: int, groups: int, resume_at: int | None) -> tuple[Intervention, ...]:
    """`interventions`: a list of tables {at, do, ...}; `at` an iteration or a list of them (one action each).
    Returned in iteration order, then as listed (spec 4.5)."""
    if not isinstance(data, list):
        raise CaseError("'interventions' must be a list of tables {at, do, ...}")
    actions: list[tuple[int, int, Intervention]] = []
    for index, item in enumerate(data):
        where = f"interventions[{index}]"
        if not isinstance(item, dict):
            raise CaseError(f"{where}: expected a table {{at, do, ...}}")
        do = item.get("do")
        if do not in INTERVENTIONS:
            raise CaseError(f"{where}: 'do' must be one of {list(INTERVENTIONS)}, got {do!r}")
        allowed, required = INTERVENTION_KEYS[do]
        unknown = set(item) - allowed - {"at", "do"}
        if unknown:
            raise CaseError(f"{where}: {do} takes {sorted(allowed | {'at', 'do'})}, not {sorted(unknown)}")
        missing = [key for key in ("at", *required) if key not in item]
        if missing:
            raise CaseError(f"{where}: {do} needs {missing}")
        ats = item["at"] if isinstance(item["at"], list) else [item["at"]]
        if not ats or not all(_is_int(at) and 0 <= at < steps for at in ats) or len(set(ats)) != len(ats):
            raise CaseError(f"{where}: 'at' must be an iteration 0..{steps - 1}, or a list of distinct ones")
        fields = _intervention_fields(do, item, where, groups)
        if fields.get("stepped_from") is not None and not max(ats) <= fields["stepped_from"] < steps:
            raise CaseError(f"{where}: 'from' must be an iteration {max(ats)}..{steps - 1} (not before 'at': a "
                            f"scheduler is stepped only once built), got {fields['stepped_from']}")
        for at in ats:
            actions.append((at, len(actions), Intervention(at=at, do=do, **fields)))
    if len(actions) > MAX_INTERVENTIONS:
        raise CaseError(f"'interventions' has {len(actions)} actions, over the limit of {MAX_INTERVENTIONS}")
    actions.sort(key=lambda entry: entry[:2])
    result = tuple(action for _, _, action in actions)
    for kind in ("skip-optimizer-step", "scheduler-steps"):
        ats = [a.at for a in result if a.do == kind]
        if len(ats) != len(set(ats)):
            raise CaseError(f"'interventions': {kind} given twice for one iteration")
    for action in result:
        present = groups + sum(1 for a in result if a.do == "add-param-group" and a.at <= action.at)
        if action.do == "set" and action.group >= present:
            raise CaseError(f"'interventions': set at {action.at} writes group {action.group}, but the optimizer "
                            f"has {present} then")
    if sum(1 for a in result if a.replace) > 1:  # the case's scheduler is replaced once: by which, else?
        raise CaseError("'interventions': more than one add-scheduler with replace (the case's scheduler is "
                        "replaced once)")
    # In loop order (result is sorted so): a resume listed before an add-scheduler of its iteration, or resume_at
    # at that iteration (it comes first), builds the fresh objects the added scheduler is then built on
    first_add = next((k for k, a in enumerate(result) if a.do == "add-scheduler"), None)
    if first_add is not None and (any(a.do == "resume" for a in result[first_add:])
                                  or (resume_at is not None and resume_at > result[first_add].at)):
        raise CaseError("'interventions': a resume after add-scheduler is not in the language (the added scheduler "
                        "would drive the old optimizer)")
    return result


def _intervention_fields(do: str, item: Mapping[str, Any], where: str, groups: int) -> dict:
    if do == "scheduler-steps":
        count = item["count"]
        if not _is_int(count) or not 0 <= count <= MAX_SCHEDULER_STEPS:
            raise CaseError(f"{where}: 'count' must be an integer 0..{MAX_SCHEDULER_STEPS}")
        if "epoch" not in item:
            return {"count": count}
        epoch = item["epoch"]
        if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
            raise CaseError(f"{where}: 'epoch' must be a number (the argument of this iteration's step(epoch))")
        return {"count": count, "epoch": epoch}
    if do == "wrap-optimizer-step":
        keep = item.get("keep_attributes", False)
        if not isinstance(keep, bool):
            raise CaseError(f"{where}: 'keep_attributes' must be true or false")
        return {"keep_attributes": keep}
    if do == "set":
        group, key, value = item["group"], item["key"], item["value"]
        if not _is_int(group) or group < 0:  # groups added before `at` count (checked once all are read)
            raise CaseError(f"{where}: 'group' must be a param group index >= 0")
        if key not in SETTABLE_KEYS:
            raise CaseError(f"{where}: 'key' must be one of {list(SETTABLE_KEYS)}, got {key!r}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise CaseError(f"{where}: 'value' must be a number")
        return {"group": group, "key": key, "value": value}
    if do == "add-param-group":
        options = item.get("options", {})
        if not isinstance(options, dict) or "params" in options:
            raise CaseError(f"{where}: 'options' must be a table of the new group's keys (no 'params')")
        if set(options) & set(GROUP_FLAGS):  # spec 4.5: whether an added group's lr is a tensor is not settled
            raise CaseError(f"{where}: 'options' cannot hold {sorted(set(options) & set(GROUP_FLAGS))} (an added "
                            "group follows the case's tensor_lr)")
        if groups + 1 > MAX_GROUPS:
            raise CaseError(f"{where}: over the limit of {MAX_GROUPS} param groups (MAX_GROUPS)")
        return {"options": dict(options)}
    if do == "add-scheduler":
        spec = item["scheduler"]
        if not isinstance(spec, dict) or set(spec) - CHILD_KEYS:
            raise CaseError(f"{where}: 'scheduler' must be a table with keys {sorted(CHILD_KEYS)}")
        first = item.get("first", False)
        if not isinstance(first, bool):
            raise CaseError(f"{where}: 'first' must be true or false")
        added = _parse_scheduler(spec, f"{where}.scheduler", 2)
        if any(s.name == "ReduceLROnPlateau" for s in added.walk()):
            raise CaseError(f"{where}: an added ReduceLROnPlateau is not in the language (it would need metrics)")
        stepped_from, replace = item.get("from"), item.get("replace", False)
        if stepped_from is not None and (not _is_int(stepped_from) or stepped_from < 0):
            raise CaseError(f"{where}: 'from' must be an iteration >= 'at' (the first one the added scheduler is "
                            "stepped)")
        if not isinstance(replace, bool):
            raise CaseError(f"{where}: 'replace' must be true or false")
        if replace and first:  # a replaced scheduler never steps beside the one replacing it: no order to state
            raise CaseError(f"{where}: 'first' has no meaning with 'replace' (the two schedulers never step in "
                            "one iteration)")
        return {"scheduler": added, "first": first, "stepped_from": stepped_from, "replace": replace}
    if do == "call":
        if item["method"] not in CALLABLE_METHODS:
            raise CaseError(f"{where}: 'method' must be one of {list(CALLABLE_METHODS)}, got {item['method']!r}")
        return {"method": item["method"]}
    if do == "read-scheduler":
        if item["attribute"] not in READABLE_ATTRIBUTES:
            raise CaseError(f"{where}: 'attribute' must be one of {list(READABLE_ATTRIBUTES)}, "
                            f"got {item['attribute']!r}")
        return {"attribute": item["attribute"]}
    if do == "set-scheduler":
        attribute, value = item["attribute"], item["value"]
        if attribute not in SETTABLE_ATTRIBUTES:
            raise CaseError(f"{where}: 'attribute' must be one of {list(SETTABLE_ATTRIBUTES)}, got {attribute!r}")
        shape = SETTABLE_ATTRIBUTES[attribute]
        if shape == "int" and not _is_int(value):
            raise CaseError(f"{where}: 'value' of {attribute} must be an integer")
        if shape == "number" and not _is_number(value):
            raise CaseError(f"{where}: 'value' of {attribute} must be a number")
        if shape == "list":
            if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
                raise CaseError(f"{where}: 'value' of {attribute} must be a non-empty list of numbers (the whole "
                                "list, one per param group)")
            if len(value) > MAX_GROUPS:
                raise CaseError(f"{where}: 'value' of {attribute} has {len(value)} numbers, over the limit of "
                                f"{MAX_GROUPS} (MAX_GROUPS)")
            value = tuple(value)
        return {"attribute": attribute, "value": value}
    if do == "change-argument":
        argument = item["argument"]
        if not isinstance(argument, str) or not argument:
            raise CaseError(f"{where}: 'argument' must be \"{GROUP_LR_ARGUMENT}\" (a group's tensor lr) or the name of "
                            "a tensor argument of the case's scheduler")
        if ("multiply" in item) == ("value" in item):
            raise CaseError(f"{where}: give exactly one of 'multiply' (tensor.mul_) and 'value' (tensor.fill_)")
        how = "multiply" if "multiply" in item else "value"
        if not _is_number(item[how]):
            raise CaseError(f"{where}: '{how}' must be a number")
        fields = {"argument": argument, how: item[how]}
        if "group" in item:
            if not _is_int(item["group"]) or item["group"] < 0:
                raise CaseError(f"{where}: 'group' must be a param group index >= 0")
            fields["group"] = item["group"]
        return fields
    if do == "resume":
        load = item["load"]
        # a state dict listed twice is the same object loaded again (spec 4.5, pytorch#32756), at most twice
        if (not isinstance(load, list) or not set(load) <= set(STATE_DICTS)
                or any(load.count(name) > 2 for name in STATE_DICTS)):
            raise CaseError(f"{where}: 'load' must be a list of state dicts from {list(STATE_DICTS)}, each at most "
                            "twice")
        fields = {"load": tuple(load)}
        if "weights_only" in item:  # how the checkpoint is read back (spec 4.5): stated, true or false
            if not isinstance(item["weights_only"], bool):
                raise CaseError(f"{where}: 'weights_only' must be true or false")
            fields["weights_only"] = item["weights_only"]
        if "scheduler" not in item:
            return fields
        # the fresh objects' scheduler built with other arguments (spec 4.5): the class is the case's, checked
        # in parse_case once the case's scheduler is known
        spec = item["scheduler"]
        if not isinstance(spec, dict) or set(spec) - CHILD_KEYS:
            raise CaseError(f"{where}: 'scheduler' must be a table with keys {sorted(CHILD_KEYS)}")
        return {**fields, "scheduler": _parse_scheduler(spec, f"{where}.scheduler", 2)}
    return {}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_settable(action: Intervention, scheduler: str) -> None:
    """A set-scheduler writes an attribute the case's scheduler has (model.has_attribute): a setattr of one it
    lacks would only add an attribute nothing reads."""
    if not has_attribute(scheduler, action.attribute):
        raise CaseError(f"'interventions': set-scheduler at {action.at} writes {action.attribute}, which a "
                        f"{scheduler} does not have (spec 4.5)")


def _check_changeable(action: Intervention, scheduler: SchedulerSpec, groups, tensor_lr: bool) -> None:
    """A change-argument changes a tensor the user passed at construction (spec 4.5): "lr" a group's, which
    must be a tensor group of the case; any other name the case's scheduler's argument, a {tensor = x} - alone
    (no `group`) or the element `group` of a per-group list. A float has no handle to change in place."""
    where = f"'interventions': change-argument at {action.at}"
    if action.argument == GROUP_LR_ARGUMENT:
        if action.group is None or action.group >= len(groups):
            raise CaseError(f"{where}: argument \"lr\" needs 'group', one of the case's {len(groups)} group(s)")
        if not (tensor_lr or groups[action.group].get("tensor_lr", False)):
            raise CaseError(f"{where}: group {action.group}'s lr is a float, not a tensor (tensor_lr)")
        return
    if scheduler.name in COMPOSITES:
        raise CaseError(f"{where}: a {scheduler.name} has no tensor argument of its own to change")
    value = scheduler.kwargs.get(action.argument)
    if isinstance(value, list):
        if action.group is None or action.group >= len(value):
            raise CaseError(f"{where}: {action.argument} is a list of {len(value)}: 'group' picks its element")
        value = value[action.group]
    elif action.group is not None:
        raise CaseError(f"{where}: {action.argument} is not a per-group list: no 'group'")
    if not is_tensor_argument(value):
        raise CaseError(f"{where}: {action.argument!r} is not a tensor argument ({{ tensor = x }}) of the "
                        f"{scheduler.name}")


def _floats(values, name: str, steps: int) -> tuple[float, ...] | None:
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != steps:
        raise CaseError(f"'{name}' must be a list with one number per step ({steps})")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise CaseError(f"'{name}' must hold numbers (TOML's nan, inf and -inf are allowed)")
    return tuple(values)


def _specifier(text: str):
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise CaseError(f"'torch' {text!r} is not a PEP 440 specifier like '>=2.4'") from None


def applies_to(case: Case, release: str) -> bool:
    """Whether the case exists on this torch release (its `torch` specifier admits it)."""
    return not case.torch or _admits(case.torch, release)


@functools.lru_cache(maxsize=None)  # a run asks about each of a few specifiers for one release, case after case
def _admits(specifier: str, release: str) -> bool:
    return _specifier(specifier).contains(release, prereleases=True)


def spec_hash(case: Case) -> str:
    """A stable hash of the case's data as written (after [defaults] are merged)."""
    canonical = json.dumps(case.raw, sort_keys=True, separators=(",", ":"), default=_json_default)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def case_to_json(case: Case) -> dict:
    """The case as sent to an out-of-process adapter (see schemas/protocol.schema.json).
    JSON has no nan/inf, so non-finite numbers are sent as the strings "nan", "inf", "-inf"."""
    return json_safe(dict(case.raw))


# Keys whose values are text, never numbers: a string "inf" there stays a string when a case is decoded.
_TEXT_KEYS = frozenset({"id", "why", "scheduler", "protocol", "torch", "tags", "expect_error", "expect_warning",
                        "name", "fn", "do", "key", "method", "load", "attribute", "argument", "on"})


def case_from_json(data: Mapping[str, Any]) -> Case:
    """The inverse of `case_to_json`, for the other side of the wire (conformance/serve.py, or any Python
    adapter that receives cases as JSON): the strings "nan", "inf", "-inf" become floats again, then the
    dict is validated by `parse_case`. Raises CaseError."""
    if not isinstance(data, Mapping):
        raise CaseError(f"a case must be a JSON object, got {type(data).__name__}")
    return parse_case(_decode_nonfinite(data), source="<json>")


def _decode_nonfinite(value, key: str | None = None):
    if isinstance(value, str) and value in NONFINITE_STRINGS and key not in _TEXT_KEYS:
        return float(value)
    if isinstance(value, Mapping):
        return {k: _decode_nonfinite(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_nonfinite(v, key) for v in value]
    return value


def _json_default(value):
    return repr(value)


def select(
    cases: Iterable[Case],
    patterns: Iterable[str] = (),
    schedulers: Iterable[str] = (),
    tags: Iterable[str] = (),
) -> list[Case]:
    """Filter cases by id pattern(s), scheduler name(s) (anywhere in the tree) and tag(s). Empty = no filter.

    An id pattern with a glob character (`*`, `?`, `[`) must match the whole id (`steplr/*`); a case's full id
    selects that case alone (`steplr/default-gamma`, not `multisteplr/default-gamma`); any other pattern matches
    ids containing it (`cosine`), as pytest's -k does. Case-insensitive (ids are lowercase)."""
    cases = list(cases)
    ids = {case.id for case in cases}
    patterns, schedulers, tags = [p.lower() for p in patterns], {s.lower() for s in schedulers}, set(tags)

    def matches(case_id: str, pattern: str) -> bool:
        if any(char in pattern for char in "*?["):
            return fnmatch.fnmatchcase(case_id, pattern)
        return case_id == pattern if pattern in ids else pattern in case_id

    chosen = []
    for case in cases:
        if patterns and not any(matches(case.id, p) for p in patterns):
            continue
        if schedulers and not schedulers & {s.lower() for s in case.schedulers}:
            continue
        if tags and not tags & set(case.tags):
            continue
        chosen.append(case)
    return chosen


def _rel(path: Path) -> str:
    return resources.display(path)


_CASE_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")
_ID_LINE = re.compile(r"^\s*id\s*=")


def case_lines(text: str) -> list[int]:
    """The line of each [[case]] table's `id = ...` (its header's line when it has none), in table order.

    tomllib gives no positions. A case is found by its position among the [[case]] tables rather than by
    searching for its id as written: an id is written escaped (a quote as \\"), and a duplicate id is written
    twice - searching by id would name the wrong line or none."""
    lines: list[int] = []
    in_case = False
    for number, content in enumerate(text.splitlines(), 1):
        if _CASE_HEADER.match(content):
            lines.append(number)
            in_case = True
        elif content.lstrip().startswith("["):
            in_case = False
        elif in_case and _ID_LINE.match(content) and lines:
            lines[-1] = number
            in_case = False
    return lines


def _where(path: Path, case_id: str, text: str | None = None, index: int | None = None) -> str:
    """`file:line: id`, line being that of the `index`-th [[case]] table's id (see case_lines); without an
    index, that of the first table whose id is `case_id`."""
    text = text if text is not None else path.read_text(encoding="utf-8")
    lines = case_lines(text)
    line = 0
    if index is not None and index < len(lines):
        line = lines[index]
    elif index is None:
        written = text.splitlines()
        line = next((n for n in lines if _id_written(written[n - 1]) == case_id), 0)
    return f"{_rel(path)}:{line}: {case_id}" if line else f"{_rel(path)}: {case_id}"


def _id_written(content: str) -> object:
    """The value of an `id = ...` line, read as TOML (so escapes are undone); None if it is not one."""
    try:
        return tomllib.loads(content).get("id")
    except tomllib.TOMLDecodeError:
        return None
