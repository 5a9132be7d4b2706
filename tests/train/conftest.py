import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def distill_main():
    """hub_scripts/distill.py's main(), imported in-process (the script is not a package)."""
    spec = importlib.util.spec_from_file_location("distill_script", ROOT / "hub_scripts" / "distill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def main(argv):
        # accelerate's state is a per-process singleton; a real run owns its process, so each in-process
        # run here starts from a clean one (else the first run's mixed_precision would bind all later runs).
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(True)
        return module.main(argv)

    return main
