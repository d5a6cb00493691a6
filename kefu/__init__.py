"""kefu: an open-source customer-service platform on Kafka. This package is the `kefu`
command and its operator tools (the embedded stack, `kefu up`, the benchmark, the mail sink,
the AsyncAPI generator); the services are `kefu.services`, their shared kit `kefu.shared`."""

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)
