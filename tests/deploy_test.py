#!/usr/bin/env python3
"""Checks deploy/ (docker-compose, Dockerfile, Prometheus, Grafana) without a
Docker engine: what can be checked here is checked against the real binary.

Files: the compose file covers every role once and its health checks, ports
and Prometheus targets agree; the Grafana dashboard only queries metrics the
code registers; the image's runtime packages provide every shared library the
binary links; the settings file and the services' environment pass
`pricecast config check`.

Services: every pricecast service of the compose file runs as a process with
its own command and environment, on librdkafka's mock cluster instead of the
kafka container and a temporary folder instead of the volume: the init
service trains and promotes a champion, the roles start, and predictions come
out of the API while every role answers /health and /metrics.

usage: deploy_test.py PRICECAST_BINARY [unittest args]
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BINARY = ""  # set from argv
ROLES = {"price", "sentiment", "features", "inference", "monitor", "api"}
CONFIG_IN_CONTAINER = "/etc/pricecast/pricecast.toml"


def compose():
    with open(DEPLOY / "docker-compose.yml") as f:
        return yaml.safe_load(f)


def pricecast_services(doc):
    """The services that run the pricecast image, by name."""
    return {n: s for n, s in doc["services"].items() if str(s.get("image", "")).startswith("pricecast")}


def option(command, name):
    """The value after `name` in a command list, or None."""
    return command[command.index(name) + 1] if name in command else None


def role_of(command):
    return option(command, "--role")


def metrics_port(command):
    """Where a serve command answers /health and /metrics: the api's own port, else --metrics-port."""
    return option(command, "--port") if role_of(command) == "api" else option(command, "--metrics-port")


def registered_metrics():
    """Metric names the code registers: pricecast_* string literals outside comments."""
    names = set()
    for path in (ROOT / "src").rglob("*.[ch]pp"):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("//"):
                continue
            names.update(re.findall(r'"(pricecast_[a-z0-9_]+)"', line))
    return names


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5):
    """(status, body) of GET http://127.0.0.1:port/path; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


class Files(unittest.TestCase):
    def test_every_role_runs_once_with_a_health_check_on_its_metrics_port(self):
        services = pricecast_services(compose())
        serving = {n: s for n, s in services.items() if s.get("command", [None])[0] == "serve"}
        roles = [role_of(s["command"]) for s in serving.values()]
        self.assertEqual(sorted(roles), sorted(ROLES))
        for name, s in serving.items():
            port = metrics_port(s["command"])
            self.assertIsNotNone(port, f"{name}: no port for /health and /metrics")
            self.assertIn(f"http://localhost:{port}/health", " ".join(s["healthcheck"]["test"]), name)
            self.assertEqual(option(s["command"], "--config"), CONFIG_IN_CONTAINER, name)
            self.assertEqual(s["depends_on"]["init"]["condition"], "service_completed_successfully", name)
        api = next(s for s in serving.values() if role_of(s["command"]) == "api")
        self.assertIn(f"8080:{option(api['command'], '--port')}", api["ports"])

    def test_prometheus_scrapes_every_role_where_it_serves_metrics(self):
        doc = compose()
        expected = {f"{n}:{metrics_port(s['command'])}" for n, s in pricecast_services(doc).items()
                    if s.get("command", [None])[0] == "serve"}
        with open(DEPLOY / "prometheus.yml") as f:
            prom = yaml.safe_load(f)
        targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
        self.assertEqual(targets, expected)
        self.assertIn("prometheus", doc["services"])

    def test_grafana_queries_only_metrics_the_code_registers(self):
        dashboard = json.loads((DEPLOY / "grafana/dashboards/pricecast.json").read_text())
        known = registered_metrics()
        self.assertIn("pricecast_messages_consumed_total", known)
        self.assertNotIn("pricecast_bars_total", known)  # only in a comment's example
        used = set()
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                used.update(re.findall(r"pricecast_[a-z0-9_]+", target["expr"]))
        self.assertTrue(used)
        for name in used:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertIn(base, known, f"the dashboard queries {name}, which nothing registers")
        provisioned = (DEPLOY / "grafana/provisioning/dashboards/pricecast.yml").read_text()
        self.assertIn("/var/lib/grafana/dashboards", provisioned)

    def test_the_image_installs_every_library_the_binary_links(self):
        if not shutil.which("dpkg") or not shutil.which("readelf"):
            self.skipTest("needs dpkg and readelf")
        if "libasan" in subprocess.run(["readelf", "-d", BINARY], capture_output=True, text=True).stdout:
            # Its libraries differ from the image's build (./run build): -O1 leaves calls
            # into shared libraries that the release build inlines, and the sanitizer runtimes.
            self.skipTest("a sanitizer build (./run test --asan); the image is built without sanitizers")
        runtime = DEPLOY.joinpath("Dockerfile").read_text().split("FROM debian:12-slim", 1)[1]
        # The LSTM module (libtorch) is loaded from beside the binary.
        module = os.path.join(os.path.dirname(BINARY), "libpricecast_lstm.so")
        self.assertTrue(os.path.exists(module), module)
        target = re.search(r"COPY --from=build \S+/pricecast (\S+)/pricecast\n", runtime)
        self.assertTrue(target, "the image copies the binary")
        self.assertRegex(runtime, rf"COPY --from=build \S+/libpricecast_lstm\.so {re.escape(target.group(1))}/",
                         "the image copies the LSTM module beside the binary")
        base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}  # in debian:12-slim already
        for elf in (BINARY, module):
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]",
                                subprocess.run(["readelf", "-d", elf], capture_output=True, text=True).stdout)
            resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(
                ["ldd", elf], capture_output=True, text=True).stdout, re.M))
            self.assertTrue(needed)
            for lib in needed:
                if lib.startswith("ld-linux"):  # the dynamic loader, libc6's
                    continue
                path = os.path.realpath(resolved[lib])
                owners = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
                if owners.returncode != 0 and path.startswith("/usr/"):  # merged /usr: dpkg knows /lib/...
                    owners = subprocess.run(["dpkg", "-S", path[4:]], capture_output=True, text=True)
                package = owners.stdout.split(":")[0]
                self.assertTrue(package, f"no package owns {path}")
                if package not in base:
                    self.assertRegex(runtime, rf"\b{re.escape(package)}\b", f"{lib} of {elf} comes from {package}")

    def test_settings_and_environment_pass_config_check(self):
        env = dict(os.environ)
        for s in pricecast_services(compose()).values():
            env.update({k: str(v) for k, v in s["environment"].items()})
        env["PRICECAST_DATA_DIR"] = tempfile.gettempdir()
        r = subprocess.run([BINARY, "config", "check", str(DEPLOY / "pricecast.toml")], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("warning", (r.stdout + r.stderr).lower())


class Services(unittest.TestCase):
    """The compose file's pricecast services as processes on the mock cluster."""

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="pricecast-deploy-"))
        self.procs = []
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        (bin_dir / "pricecast").symlink_to(BINARY)
        self.path = f"{bin_dir}:{os.environ['PATH']}"

    def tearDown(self):
        for name, p, log in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for name, p, log in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def localize(self, text):
        """A container path or address as it is in this test."""
        return (text.replace(CONFIG_IN_CONTAINER, str(DEPLOY / "pricecast.toml"))
                .replace("/data", str(self.dir / "data")))

    def env_of(self, service, bootstrap):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRICECAST_")}
        env.update({k: self.localize(str(v)) for k, v in service["environment"].items()})
        env["PRICECAST_SERVE_KAFKA"] = bootstrap
        # 10x the compose speed: the features warm up in seconds, not minutes.
        env["PRICECAST_SERVE_SPEED"] = "6000x"
        env["PATH"] = self.path
        return env

    def start(self, name, command, env):
        log = open(self.dir / f"{name}.log", "w+")
        self.procs.append((name, subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        return self.procs[-1][1]

    def log_of(self, name):
        return (self.dir / f"{name}.log").read_text()[-3000:]

    def test_the_services_turn_prices_into_predictions(self):
        services = pricecast_services(compose())
        self.start("kafka-mock", [BINARY, "kafka-mock", "--brokers", "1"], {"PATH": self.path})
        bootstrap = None
        for _ in range(300):
            found = re.search(r"bootstrap: (\S+)", (self.dir / "kafka-mock.log").read_text())
            if found:
                bootstrap = found.group(1)
                break
            time.sleep(0.1)
        self.assertIsNotNone(bootstrap, self.log_of("kafka-mock"))

        init = services["init"]
        script = self.localize(init["command"][0])
        r = subprocess.run(init["entrypoint"] + [script], env=self.env_of(init, bootstrap), cwd=self.dir,
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("trend version 1 is now champion", r.stdout + r.stderr)
        again = subprocess.run(init["entrypoint"] + [script], env=self.env_of(init, bootstrap), cwd=self.dir,
                               capture_output=True, text=True, timeout=60)
        self.assertIn("nothing to do", again.stdout)

        ports = {}
        for name, s in services.items():
            command = s.get("command", [])
            if not command or command[0] != "serve":
                continue
            command = [self.localize(c) for c in command]
            port = free_port()
            flag = "--port" if role_of(command) == "api" else "--metrics-port"
            command[command.index(flag) + 1] = str(port)
            if "--ws-port" in command:
                command[command.index("--ws-port") + 1] = "-1"
            ports[name] = port
            self.start(name, [BINARY] + command[0:], self.env_of(s, bootstrap))

        api = ports["api"]
        deadline = time.time() + 300
        status = 0
        while time.time() < deadline:
            status, body = http_get(api, "/v1/predictions/latest?symbol=ACME")
            if status == 200:
                break
            for name, p, _ in self.procs:
                self.assertIsNone(p.poll(), f"{name} exited:\n{self.log_of(name)}")
            time.sleep(1)
        self.assertEqual(status, 200, "no prediction for ACME; the api's log:\n" + self.log_of("api"))
        prediction = json.loads(body)
        self.assertIn(prediction["class"], ["DOWN", "STABLE", "UP"])
        self.assertEqual(http_get(api, "/ready")[0], 200)

        for name, port in ports.items():
            self.assertEqual(http_get(port, "/health")[0], 200, name)
            status, text = http_get(port, "/metrics")
            self.assertEqual(status, 200, name)
            role = role_of(services[name]["command"])
            if role in ("features", "inference"):
                self.assertIn(f'pricecast_messages_consumed_total{{role="{role}"}}', text, name)


if __name__ == "__main__":
    BINARY = os.path.realpath(sys.argv.pop(1))
    unittest.main()
