"""Draw what the candidate can run: learn, while fuzzing, which parts of a case the candidate refuses, and steer
the drawn cases away from them.

A library adapter declares coarsely (its schedulers and features) and raises `Unsupported` for the
configurations it cannot express: a cosine restart with T_mult 1.5, a plateau threshold in 'rel' mode, per-group
values that differ, step(epoch). Drawn from the whole language, most cases then hit one of them and are skipped
(97% against one held-out adapter). What a refusal's message says is free text, one library's wording; what a
refusal *needs* is measured instead, as fuzz/attribution.py measures what a divergence needs: take one part of
the refused case back to its simplest form and run the pair again. A part whose reversal alone makes the pair
comparable is one the candidate refuses - an *atom* of the case:

    ("kwarg", scheduler, key, value)   a constructor argument's value (reverted: the key left out, its default)
    ("groups",)                        more than one param group (reverted: the first group, per-group lists cut)
    ("optimizer", name)                Adam or Adagrad (reverted: SGD, without betas)
    ("protocol", name)                 scheduler-first, resume-state-dict, step-epoch (reverted: standard)
    ("tensor_lr",)                     0-dim tensor lrs (reverted: floats)
    ("interventions",)                 any intervention (reverted: none)

`steer` applies the same reversal to every drawn case holding a refused atom: the choices hypothesis made stay
what they were (only the case built from them changes), so its generation, replay and shrinking are untouched,
and a seed still draws the same choices. A candidate that refuses nothing is never steered: its cases are those
of a search without this module. Learning is deterministic (it depends only on the verdicts), so a seed still
reproduces a run; it stops once a divergence is found, so that shrinking sees one fixed mapping.

Cost: each part is tried at most TRIES times over a run, only on refused cases, one run of the pair each, and
all of it within `budget` runs (a quarter of the examples, plus 50).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable

from conformance.cases import CaseError, parse_case
from conformance.fuzz.differential import Kind, Verdict

def budget(examples: int) -> int:
    """The learning runs a search may have spent after `examples` examples: a candidate with many distinct
    refused values (fvcore: 722 runs over 1074 examples unbounded) must not halve the search's rate to learn
    them. Enough for a port refusing a few dozen things (Picky: 90 runs)."""
    return 50 + examples // 4


TRIES = 3  # reversals of one atom (on different refused cases) before it is taken as not refused on its own
_SHAPE_KWARGS = frozenset({"lr_lambda", "scale_fn", "milestones", "optimizer"})  # what a composite is / callables


def _nodes(data: dict):
    stack = [data]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("children", ()))


def _key(value) -> str:
    return repr(value)


def atoms(data: dict) -> list[tuple]:
    """The parts of drawn case data a candidate may refuse, each revertible by `revert` (module docstring)."""
    found = [("kwarg", node["scheduler"], key, _key(value)) for node in _nodes(data)
             for key, value in node.get("kwargs", {}).items() if key not in _SHAPE_KWARGS]
    if len(data["groups"]) > 1:
        found.append(("groups",))
    if data.get("optimizer", {}).get("name", "SGD") != "SGD":
        found.append(("optimizer", data["optimizer"]["name"]))
    if data.get("protocol", "standard") != "standard":
        found.append(("protocol", data["protocol"]))
    if data.get("tensor_lr"):
        found.append(("tensor_lr",))
    if data.get("interventions"):
        found.append(("interventions",))
    return list(dict.fromkeys(found))


def revert(data: dict, atom: tuple) -> dict:
    """`data` with `atom` taken back to its simplest form (module docstring); `data` itself is not changed."""
    out = copy.deepcopy(data)
    kind = atom[0]
    if kind == "kwarg":
        _, scheduler, key, value = atom
        for node in _nodes(out):
            if node["scheduler"] == scheduler and _key(node.get("kwargs", {}).get(key, _MISSING)) == value:
                del node["kwargs"][key]
                if key == "last_epoch" and not any("last_epoch" in n.get("kwargs", {}) for n in _nodes(out)):
                    for group in out["groups"]:  # drawn for the resume by last_epoch only when it is absent
                        group.pop("initial_lr", None)
    elif kind == "groups":
        groups = len(out["groups"])
        out["groups"] = out["groups"][:1]
        for node in _nodes(out):
            for key, value in node.get("kwargs", {}).items():
                if isinstance(value, list) and len(value) == groups and key not in ("milestones",):
                    node["kwargs"][key] = value[0]
        out.pop("interventions", None)  # `set` and `add-param-group` name groups
    elif kind == "optimizer":
        out["optimizer"] = {"name": "SGD"}
        for group in out["groups"]:
            group.pop("betas", None)
    elif kind == "protocol":
        out["protocol"] = "standard"
        out.pop("resume_at", None)
        out.pop("epochs", None)
        out.pop("interventions", None)  # a partial resume or an action may need the protocol's resume
    elif kind == "tensor_lr":
        out.pop("tensor_lr", None)
    elif kind == "interventions":
        out.pop("interventions", None)
    return out


_MISSING = object()


def _reverted(data: dict, reverting) -> dict:
    for atom in reverting:
        data = revert(data, atom)
    return data


def _comparable(verdict: Verdict) -> bool:
    """Whether the reverted case was graded - and not only because leaving a required argument out made both
    sides raise at construction (that says nothing of the value the candidate refused)."""
    if verdict.kind not in (Kind.SAME, Kind.DIVERGENT):
        return False
    error = verdict.expected.error if verdict.expected is not None else None
    return error is None or error.phase != "construct"


class Refusals:
    """What the candidate was seen to refuse so far (`refused` atoms), learned from refused drawn cases."""

    def __init__(self) -> None:
        self.refused: set[tuple] = set()
        self.tries: Counter = Counter()  # atom -> reversals tried
        self.runs = 0  # extra runs of the pair spent learning
        self.frozen = False  # set once a divergence is found: shrinking needs one fixed mapping

    def steer(self, data: dict) -> dict:
        """`data` with every refused atom it holds reverted (unchanged while nothing was learned)."""
        if not self.refused:
            return data
        steered = data
        for _ in range(len(self.refused) + 1):  # reverting cuts lists to scalars: a pass may expose new atoms
            held = [atom for atom in atoms(steered) if atom in self.refused]
            if not held:
                break
            for atom in held:
                steered = revert(steered, atom)
        if steered is data:
            return data
        try:
            parse_case(steered, source="<fuzz>")
        except (CaseError, TypeError, ValueError, KeyError):
            return data  # a reversal the language refuses here: the drawn case, refused or not, as it was
        return steered

    def learn(self, data: dict, check: Callable[[object], Verdict]) -> None:
        """After `data` was refused: find the atoms refused on their own. A refused case often holds several (two
        param groups *and* Adam), so reverting one alone shows nothing. So the case's shape (every atom but its
        arguments) is reverted first; if that case is graded, each shape atom is put back alone, and one the
        candidate then refuses is learned. If the arguments are what is refused, they are reverted too and put
        back one at a time the same way - or, where leaving every one out makes no gradable case (a default
        that raises: CyclicLR's cycle_momentum on SGD without momentum), reverted one at a time instead.
        If even the simplest case is refused, its scheduler is, which steering cannot change. At most TRIES
        trials per atom over a run, one run of the pair each."""
        if self.frozen:
            return
        found = atoms(data)
        # a trial for each atom of the case, whatever it shows: a case whose scheduler itself is refused (no
        # reversal helps) costs its few runs TRIES times per atom, not once per drawn case
        untried = [atom for atom in found if atom not in self.refused and self.tries[atom] < TRIES]
        if not untried:
            return
        self.tries.update(untried)
        shape = [atom for atom in found if atom[0] != "kwarg"]
        arguments = [atom for atom in found if atom[0] == "kwarg"]
        background = _reverted(data, shape)
        graded = self._run(background, check)
        if graded is not None and _comparable(graded):
            self._put_back_alone(data, [atom for atom in untried if atom in shape], found, check)
            return
        if graded is None or graded.kind is not Kind.UNSUPPORTED:
            return
        simplest = self._run(_reverted(background, arguments), check)
        if simplest is not None and _comparable(simplest):
            self._put_back_alone(data, untried, found, check)
            return
        for atom in untried:
            if atom in arguments:
                alone = self._run(_reverted(background, [atom]), check)
                if alone is not None and _comparable(alone):
                    self.refused.add(atom)

    def _put_back_alone(self, data: dict, testing, found, check) -> None:
        """Each atom of `testing` kept alone, every other atom of `found` reverted: refused -> learned."""
        for atom in testing:
            alone = self._run(_reverted(data, [other for other in found if other != atom]), check)
            if alone is not None and alone.kind is Kind.UNSUPPORTED:
                self.refused.add(atom)

    def _run(self, data: dict, check: Callable[[object], Verdict]) -> Verdict | None:
        try:
            case = parse_case(data, source="<fuzz>")
        except (CaseError, TypeError, ValueError, KeyError):
            return None  # that reversal is no case of the language (a required argument): it says nothing
        self.runs += 1
        return check(case)

def describe(refused, most: int = 5) -> str:
    """Refused atoms, readable, the first `most` of them."""
    names = sorted(name(atom) for atom in refused)
    more = f", and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def name(atom: tuple) -> str:
    """An atom as a reader would say it: `StepLR(gamma=0.5)`, `optimizer Adam`, `several param groups`."""
    if atom[0] == "kwarg":
        return f"{atom[1]}({atom[2]}={atom[3]})"
    return {"groups": "several param groups", "tensor_lr": "tensor lrs",
            "interventions": "interventions"}.get(atom[0]) or f"{atom[0]} {atom[1]}"
