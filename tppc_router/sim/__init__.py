"""A fake third-party Codex provider on loopback, with fault injection.

``ProviderSimulator`` serves ``/v1/responses``, ``/v1/chat/completions`` and
``/v1/models`` over real HTTP; ``Fault`` names what it does wrong (``status:503``,
``reset``, ``stall:3``, ``flap,down=30`` ...). See :mod:`tppc_router.sim.faults`.
"""

from tppc_router.sim.faults import Fault, FaultKind
from tppc_router.sim.server import ProviderSimulator
from tppc_router.sim.state import RecordedRequest

__all__ = ["Fault", "FaultKind", "ProviderSimulator", "RecordedRequest"]
