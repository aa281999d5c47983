"""One declarative description of every sampler and its parameters.

Both host adapters (ComfyUI nodes, A1111 settings and infotext) and the samplers' own argument checks
read these tables, so a name, default, range, step or tooltip is written exactly once. Every numeric
range is closed and is the range the widgets offer, so validation, error messages and widgets say one
thing (see docs/conventions.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

ParamKind = Literal["float", "int", "bool", "choice"]


@dataclass(frozen=True)
class Param:
    """A sampler keyword argument as a UI widget and a validation rule: a number in [min, max] on a
    grid of ``step``, a bool, or one of ``choices``. ``label`` is the short human name (A1111 setting
    label, infotext key suffix)."""

    name: str
    kind: ParamKind
    default: Any
    label: str
    tooltip: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()

    def range_text(self) -> str:
        """The valid values in words, as error messages and tooltips show them."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return f"[{_fmt(self.min)}, {_fmt(self.max)}]"

    def widget_range(self) -> tuple[float, float]:
        """(low, high) of a slider or number widget: the valid range itself."""
        if self.min is None or self.max is None or self.step is None:
            raise ValueError(f"{self.name} is not a bounded numeric parameter")
        return self.min, self.max

    def validate(self, value: Any) -> Any:
        """``value`` converted to this parameter's type, or a ``ValueError`` naming the parameter
        and its valid values."""
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
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise bad
        return number


def _fmt(x: float | None) -> str:
    if x is None:
        return "inf"
    return str(int(x)) if float(x).is_integer() else str(x)


def defaults(params: Iterable[Param]) -> dict[str, Any]:
    """Name → default of a parameter table: what the sampler signatures and the hosts read."""
    return {p.name: p.default for p in params}


def validate_params(params: tuple[Param, ...], values: dict[str, Any]) -> dict[str, Any]:
    """Validate keyword arguments against a parameter table; an unknown name is a ``TypeError``
    (as Python itself reports an unexpected keyword)."""
    known = {p.name: p for p in params}
    unknown = set(values) - set(known)
    if unknown:
        raise TypeError(f"unexpected parameter(s): {', '.join(sorted(unknown))}")
    return {name: known[name].validate(value) for name, value in values.items()}


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
        return defaults(self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}")


# Parameters several samplers share, so that every β (order, noise scale) reads the same.


def beta_param(default: float, extra: str = "") -> Param:
    """Momentum β ∈ [0.01, 1] (docs/multistep.md)."""
    return Param(
        name="beta",
        kind="float",
        default=default,
        label="beta",
        tooltip=(
            "Momentum. Lower = more damping: fewer burnt / oversaturated artifacts at high CFG or few "
            "steps, slightly softer detail. 1 = the plain solver." + (" " + extra if extra else "")
        ),
        min=0.01,
        max=1.0,
        step=0.01,
    )


def order_param(default: int, what: str, highest: int = 4) -> Param:
    """Multistep order k ∈ {1, …, highest}."""
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
        max=highest,
        step=1,
    )


def s_noise_param() -> Param:
    """The hosts' noise multiplier, shared by every stochastic sampler's table."""
    return Param(
        name="s_noise",
        kind="float",
        default=1.0,
        label="noise scale",
        tooltip=(
            "Multiplies every bit of fresh noise the sampler adds. 1 = exact; slightly above 1 can add "
            "detail, below 1 smooths, 0 makes the sampler deterministic."
        ),
        min=0.0,
        max=2.0,
        step=0.01,
    )
