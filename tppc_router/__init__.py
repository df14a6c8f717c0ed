"""tppc-router."""
