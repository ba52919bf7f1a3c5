"""Total cost of ownership: dollars per device-hour, per token, per request and per year (docs/energy_tco.md 2).

Contract
--------
Two modes give one figure, the all-in cost of a device for one hour of wall-clock time:

* **owned**: capex per device (the device's purchase price x (1 + ``system_overhead_fraction``) for servers,
  network and facility build-out; or, on a platform with a system price, that price / devices x
  (1 + ``facility_fraction``)) amortized over ``amortization_years``; other opex (maintenance, staff, space)
  as ``other_opex_fraction_per_year`` of capex; electricity: (busy power x utilization + idle power x
  (1 - utilization)) x PUE x $/kWh.
* **rented**: the hourly price per device (the entry's ``cost.rental_usd_per_hour`` or an override), which
  includes power and facility.

A device serves requests only ``utilization`` of the hours it is paid for, so a busy device-hour costs
usd_per_device_hour / utilization. Per-token costs split the busy time of a static batch: prefill time is
charged to input tokens, decode time to the output tokens after the first; a request pays its whole e2e time.
Every assumption is a named field of ``CostAssumptions`` with its default's source below. Missing prices give
NaN (JSON null), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from genmodel.specs.checks import at_least, choice, positive, scalar
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.platform import PlatformSpec

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class CostAssumptions:
    """Named TCO assumptions (defaults with their sources in docs/energy_tco.md)."""

    mode: Literal["owned", "rented"] = "owned"
    amortization_years: float = 4.0  # common GPU depreciation horizon (4-6 years in cloud filings)
    utilization: float = 0.7  # share of paid hours spent serving; a well-run inference fleet
    electricity_usd_per_kwh: float = 0.08  # US industrial average 2024 (EIA Electric Power Monthly: ~8 cents)
    pue: float = 1.3  # modern AI data halls 1.1-1.3; Uptime Institute 2024 fleet average 1.56
    system_overhead_fraction: float = 0.6  # servers, NICs, switches, racks per $ of accelerators
    facility_fraction: float = 0.25  # network and facility per $ of a complete system (platform price)
    other_opex_fraction_per_year: float = 0.05  # maintenance, staff, space per $ of capex per year
    purchase_usd: float | None = None  # per device, overrides the entry
    rental_usd_per_device_hour: float | None = None  # overrides the entry

    def __post_init__(self) -> None:
        choice("cost_mode", self.mode, ("owned", "rented"))
        # every assumption is one number within a range wide enough for any fleet and narrow enough that no cost
        # figure overflows: see BOUNDS
        for name, (low, high, above_zero) in BOUNDS.items():
            value = getattr(self, name)
            if value is None and name in ("purchase_usd", "rental_usd_per_device_hour"):
                continue
            checked = positive(name, value, high) if above_zero else at_least(name, value, low, high)
            if above_zero and low > 0:
                at_least(name, checked, low)
            scalar(name, checked)


# (lowest, highest, must be above zero) of each assumption: amortization from a month to a century; utilization a
# share of the hours from 1% (a device serving 15 minutes a day); PUE from a perfect facility (1) to 10 (cryogenic
# cooling is the device's own ``cooling_w_per_w``); electricity up to 10 USD/kWh (about 50 times the dearest retail
# tariffs); overhead and opex fractions up to 10 (1,000% of the accelerators' price); a device's price up to 1e9 USD
# and its rental up to 1e6 USD per hour
BOUNDS = {"amortization_years": (1 / 12, 100.0, True), "utilization": (0.01, 1.0, True), "pue": (1.0, 10.0, False),
          "electricity_usd_per_kwh": (0.0, 10.0, False), "system_overhead_fraction": (0.0, 10.0, False),
          "facility_fraction": (0.0, 10.0, False), "other_opex_fraction_per_year": (0.0, 10.0, False),
          "purchase_usd": (0.0, 1e9, False), "rental_usd_per_device_hour": (0.0, 1e6, False)}


def capex_per_device(hw: HardwareSpec, platform: PlatformSpec | None, a: CostAssumptions) -> float:
    """Capital cost of one device with its share of servers, network and facility (NaN if unknown)."""
    if a.purchase_usd is not None:
        return a.purchase_usd * (1 + a.system_overhead_fraction)
    if platform is not None and platform.system_price_usd:
        return platform.system_price_usd / platform.num_devices * (1 + a.facility_fraction)
    price = hw.cost.purchase_usd if hw.cost else None
    return np.nan if price is None else price * (1 + a.system_overhead_fraction)


def usd_per_device_hour(hw: HardwareSpec, platform: PlatformSpec | None, a: CostAssumptions, busy_power_w,
                        idle_power_w) -> dict[str, np.ndarray]:
    """All-in $ per device per wall-clock hour and its split into capex, energy and other opex."""
    if a.mode == "rented":
        price = a.rental_usd_per_device_hour
        if price is None:
            price = hw.cost.rental_usd_per_hour if hw.cost and hw.cost.rental_usd_per_hour else np.nan
        price = np.asarray(price, dtype=float)
        zero = np.zeros_like(price)
        return {"total": price, "capex": zero, "energy": zero, "other": price}
    capex = capex_per_device(hw, platform, a)
    capex_hour = np.asarray(capex / (a.amortization_years * HOURS_PER_YEAR))
    other = np.asarray(capex * a.other_opex_fraction_per_year / HOURS_PER_YEAR)
    mean_w = np.asarray(busy_power_w) * a.utilization + np.asarray(idle_power_w) * (1 - a.utilization)
    energy = mean_w * a.pue / 1000.0 * a.electricity_usd_per_kwh
    return {"total": capex_hour + other + energy, "capex": capex_hour + 0 * energy, "energy": energy,
            "other": other + 0 * energy}
