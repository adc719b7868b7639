"""One module per control. Each exposes `check(inputs) -> CheckResult`; `ALL` runs in order."""

from __future__ import annotations

from jackstop.posture.checks import (
    caps,
    keys_in_code,
    least_privilege,
    monitoring,
    network,
    rate_limits,
    rotation,
    scanning,
    supply_chain,
    training,
)

ALL = (keys_in_code, rotation, caps, least_privilege, monitoring, supply_chain, scanning, network, rate_limits,
       training)
