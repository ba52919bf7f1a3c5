"""Alpha-beta cost of collectives on a two-tier network (docs/parallelism.md section 2).

Contract
--------
``Network`` holds, per device, the scale-up tier (per-direction bandwidth beta_up in B/s, latency
alpha_up in s, domain size D) and the scale-out tier (beta_out, alpha_out). Functions take the message size
M in bytes (the data one device contributes: its full buffer for all-reduce, its whole send buffer for
all-to-all) and the group size n (arrays broadcast), and return seconds:

* ``all_reduce``: within one domain, the cheaper of ring, 2(n-1) alpha + 2 (n-1)/n M/beta (bandwidth-optimal,
  large messages), and recursive doubling, ceil(log2 n) (alpha + M/beta) (latency-optimal, small messages),
  as NCCL switches between ring and tree; a group spanning domains uses the hierarchical algorithm:
  reduce-scatter inside each domain, all-reduce of M/n_in across the n_out domains over scale-out (each
  device on its own NIC), all-gather inside the domain.
* ``reduce_scatter`` / ``all_gather``: ring, (n-1) alpha + (n-1)/n M/beta (hierarchical across domains).
* ``all_to_all``: direct (pairwise) exchange: (n-1) alpha + the larger of the intra-domain share
  (n_in-1)/n M / beta_up and the inter-domain share (n-n_in)/n M / beta_out, which use different links.
* ``point_to_point``: alpha + M/beta of the tier the two devices share.

A group of n devices is laid out on consecutive devices: n_in = min(n, D) share a domain and
n_out = ceil(n / D) domains take part. Link efficiency (achievable fraction of link bandwidth) multiplies
beta. On a switchless full mesh a group of n_in devices can use only n_in - 1 of the domain - 1 direct
links (``Network.up``). Not modeled: congestion from other groups, in-network reduction (NVLS/SHARP),
torus dimension ordering (a torus is treated as its per-chip injection bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genmodel.engine.operators import broadcast_shape
from genmodel.engine.scalars import any_true, shape_of
from genmodel.errors import ConfigurationError
from genmodel.specs.hardware import HardwareSpec

# Achievable fraction of link bandwidth in collectives: NCCL all-reduce bus bandwidth on H100 NVLink reaches
# about 360-370 of 450 GB/s per direction (JAX scaling book, "How to Scale Your Model", GPU chapter).
DEFAULT_LINK_EFFICIENCY = 0.8


@dataclass(frozen=True)
class Network:
    """Per-device view of a two-tier network, in SI units."""

    up_bw: float
    up_latency: float
    domain: int  # devices per scale-up domain (may be an array: a group's domain share per configuration)
    out_bw: float
    out_latency: float
    efficiency: float = DEFAULT_LINK_EFFICIENCY
    full_mesh: bool = False

    def up(self, n_in):
        """Usable per-direction scale-up bandwidth of a device in a group of n_in devices of one domain.

        On a switch, torus or ring the device's whole injection bandwidth serves any group. On a switchless
        full mesh (MI300X, Gaudi 3 boxes) the bandwidth is spread over direct links to the domain-1 peers,
        so a group of n_in devices uses only n_in - 1 of them.
        """
        bw = self.up_bw * self.efficiency
        if self.full_mesh:
            links = np.maximum(np.asarray(self.domain, dtype=float) - 1, 1)
            return bw * np.minimum(np.maximum(np.asarray(n_in, dtype=float) - 1, 1), links) / links
        return bw

    @property
    def out(self) -> float:
        return self.out_bw * self.efficiency

    @classmethod
    def of(cls, hw: HardwareSpec, domain_size: int | None = None,
           efficiency: float = DEFAULT_LINK_EFFICIENCY) -> Network:
        """The network of ``hw`` (its scale-up and scale-out blocks); a missing tier falls back to the other."""
        up, out = hw.scale_up, hw.scale_out
        if up is None and out is None:
            raise ConfigurationError(f"{hw.name} has no interconnect in its entry, so it cannot be used with "
                                     "more than one device; choose a device with scale_up or scale_out")
        up = up or out
        out = out or up
        domain = domain_size if domain_size is not None else up.domain_size
        return cls(up.bandwidth_per_direction_bytes_per_s, up.latency_s, max(int(domain), 1),
                   out.bandwidth_per_direction_bytes_per_s, out.latency_s, efficiency, up.topology == "full_mesh")

    def scaled(self, bandwidth_scale: float = 1.0, efficiency: float | None = None,
               domain=None) -> Network:
        """A copy with both tiers' bandwidth multiplied, and/or another link efficiency or domain size."""
        return Network(self.up_bw * bandwidth_scale, self.up_latency, self.domain if domain is None else domain,
                       self.out_bw * bandwidth_scale, self.out_latency,
                       self.efficiency if efficiency is None else efficiency, self.full_mesh)

    def split(self, n):
        """(devices per domain n_in, domains n_out) for a group of n consecutive devices."""
        n = np.asarray(n, dtype=float)
        n_in = np.minimum(n, self.domain)
        return n_in, np.ceil(n / n_in)


def _ring(n, m, alpha, beta, passes):
    """``passes`` ring passes (1: reduce-scatter or all-gather, 2: all-reduce) over n devices."""
    return passes * ((n - 1) * alpha + (n - 1) / n * m / beta)


def _tree(n, m, alpha, beta):
    """Recursive-doubling all-reduce: log2(n) rounds, each exchanging the whole buffer."""
    rounds = np.ceil(np.log2(np.maximum(n, 1)))
    return rounds * (alpha + m / beta)


def _flat_all_reduce(n, m, alpha, beta):
    n = np.asarray(n, dtype=float)
    cost = np.minimum(_ring(n, m, alpha, beta, 2), _tree(n, m, alpha, beta))
    return np.where(n > 1, cost, 0.0)


def all_reduce(net: Network, m, n):
    """Seconds to all-reduce an M-byte buffer over n devices (hierarchical when it spans domains)."""
    n_in, n_out = net.split(n)
    up, out = net.up(n_in), net.out
    inside = _flat_all_reduce(n_in, m, net.up_latency, up)
    if _inside_only(n_out, inside, m):  # every group in one domain: the selection below gives ``inside``
        return inside
    # hierarchical: reduce-scatter + all-gather inside (= a ring all-reduce's cost), all-reduce of M/n_in across
    spanning = (np.where(n_in > 1, _ring(n_in, m, net.up_latency, up, 2), 0.0)
                + _flat_all_reduce(n_out, np.asarray(m) / n_in, net.out_latency, out))
    return np.where(n_out > 1, spanning, inside)


def _gather_like(net: Network, m, n):
    n_in, n_out = net.split(n)
    up, out = net.up(n_in), net.out
    inside = np.where(n_in > 1, _ring(n_in, m, net.up_latency, up, 1), 0.0)
    if _inside_only(n_out, inside, m):  # no group spans domains: + 0.0 leaves every value (ring times are >= +0)
        return inside if inside.ndim else inside + 0.0  # (0-d + 0.0: a NumPy scalar, as the sum below gives)
    across = np.where(n_out > 1, _ring(n_out, np.asarray(m) / n_in, net.out_latency, out, 1), 0.0)
    return inside + across


def _inside_only(n_out, inside: np.ndarray, m) -> bool:
    """True when the hierarchical part of a collective adds nothing, so that ``inside`` is the result: for a single
    value (a 0-d ``inside``, so ``n_out`` and ``m`` are single values too), when its one group does not span domains;
    for arrays, when no group does (every ``n_out`` is 1) and ``inside`` already has the shape the hierarchical
    combination would broadcast to (so returning it gives the same array)."""
    if not inside.ndim:
        return not n_out > 1
    # (any_true, shape_of: np.any's and np.shape's answers without their dispatch; n_out is often a 0-d array here,
    # inside having the [real, ideal] axis of ``genmodel.engine.step``'s one-pass collectives)
    return not any_true(n_out > 1) and inside.shape == broadcast_shape(inside.shape, shape_of(n_out), shape_of(m))


def reduce_scatter(net: Network, m, n):
    """Seconds to reduce-scatter an M-byte buffer over n devices (ring; hierarchical across domains)."""
    return _gather_like(net, m, n)


def all_gather(net: Network, m, n):
    """Seconds to all-gather into an M-byte buffer over n devices (ring; hierarchical across domains)."""
    return _gather_like(net, m, n)


def all_to_all(net: Network, m, n):
    """Seconds for an all-to-all where each device sends M bytes spread evenly over the n devices."""
    n = np.asarray(n, dtype=float)
    n_in, n_out = net.split(n)
    up, out = net.up(n_in), net.out
    intra = (n_in - 1) / n * m / up
    inter = (n - n_in) / n * m / out
    alpha = (n_in - 1) * net.up_latency + np.where(n_out > 1, (n - n_in) * net.out_latency, 0.0)
    return np.where(n > 1, alpha + np.maximum(intra, inter), 0.0)


def point_to_point(net: Network, m, crosses_domain):
    """Seconds to send M bytes to one peer, over scale-out when ``crosses_domain`` else scale-up."""
    up = net.up_latency + np.asarray(m) / net.up(2)
    out = net.out_latency + np.asarray(m) / net.out
    return np.where(crosses_domain, out, up)
