"""Walk a module tree and plan to swap modules in every slot that holds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from torch import nn

#: ``replacement(qualified_name, module)``: the module to put in its place (``module`` itself to
#: keep it), or ``None`` to walk into it.
Replacement = Callable[[str, nn.Module], Optional[nn.Module]]


@dataclass
class Plan:
    """The swaps a walk decided on; nothing changes until :meth:`apply`."""

    root: nn.Module
    new_root: Optional[nn.Module] = None
    slots: list[tuple[nn.Module, str, nn.Module]] = field(default_factory=list)

    def apply(self) -> nn.Module:
        """Put every replacement in its slot; return the root (the new one if the root itself changed)."""
        for parent, key, module in self.slots:
            setattr(parent, key, module)
        return self.new_root if self.new_root is not None else self.root


def plan_replacements(root: nn.Module, replacement: Replacement) -> Plan:
    """Decide a replacement for the modules of ``root``, without changing it.

    The walk covers nested modules, ``Sequential``, ``ModuleList`` and ``ModuleDict``. A module held
    by several parents (or twice by one) is asked for once, under the first name met, and every slot
    that held it gets the same replacement, so sharing survives. A module that ``replacement``
    answers for (with a module) is not walked into.
    """
    decided: dict[int, Optional[nn.Module]] = {}
    visited: set[int] = set()
    plan = Plan(root)

    def decide(name: str, module: nn.Module) -> Optional[nn.Module]:
        if id(module) not in decided:
            decided[id(module)] = replacement(name, module)
        return decided[id(module)]

    def visit(module: nn.Module, prefix: str) -> None:
        if id(module) in visited:
            return
        visited.add(id(module))
        # named_children() yields a module once per parent; every slot that holds it must change
        for child_name, child in list(module._modules.items()):
            if child is None:
                continue
            name = f"{prefix}.{child_name}" if prefix else child_name
            new = decide(name, child)
            if new is None:
                visit(child, name)
            elif new is not child:
                plan.slots.append((module, child_name, new))

    new_root = decide("", root)
    if new_root is None:
        visit(root, "")
    elif new_root is not root:
        plan.new_root = new_root
    return plan
