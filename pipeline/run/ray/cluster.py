"""Starting or joining Ray for a run, and sizing work to the cluster.

Three ways a run finds its Ray:

* Ray is already initialised in this process (a notebook, a test session, a global
  stage's caller): use it as is and leave it running.
* An address (``--ray-address auto|HOST:PORT`` or ``run.ray_address``), or the
  ``RAY_ADDRESS`` environment variable that ``ray job submit`` sets for its entrypoint:
  join that cluster. ``auto`` means ``RAY_ADDRESS`` if set, else the cluster started on
  this machine by ``ray start``.
* Neither: start a private local Ray sized to the machine (``address="local"``, so a
  stale record of another cluster on this machine is never joined) without the
  dashboard, and shut it down when the run ends.

Code shipping: under ``ray job submit --working-dir .`` the job's runtime environment
carries the code to every node. A driver that joins a cluster directly expects taosha to
be installed on every node (``pip install`` the same checkout or wheel).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


def machine_cpus() -> int:
    """CPUs this process may use (the affinity mask, not the host's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class RayHandle:
    """The Ray a run uses: whether this run started it (and so shuts it down), and its size."""

    started_here: bool
    address: str | None
    cpus: float

    def close(self) -> None:
        if self.started_here:
            import ray

            ray.shutdown()


def resolve_address(address: str | None) -> str | None:
    """The address to join, or None to start a local Ray. ``RAY_ADDRESS`` counts as given."""
    if address and address != "local":
        return address
    if address is None and os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    return None


def connect(address: str | None = None, *, num_cpus: int | None = None) -> RayHandle:
    """Use, join or start Ray (see the module docstring) and return a handle to it."""
    import ray

    if ray.is_initialized():
        return RayHandle(False, None, cluster_cpus())
    target = resolve_address(address)
    if target is not None:
        ray.init(address=target, log_to_driver=True)
        return RayHandle(True, target, cluster_cpus())
    cpus = num_cpus or machine_cpus()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=True)
    return RayHandle(True, None, cluster_cpus())


def cluster_cpus() -> float:
    """CPUs the whole cluster offers (all nodes), as Ray accounts them."""
    import ray

    return float(ray.cluster_resources().get("CPU", 1.0))


def cpu_nodes() -> int:
    """Alive nodes that offer CPUs."""
    import ray

    return max(1, sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0))


def task_reserve(nodes: int, read_cpus: float, write_cpus: float) -> float:
    """CPUs kept free of stage actors: a read and a write task's worth on every node.

    Ray places actors where they fit, so on a cluster of 1-CPU nodes the actors can
    leave every node with a sliver too small for a read task. Keeping ``nodes x (read +
    write)`` free in total guarantees (by pigeonhole) one node with room for both.
    """
    return nodes * (read_cpus + write_cpus)


def stage_cpus(cluster: float, stages: int, reserve: float) -> float:
    """Default CPUs per stage actor: leave ``reserve`` for read/write tasks and let every
    stage's first actor start at once.

    An actor pool that claims every CPU starves the read tasks and Ray Data stalls
    silently; so actors get a fraction just under one CPU (two 0.825-CPU actors on a
    2-CPU machine leave 0.35 for reading and writing), and less when there are more
    stages than CPUs.
    """
    budget = max(cluster - reserve, 0.1)
    per_core = budget / max(1, math.ceil(budget))
    return max(0.05, math.floor(min(per_core, budget / max(1, stages)) * 1000) / 1000)  # floor: never over


def max_actors(cluster: float, reserve: float, cpus_per_actor: float, stages: int) -> int:
    """The most actors one stage's pool may grow to: the CPU budget split evenly over the
    stages, so all pools at full size still leave the reserve free (no silent stall)."""
    budget = max(cluster - reserve, cpus_per_actor)
    return max(1, int((budget / max(1, stages) + 1e-9) // cpus_per_actor))
