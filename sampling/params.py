"""One declarative description of every sampler and its parameters.

Both host adapters (ComfyUI nodes, A1111 settings/infotext) and the samplers' own argument
validation read these tables, so a name, default, range, step or tooltip is written exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ParamKind = Literal["float", "int", "bool", "choice"]


@dataclass(frozen=True)
class Param:
    """A sampler keyword argument as a UI widget and a validation rule.

    ``min_open`` / ``max_open`` mark an open end of the range (e.g. β ∈ (0, 1]).
    ``label`` is the short human name (A1111 setting label, infotext key suffix).
    """

    name: str
    kind: ParamKind
    default: Any
    label: str
    tooltip: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple[str, ...] = ()

    def range_text(self) -> str:
        """The valid values in words, as error messages and tooltips show them."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        left = "(" if self.min_open else "["
        right = ")" if self.max_open else "]"
        return f"{left}{_fmt(self.min)}, {_fmt(self.max)}{right}"

    def widget_range(self) -> tuple[float, float]:
        """(low, high) for a slider or number widget: the valid range with an open end moved in by
        one step, so that no value a widget can reach is rejected (β ∈ (0, 1] → [0.01, 1])."""
        if self.min is None or self.max is None or self.step is None:
            raise ValueError(f"{self.name} is not a bounded numeric parameter")
        low = self.min + self.step if self.min_open else self.min
        high = self.max - self.step if self.max_open else self.max
        return low, high

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ValueError``
        naming the parameter and its valid range."""
        bad = ValueError(f"{self.name}={value!r} is out of range: expected {self.range_text()}")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise bad
        if self.kind == "choice":
            text = str(value)
            for choice in self.choices:
                if text.lower() == choice.lower():
                    return choice
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        if self.kind == "int":
            if number != int(number):
                raise bad
            number = int(number)
        if self.min is not None and (number < self.min or (self.min_open and number == self.min)):
            raise bad
        if self.max is not None and (number > self.max or (self.max_open and number == self.max)):
            raise bad
        return number


def _fmt(x: float | None) -> str:
    if x is None:
        return "inf"
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: its stable name (a permanent contract of saved workflows and
    infotext), human label, function, parameters, and what the hosts need to know about it."""

    name: str
    label: str
    fn: Callable[..., Any]
    params: tuple[Param, ...]
    description: str
    family: str
    nfe_per_step: int = 1
    stochastic: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def defaults(self) -> dict[str, Any]:
        """The keyword arguments that reproduce the sampler's documented defaults."""
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}")


# Shared parameter descriptions. Samplers refer to these objects so that, e.g., every β reads the same.


def beta_param(default: float, extra: str = "") -> Param:
    """Momentum β ∈ (0, 1] (spec/samplers.md §1–3)."""
    return Param(
        name="beta",
        kind="float",
        default=default,
        label="beta",
        tooltip=(
            "Momentum. Lower = more damping: fewer burnt / oversaturated artifacts at high CFG or few "
            "steps, slightly softer detail. 1 = the plain solver." + (" " + extra if extra else "")
        ),
        min=0.0,
        max=1.0,
        step=0.01,
        min_open=True,
    )


def order_param(default: int, what: str) -> Param:
    """Multistep order k ∈ {1, 2, 3, 4}."""
    return Param(
        name="order",
        kind="int",
        default=default,
        label="order",
        tooltip=(
            f"How many past steps {what} combines. Higher = more accurate with enough steps, but "
            "less stable at high CFG / few steps. 1 = Euler-like."
        ),
        min=1,
        max=4,
        step=1,
    )


def validate_params(params: tuple[Param, ...], values: dict[str, Any]) -> dict[str, Any]:
    """Validate keyword arguments against a parameter table; unknown names are a ``TypeError``
    (as Python itself reports an unexpected keyword)."""
    known = {p.name: p for p in params}
    unknown = set(values) - set(known)
    if unknown:
        raise TypeError(f"unexpected parameter(s): {', '.join(sorted(unknown))}")
    return {name: known[name].validate(value) for name, value in values.items()}
