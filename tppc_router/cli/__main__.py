"""``python -m tppc_router.cli``: the same as ``tppc-router``."""

from tppc_router.cli.main import main

main()
