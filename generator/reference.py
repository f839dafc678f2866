"""What a family declares, written out for people: the text `qgen families` prints and the
family tables of docs/answers-format.md (a test keeps that file equal to this)."""

from __future__ import annotations

from .family import Answer, LoadedFamily


def _label(a: Answer) -> str:
    return a.label if isinstance(a.label, str) else ", ".join(a.label)


def _part(label: str) -> str:
    return f"part ({label})" if label else "no parts"


def family_text(fam: LoadedFamily) -> str:
    spec = fam.spec
    lines = [f"{spec.name}  ({spec.points} points)  {spec.title}", "  parameters:"]
    lines += [f"    {name}: {meaning}" for name, meaning in spec.params.items()]
    lines.append("  parts:")
    lines += [f"    {('(' + p.label + ')') if p.label else '-'} {p.points} pt  {p.asks}" for p in spec.parts]
    if spec.constraints:
        lines.append("  constraints (exam.toml [slot.constraints], defaults):")
        lines += [f"    {key} = {c.default!r}" + (f"  ({c.meaning})" if c.meaning else "")
                  for key, c in spec.constraints.items()]
    if spec.rules:
        lines.append("  sampling rules (every variant keeps them):")
        lines += [f"    {name}: {meaning}" for name, meaning in spec.rules.items()]
    lines.append("  answers (answers.csv, the key book):")
    lines += [f"    {a.name} ({_part(a.part)}, {a.kind}): {_label(a)}" for a in spec.answers]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def family_markdown(fam: LoadedFamily) -> str:
    spec = fam.spec
    out = [f"### `{spec.name}`", "", f"{spec.title}. Parts: " +
           ", ".join(f"({p.label}) {p.points}" if p.label else f"{p.points} points" for p in spec.parts) + ".", "",
           "| param | meaning |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in spec.params.items()]
    out += ["", "| answer | part | kind | CSV label |", "|---|---|---|---|"]
    out += [f"| `{a.name}` | {a.part or '-'} | {a.kind}{', a set' if a.unordered else ''}"
            f"{'' if a.final else ', key only'} | {_cell(_label(a))} |" for a in spec.answers]
    return "\n".join(out) + "\n"


def families_markdown(families: list[LoadedFamily]) -> str:
    return "\n".join(family_markdown(f) for f in families)
