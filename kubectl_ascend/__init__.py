"""kubectl-ascend: node onboarding and MindCluster/MindIE operations for Ascend NPU clusters."""

__version__ = "0.1.0"
