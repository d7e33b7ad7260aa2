"""The public surface of ``otp`` is small, sorted, complete and exported once."""

from __future__ import annotations

import __future__
import importlib

import pytest

import otp

SUBPACKAGES = ["otp.actor", "otp.supervision", "otp.errors", "otp.specs", "otp.codec", "otp.node", "otp.pool",
               "otp.demo", "otp.demo.agents", "otp.system"]


def test_all_is_sorted_and_has_no_duplicates() -> None:
    """``otp.__all__`` is sorted, as in httpx's export test."""
    assert otp.__all__ == sorted(otp.__all__)
    assert len(set(otp.__all__)) == len(otp.__all__)


def test_every_public_name_of_the_package_is_in_all() -> None:
    """Nothing public in ``vars(otp)`` is left out of ``__all__`` (modules aside)."""
    public = {name for name, value in vars(otp).items()
              if not name.startswith("_") and not isinstance(value, type(otp))
              and not isinstance(value, __future__._Feature)}
    assert public == set(otp.__all__)


def test_the_names_fixed_by_the_design_are_exported() -> None:
    """DESIGN.md fixes AgentActor, Supervisor, ChildSpec and AgentRef."""
    for name in ("AgentActor", "Supervisor", "ChildSpec", "AgentRef"):
        assert name in otp.__all__


@pytest.mark.parametrize("module_name", SUBPACKAGES)
def test_each_subpackage_all_is_sorted_and_resolvable(module_name: str) -> None:
    """Every subpackage's ``__all__`` is sorted and names things that exist."""
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"


def test_each_exported_object_comes_from_exactly_one_subpackage() -> None:
    """Every name in ``otp.__all__`` is re-exported from one subpackage (trio's check)."""
    for name in otp.__all__:
        obj = getattr(otp, name)
        homes = [m for m in SUBPACKAGES + ["otp._log"]
                 if getattr(importlib.import_module(m), name, None) is obj
                 and name in getattr(importlib.import_module(m), "__all__", ())]
        assert len(homes) == 1, f"otp.{name} is exported by {homes}"
