"""The ``tppc-router`` command line: a click group (``main``) with one subcommand per job.

``main`` holds the group and the commands that never import litellm (``validate``,
``models``, ``export``, ``migrate``); ``serve``, ``status`` and ``demo`` are imported only
when they run.
"""

from tppc_router.cli.main import LAZY_COMMANDS, LAZY_HELP, TppcGroup, config_option, main, resolve_config

__all__ = ["LAZY_COMMANDS", "LAZY_HELP", "TppcGroup", "config_option", "main", "resolve_config"]
