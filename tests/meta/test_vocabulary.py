"""The callable vocabulary: each function equals its documented expression, bit for bit."""

import types

import pytest

from conformance import vocabulary

PARAMS = {
    "constant": {"value": 0.3},
    "linear_warmup": {"warmup": 7},
    "constant_then_linear_decay": {"n_epochs": 5, "n_epochs_decay": 7},
    "exponential": {"gamma": 0.93},
    "step_decay": {"step_size": 3, "gamma": 0.7},
    "inverse_sqrt": {"warmup": 4},
    "floor_div": {"divisor": 3},
    "halving": {},
    "power": {"gamma": 0.99},
}
OBJECTS = {"call_count_decay": {"gamma": 0.9}}  # stateful callable objects, tested below
VALUES = {"not_callable": {"value": 0.95}}  # a bare value where a callable belongs, tested below


def test_every_entry_is_exercised_here():
    assert set(PARAMS) | set(OBJECTS) | set(VALUES) == set(vocabulary.ENTRIES)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_not_callable_builds_the_bare_value_and_only_it_is_marked_so(name):
    built = vocabulary.build({"fn": name, **VALUES[name]})
    assert not callable(built) and built == VALUES[name]["value"] and type(built) is type(VALUES[name]["value"])
    assert [n for n, e in vocabulary.ENTRIES.items() if not e.is_callable] == sorted(VALUES)
    assert not vocabulary.is_stateful({"fn": name, **VALUES[name]})


def test_only_callable_objects_are_stateful():
    stateful = {n for n in vocabulary.ENTRIES if vocabulary.is_stateful({"fn": n})}
    assert stateful == set(OBJECTS)
    assert not vocabulary.is_stateful({"fn": "no_such_function"})


def test_call_count_decay_is_a_stateful_object_whose_dict_is_its_state():
    fn = vocabulary.build({"fn": "call_count_decay", **OBJECTS["call_count_decay"]})
    assert not isinstance(fn, types.FunctionType)  # torch's state_dict saves its __dict__
    assert [fn(x) for x in (7, 7, 0, 3)] == [1.0, 0.9, 0.9**2, 0.9**3]  # the argument is ignored
    fresh = vocabulary.build({"fn": "call_count_decay", **OBJECTS["call_count_decay"]})
    fresh.__dict__.update(fn.__dict__)  # what load_state_dict does
    assert fresh(0) == fn(0)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_function_equals_documented_expression(name):
    entry = vocabulary.ENTRIES[name]
    params = {**(entry.defaults or {}), **PARAMS[name]}
    fn = vocabulary.build({"fn": name, **PARAMS[name]})
    assert isinstance(fn, types.FunctionType)  # like a user's lambda: torch's state_dict drops it
    for x in [0, 1, 2, 3, 5, 8, 13, 40, 0.5, 2.25]:
        assert fn(x) == eval(entry.expression, {"max": max, "min": min, "float": float}, {**params, "x": x})


def test_lists_build_one_callable_per_group():
    fns = vocabulary.build([{"fn": "constant", "value": 1.0}, {"fn": "exponential", "gamma": 0.5}])
    assert [f(2) for f in fns] == [1.0, 0.25]


class _Base:
    """A stand-in for a scheduler base class (A.2, stripped to what the subclasses read): base_lrs from the
    groups, last_epoch, and the groups' lrs."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer, self.last_epoch = optimizer, last_epoch
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]


@pytest.mark.parametrize("name, epoch, expected", [
    ("closed_form_decay", 3, [0.1 * 0.5**3]),
    ("chainable_decay", 3, [0.2 * 0.5]),  # the current lr times gamma, whatever the epoch
    ("chainable_decay", 0, [0.2]),  # unchanged at the initial step
    ("chainable_decay_with_closed_form", 3, [0.2 * 0.5]),
    ("closed_form_decay_default_last_epoch", 3, [0.1 * 0.5**3]),
])
def test_each_subclass_computes_its_documented_get_lr(name, epoch, expected):
    mixin, params = vocabulary.subclass({"fn": name, "gamma": 0.5})
    scheduler = type(mixin.__name__, (mixin, _Base), {})(types.SimpleNamespace(param_groups=[{"lr": 0.1}]), **params)
    scheduler.optimizer.param_groups[0]["lr"] = 0.2
    scheduler.last_epoch = epoch
    assert scheduler.gamma == 0.5 and scheduler.get_lr() == expected
    closed = getattr(scheduler, "_get_closed_form_lr", None)
    assert (closed is not None) == (name == "chainable_decay_with_closed_form")
    if closed is not None:
        assert closed() == [0.1 * 0.5**epoch]


def test_a_subclass_spec_is_checked_like_a_function_spec():
    vocabulary.validate_subclass({"fn": "closed_form_decay", "gamma": 0.5}, "x")
    for spec, message in (({"fn": "nope", "gamma": 1}, "unknown subclass 'nope'"),
                          ({"fn": "closed_form_decay"}, "closed_form_decay takes (gamma), got []"),
                          ({"fn": "exponential", "gamma": 0.5}, "unknown subclass 'exponential'"),
                          (0.5, "expected {fn = <name>, ...params}")):
        with pytest.raises(vocabulary.VocabularyError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("]", r"\]").replace("{", r"\{").replace("}", r"\}")):
            vocabulary.validate_subclass(spec, "x")
