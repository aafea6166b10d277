"""Public names are declared, sorted and importable."""

from __future__ import annotations

import gambiarra
from gambiarra.domain import protocol


def test_package_all_is_sorted_and_complete() -> None:
    assert gambiarra.__all__ == sorted(gambiarra.__all__)
    for name in gambiarra.__all__:
        assert hasattr(gambiarra, name)


def test_protocol_all_names_exist() -> None:
    assert protocol.__all__ == sorted(protocol.__all__)
    for name in protocol.__all__:
        assert hasattr(protocol, name)
