"""docs/spec.md keeps up with the data: every message of every reference golden is one of Annex C's templates,
so an implementer can produce it from the spec alone (a new case with a new text fails here until Annex C has it)."""

from __future__ import annotations

import re

from pathlib import Path

from conformance import golden
from conformance.traces import short_message

ROOT = Path(__file__).resolve().parents[2]  # the checkout: docs/ is not in the wheel
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def annex_c() -> str:
    spec = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    return spec[spec.index("## Annex C. Message templates"):]


def templates() -> list[str]:
    """The texts of Annex C's tables (their code spans) and the KeyError's, as Python's str() gives it (a repr)."""
    text = annex_c()
    found = []
    for row in (line for line in text.splitlines() if line.startswith("| ")):
        found += [m.group(2) for m in re.finditer(r"(``?)(.+?)\1(?!`)", row)]
    argument = re.search(r"The argument is\n\n```\n(.*?)\n```", text, re.S).group(1).replace("⏎\n", "\n")
    found.append(repr(argument))
    found.append("")  # the empty message of NotImplementedError
    return [" ".join(t.split()) for t in found]


def fits(template: str, message: str, prefix: bool) -> bool:
    """Does `message` read as `template` with each {placeholder} filled by a value of 1 to 40 characters?
    With `prefix`, `message` may stop anywhere in the template (it was cut at 157 characters)."""
    chunks = PLACEHOLDER.split(template)

    def walk(chunk: int, at: int) -> bool:
        literal, rest = chunks[chunk], message[at:]
        if prefix and literal.startswith(rest):
            return True
        if not rest.startswith(literal):
            return False
        at += len(literal)
        if chunk == len(chunks) - 1:
            return at == len(message)
        for end in range(at + 1, min(at + 40, len(message)) + 1):  # the placeholder's value: message[at:end]
            if walk(chunk + 1, end):
                return True
        return False

    return walk(0, 0)


def reference_messages() -> set[str]:
    store = golden.load()
    messages = set()
    for case_id in store.entries:
        record = store.select(case_id, None)
        trace = store.read_verified(store.root / record["file"], record["sha256"])
        messages |= {event.message for event in trace.events if event.kind != "value"}  # values are numbers
    return messages


def test_every_message_of_every_reference_golden_is_an_annex_c_template():
    known = templates()
    assert len(known) > 30
    unknown = []
    for message in sorted(reference_messages()):
        cut = len(message) == 160 and message.endswith("...")
        body = message[:-3] if cut else message
        if not any(fits(t, body, prefix=cut) for t in known):
            unknown.append(message)
    assert unknown == []


def test_the_matcher_can_say_no():
    key_error = next(t for t in templates() if t.startswith('"param'))
    cut = short_message(key_error.replace("{i}", "12"))
    assert fits(key_error, cut[:-3], prefix=True)
    assert not fits(key_error, cut[:-3].replace("resuming", "restoring"), prefix=True)
    assert not fits("Factor should be < 1.0.", "Factor should be < 2.0.", prefix=False)
    assert fits("expected {groups} min_lrs, got {n}", "expected 1 min_lrs, got 2", prefix=False)
    assert not fits("expected {groups} min_lrs, got {n}", "expected 1 min_lrs, got", prefix=False)
