"""Tools around the platform, not needed by a running service: the `kefu` command, the
embedded stack, `kefu up`, the benchmark, the mail sink and the AsyncAPI generator."""
