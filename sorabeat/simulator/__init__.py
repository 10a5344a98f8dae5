"""A Sora API simulator: ``sorabeat simulate`` and the default Sora of the demo and tests.

``SoraSimulator`` serves GetStatsReport and GetStatsAllConnections of a simulated node
(profiles 2017, 2018 and current), with fault switches and exact served counts.
"""

from sorabeat.simulator.faults import FAULTS, METRICSETS
from sorabeat.simulator.profiles import PROFILES
from sorabeat.simulator.server import GET_SERVED, SET_CONNECTIONS, SET_FAULT, SoraSimulator

__all__ = [
    "FAULTS",
    "GET_SERVED",
    "METRICSETS",
    "PROFILES",
    "SET_CONNECTIONS",
    "SET_FAULT",
    "SoraSimulator",
]
