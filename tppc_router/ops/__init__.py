"""Operations: logging, Prometheus metrics and active health probes."""
