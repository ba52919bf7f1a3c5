"""``PlatformSpec``: a multi-device system (DGX node, NVL72 rack, TPU slice, CloudMatrix384) as data.

Contract
--------
A platform names one device from ``hardware_db/`` and how many of them the system has, and may override
the device's interconnects for this system (e.g. a TPU slice's ICI domain, an NVL72 rack's 72-GPU NVLink
domain). Devices are grouped into scale-up domains of ``scale_up.domain_size`` devices (NVLink/NVSwitch,
ICI, Infinity Fabric, UB); domains talk over the scale-out network (one NIC per device unless stated).
``genmodel.data.registry.platform_device`` returns the device with the platform's interconnects applied. A
split needing more devices than one system has runs on several systems joined by the scale-out network.
Platforms live in ``hardware_db/platforms/*.yaml`` and carry a ``source``.
"""

from __future__ import annotations

from pydantic import Field

from genmodel.specs.hardware import HardwareSpec, Interconnect
from genmodel.specs.quantities import USD, DisplayName, EntryName, FrozenSpec


class PlatformSpec(FrozenSpec):
    """A system of identical devices with a two-tier network."""

    name: EntryName = Field(description="Database key, e.g. 'dgx-h100'.")
    display_name: DisplayName = Field(description="Human-readable name, e.g. 'NVIDIA DGX H100 (8x H100 SXM)'.")
    device: str = Field(description="Name of the device in hardware_db/.")
    num_devices: int = Field(ge=1, le=2**20, description="Devices in the system (at most 2**20, as a layout's).")
    scale_up: Interconnect | None = Field(
        None, description="Scale-up fabric of this system; default: the device's own scale_up.")
    scale_out: Interconnect | None = Field(
        None, description="Scale-out network of this system; default: the device's own scale_out.")
    system_price_usd: USD | None = Field(None, description="Approximate price of the whole system in USD.")
    source: str = Field(min_length=1, description="Datasheet or paper describing the system.")
    notes: str | None = Field(None, description="Topology details and caveats.")

    def domain_size_with(self, device: HardwareSpec) -> int:
        """Devices per scale-up domain in this system of ``device`` (1 when there is no scale-up fabric)."""
        up = self.scale_up or device.scale_up
        return min(up.domain_size, self.num_devices) if up else 1
