# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PKCS#11 implementations the tests run against, each started with tokens of its own; no mock.

- ``softhsm2``: SoftHSM2 with a softhsm2.conf and token directory of its own (softhsm2-util makes the tokens).
- ``tpm2``: tpm2-pkcs11 on a software TPM: swtpm, a D-Bus session bus of its own (dbus-daemon) and the tpm2-abrmd
  resource manager on it, every daemon on 127.0.0.1 and free ports, stopped by its pid; the store made by
  ``tpm2_ptool init``, the tokens by the module's own C_InitToken and C_InitPIN (``tpm2_ptool addtoken`` runs out of
  TPM object slots without the resource manager).
- ``library``: a library, token and PIN the user gives (IZUMA_PKCS11_LIBRARY, IZUMA_PKCS11_TOKEN, IZUMA_PKCS11_PIN;
  optionally IZUMA_PKCS11_OTHER_TOKEN, a second token with the same PIN, and IZUMA_PKCS11_KEY_SPECS, e.g.
  ``RSA-2048,EC-P-256``): nothing is started; the tests generate and destroy key objects labelled ``izuma:...`` in it.

A ``Profile`` holds what is known of an implementation before it starts (the key specs it makes, the algorithms it
signs and what it refuses), so that pytest can parametrise by it; a ``Running`` implementation holds the module path,
the environment the module needs (for this process, which loads it too, and for every subprocess) and the tokens.

Not pytest-specific: benchmarks/pkcs11_cost.py starts implementations through ``start`` too, and so can a person:

    .venv/pkcs11/bin/python tests/pkcs11/implementations.py serve tpm2 build/my-tpm > build/my-tpm.env

keeps a software TPM with its token running (Ctrl-C stops it) and writes the ``export`` lines (the module's own
environment and IZUMA_PKCS11_LIBRARY, _TOKEN, _PIN) that ``. build/my-tpm.env`` then loads into another shell, e.g.
for ``make hsm-demo``. The tests run this file as a script to initialise a token (``init-token``) or list a module's
tokens and mechanisms (``probe``) with ctypes in a process of their own, so that the test process's own
C_Initialize of the module comes later and sees the tokens.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

Spec = t.Tuple[str, t.Optional[int], t.Optional[str]]

USER_PIN = "pkcs11-test-pin"
SO_PIN = "pkcs11-test-so-pin"
TOKEN_LABEL = "izuma-test"
OTHER_TOKEN_LABEL = "izuma-other"
HERE = Path(__file__).resolve().parent
COLLECTION_ROOT = HERE.parents[1]
DEFAULT_IMPLEMENTATIONS = ("softhsm2", "tpm2")
# The variables a user sets to run the suite against a library of their own (the collection's own environment
# fallbacks, plus the test-only ones); conftest reads them once and removes them from the tests' environment.
LIBRARY_VARIABLES = ("IZUMA_PKCS11_LIBRARY", "IZUMA_PKCS11_TOKEN", "IZUMA_PKCS11_PIN", "IZUMA_PKCS11_OTHER_TOKEN",
                     "IZUMA_PKCS11_KEY_SPECS")

RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"P-256": ("ES256",), "P-384": ("ES384",), "P-521": ("ES512",)}

# PKCS#11 mechanism numbers (PKCS#11 2.40 section 2): what a JWT algorithm can be signed with, directly or through the
# collection's fallback (RS* over CKM_RSA_PKCS with a DigestInfo, PS* over CKM_RSA_PKCS_PSS with the hash).
CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS = 0x0, 0x1, 0xD
CKM_SHA_RSA_PKCS = {"256": 0x40, "384": 0x41, "512": 0x42}
CKM_SHA_RSA_PKCS_PSS = {"256": 0x43, "384": 0x44, "512": 0x45}
CKM_EC_KEY_PAIR_GEN, CKM_ECDSA = 0x1040, 0x1041


def spec_id(spec: Spec) -> str:
    """A readable test id for a key spec: RSA-2048, EC-P-256."""
    return "%s-%s" % (spec[0], spec[1] or spec[2])


def parse_spec(text: str) -> Spec:
    """The key spec of an id such as ``RSA-2048`` or ``EC-P-256``."""
    key_type, _sep, rest = text.strip().partition("-")
    if key_type.upper() == "RSA" and rest.isdigit():
        return ("RSA", int(rest), None)
    if key_type.upper() == "EC" and rest.upper() in EC_ALGORITHMS:
        return ("EC", None, rest.upper())
    raise ValueError("key spec %r: write RSA-<bits> or EC-P-256, EC-P-384, EC-P-521" % text)


def algorithms_for(spec: Spec) -> t.Tuple[str, ...]:
    """Every JWT algorithm a key of ``spec`` could sign: the RS and PS algorithms for RSA, its ES algorithm for EC."""
    return RSA_ALGORITHMS if spec[0] == "RSA" else EC_ALGORITHMS[t.cast(str, spec[2])]


def signs_with(mechanisms: t.Iterable[int], algorithm: str) -> bool:
    """Whether a token listing ``mechanisms`` can sign ``algorithm``, directly or through the collection's fallback."""
    listed = set(mechanisms)
    bits = algorithm[2:]
    if algorithm.startswith("RS"):
        return CKM_SHA_RSA_PKCS[bits] in listed or CKM_RSA_PKCS in listed
    if algorithm.startswith("PS"):
        return CKM_SHA_RSA_PKCS_PSS[bits] in listed or CKM_RSA_PKCS_PSS in listed
    return CKM_ECDSA in listed


@dataclass(frozen=True)
class Profile:
    """What the tests expect of an implementation, known before it starts."""

    name: str
    key_specs: t.Tuple[Spec, ...]
    # Key specs the collection must refuse on this implementation, and why (a test asks for each and expects a clear
    # refusal with nothing left in the token).
    refused_specs: t.Tuple[t.Tuple[Spec, str], ...] = ()
    pss: bool = True  # whether the token signs RSASSA-PSS (PS256/384/512)
    # Whether its mechanism list says so: tpm2-pkcs11 lists no PSS mechanism, yet signs with CKM_SHA*_RSA_PKCS_PSS
    # (the collection tries the mechanisms a token does not list after those it lists).
    pss_listed: bool = True
    # Whether the token makes the private key sign-only as the collection asks (CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE
    # false); tpm2-pkcs11 makes every key sign and decrypt whatever is asked. None: not known (the user's library).
    sign_only: t.Optional[bool] = True
    second_token: bool = True  # whether a second initialised token is there (token selection tests)
    # Whether a child forked after the module was loaded can initialise it again and use it. tpm2-pkcs11 reaches
    # tpm2-abrmd through GLib's D-Bus, which does not survive fork: the child waits 25 s for a D-Bus timeout, then
    # cannot list its tokens. (Ansible's workers are forked before any module is loaded, so they are not affected.)
    fork_safe: bool = True

    @property
    def template(self) -> t.Optional[str]:
        """The key template the collection's generation ends up with (key_pairs.describe()'s ``template``)."""
        return None if self.sign_only is None else "sign-only" if self.sign_only else "token-default"

    @property
    def capabilities(self) -> t.Optional[t.List[str]]:
        """What a generated pair may do, as describe() reports it: tpm2-pkcs11 adds decrypt and encrypt."""
        return None if self.sign_only is None else ["sign", "verify"] if self.sign_only else ["decrypt", "encrypt", "sign", "verify"]

    def signs(self, algorithm: str) -> bool:
        """Whether the token is expected to sign JWTs with ``algorithm``."""
        return self.pss or not algorithm.startswith("PS")

    def algorithms(self, spec: Spec) -> t.Tuple[str, ...]:
        """The JWT algorithms a key of ``spec`` signs on this implementation."""
        return tuple(algorithm for algorithm in algorithms_for(spec) if self.signs(algorithm))

    def refused_algorithms(self, spec: Spec) -> t.Tuple[str, ...]:
        """The JWT algorithms a key of ``spec`` could sign but this implementation's token cannot (no mechanism)."""
        return tuple(algorithm for algorithm in algorithms_for(spec) if not self.signs(algorithm))

    def spec(self, *preferred: Spec) -> Spec:
        """The first of ``preferred`` this implementation makes, else RSA 2048 or EC P-256 (of the same key type)."""
        for spec in preferred:
            if spec in self.key_specs:
                return spec
        return RSA_2048 if preferred[0][0] == "RSA" else EC_P256


RSA_2048, RSA_3072, RSA_4096 = ("RSA", 2048, None), ("RSA", 3072, None), ("RSA", 4096, None)
EC_P256, EC_P384, EC_P521 = ("EC", None, "P-256"), ("EC", None, "P-384"), ("EC", None, "P-521")

PROFILES = {
    "softhsm2": Profile("softhsm2", (RSA_2048, RSA_3072, RSA_4096, EC_P256, EC_P384, EC_P521)),
    # swtpm offers RSA 1024 to 3072 (CKM_RSA_PKCS_KEY_PAIR_GEN keySize {1024,3072}); tpm2-pkcs11 lists no PSS
    # mechanism but signs PS256/384/512 (CKM_SHA*_RSA_PKCS_PSS).
    # P-521: tpm2-pkcs11 1.9.0 generates the pair, but its CKA_EC_POINT is not valid DER (a point longer than 127
    # bytes, written with a short-form length) and C_SignInit fails with CKR_HOST_MEMORY: no signature, no public key.
    "tpm2": Profile("tpm2", (RSA_2048, RSA_3072, EC_P256, EC_P384),
                    refused_specs=((RSA_4096, "the TPM makes RSA keys of 1024 to 3072 bits"),
                                   (EC_P521, "tpm2-pkcs11 1.9.0 cannot sign with a P-521 key nor give its public key")),
                    pss_listed=False, sign_only=False, fork_safe=False),
}


def selected(environ: t.Mapping[str, str]) -> t.List[str]:
    """The implementations to test: IZUMA_PKCS11_IMPLEMENTATIONS (comma-separated), else ``library`` when
    IZUMA_PKCS11_LIBRARY is set, else SoftHSM2 and tpm2-pkcs11."""
    names = environ.get("IZUMA_PKCS11_IMPLEMENTATIONS", "").replace(" ", ",")
    chosen = [name for name in names.split(",") if name]
    if not chosen:
        chosen = ["library"] if environ.get("IZUMA_PKCS11_LIBRARY") else list(DEFAULT_IMPLEMENTATIONS)
    unknown = [name for name in chosen if name not in PROFILES and name != "library"]
    if unknown:
        raise ValueError("IZUMA_PKCS11_IMPLEMENTATIONS names %s: choose from softhsm2, tpm2, library" % ", ".join(unknown))
    return chosen


def library_profile(environ: t.Mapping[str, str]) -> Profile:
    """The profile of the user's library: its key specs from IZUMA_PKCS11_KEY_SPECS (RSA 2048 and EC P-256 unless
    given), PSS from the token's mechanism list (the module is loaded in a process of its own to read it)."""
    missing = [name for name in LIBRARY_VARIABLES[:3] if not environ.get(name)]
    if missing:
        raise ValueError("the 'library' implementation needs %s: the PKCS#11 module, a token label the tests may "
                         "generate and destroy keys in, and its user PIN" % ", ".join(missing))
    specs = tuple(parse_spec(text) for text in environ.get("IZUMA_PKCS11_KEY_SPECS", "RSA-2048,EC-P-256").split(",") if text.strip())
    if RSA_2048 not in specs or EC_P256 not in specs:
        raise ValueError("IZUMA_PKCS11_KEY_SPECS must include RSA-2048 and EC-P-256 (the tests of one key use them)")
    probed = probe(environ["IZUMA_PKCS11_LIBRARY"], dict(environ))
    mechanisms = probed["mechanisms"].get(environ["IZUMA_PKCS11_TOKEN"])
    if mechanisms is None:
        raise ValueError("the PKCS#11 module %s has no initialised token labelled %r (it has: %s)"
                         % (environ["IZUMA_PKCS11_LIBRARY"], environ["IZUMA_PKCS11_TOKEN"],
                            ", ".join(sorted(probed["mechanisms"])) or "none"))
    pss = all(signs_with(mechanisms, algorithm) for algorithm in ("PS256", "PS384", "PS512"))
    return Profile("library", specs, pss=pss, pss_listed=pss, sign_only=None, second_token=bool(environ.get("IZUMA_PKCS11_OTHER_TOKEN")))


# ---------------------------------------------------------------------------------------------------------------------
# Running implementations
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class Running:
    """A started implementation: its module, its environment and its tokens."""

    profile: Profile
    module: str
    # What the module needs in the environment of this process and of every subprocess that loads it.
    env: t.Dict[str, str]
    root: t.Optional[Path]  # the files the implementation keeps (scanned for private keys), None for the user's library
    label: str = TOKEN_LABEL
    pin: str = USER_PIN
    other_label: t.Optional[str] = OTHER_TOKEN_LABEL
    serial: str = ""
    other_serial: str = ""
    serials_unique: bool = True  # whether no two initialised tokens of the module share a serial number
    token_labels: t.List[str] = field(default_factory=list)  # the labels of the module's initialised tokens
    processes: t.List["subprocess.Popen[bytes]"] = field(default_factory=list)
    cleanup: t.List[Path] = field(default_factory=list)
    saved_environ: t.Dict[str, t.Optional[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The implementation's name: softhsm2, tpm2 or library."""
        return self.profile.name

    def subprocess_env(self, **extra: str) -> t.Dict[str, str]:
        """The environment for a subprocess that loads the module: this process's, the module's, ``extra``."""
        return dict(os.environ, **self.env, **extra)

    def holds_data(self) -> bool:
        """Whether the implementation's token files are where the tests expect them (so a scan of ``root`` means something)."""
        if self.root is None:
            return True
        if self.name == "softhsm2":
            return any((self.root / "tokens").iterdir())
        return (self.root / "store" / "tpm2_pkcs11.sqlite3").is_file()

    def export(self) -> None:
        """Put the module's environment into this process's (the module reads it in C_Initialize), keeping the old values."""
        for name, value in self.env.items():
            self.saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def stop(self) -> None:
        """Stop every daemon this implementation started, by its pid (the last started first); restore the environment."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.processes.clear()
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)
        for name, value in self.saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.saved_environ.clear()


def start(name: str, root: t.Optional[Path], environ: t.Optional[t.Mapping[str, str]] = None) -> Running:
    """Start implementation ``name`` with its files under ``root`` (an empty or missing directory; unused for
    ``library``), export its environment to this process, and return it with its tokens initialised."""
    environ = os.environ if environ is None else environ
    if name == "library":
        running = _library(environ)
    else:
        assert root is not None
        root.mkdir(parents=True, exist_ok=True)
        running = _softhsm2(root) if name == "softhsm2" else _tpm2(root)
    try:
        tokens = probe(running.module, running.subprocess_env())["tokens"]
        by_label = {token["label"]: token for token in tokens}
        running.serial = by_label[running.label]["serial"]
        if running.other_label is not None:
            running.other_serial = by_label[running.other_label]["serial"]
        serials = [token["serial"] for token in tokens]
        running.token_labels = [token["label"] for token in tokens]
        running.serials_unique = len(set(serials)) == len(serials)
        running.export()
    except BaseException:
        running.stop()
        raise
    return running


def _library(environ: t.Mapping[str, str]) -> Running:
    return Running(library_profile(environ), environ["IZUMA_PKCS11_LIBRARY"], {}, None, label=environ["IZUMA_PKCS11_TOKEN"],
                   pin=environ["IZUMA_PKCS11_PIN"], other_label=environ.get("IZUMA_PKCS11_OTHER_TOKEN") or None)


def install(script: str) -> str:
    """The module's path, from the project's install script (which installs the packages where they are missing)."""
    result = subprocess.run([str(COLLECTION_ROOT / "hack" / script)], check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def _softhsm2(root: Path, mechanisms: t.Optional[str] = None, labels: t.Sequence[str] = (TOKEN_LABEL, OTHER_TOKEN_LABEL),
              module: t.Optional[str] = None) -> Running:
    tokens, conf = root / "tokens", root / "softhsm2.conf"
    tokens.mkdir(exist_ok=True)
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n%s"
                    % (tokens, "slots.mechanisms = %s\n" % mechanisms if mechanisms else ""), encoding="utf-8")
    running = Running(PROFILES["softhsm2"], module or install("install-softhsm.sh"), {"SOFTHSM2_CONF": str(conf)}, root,
                      label=labels[0], other_label=labels[1] if len(labels) > 1 else None)
    for label in labels:
        # softhsm2-util is SoftHSM2's own tool; the module's C_InitToken would do as well.
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN],
                       check=True, capture_output=True, env=running.subprocess_env())
    return running


def restricted_softhsm2(root: Path, module: str, mechanisms: str, label: str) -> Running:
    """A SoftHSM2 of its own whose one token offers only ``mechanisms`` (softhsm2.conf's ``slots.mechanisms``, a
    comma-separated allow-list of CKM_ names), for processes of their own: its environment is not exported to this
    process, whose SoftHSM2 (read once per process) keeps its configuration."""
    root.mkdir(parents=True, exist_ok=True)
    running = _softhsm2(root, mechanisms, (label,), module)
    running.serial = probe(running.module, running.subprocess_env())["tokens"][0]["serial"]
    return running


def free_port_pair() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, and the port after it too (the swtpm TCTI reaches the
    control channel at the server's port + 1)."""
    for _attempt in range(50):
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port < 65535:
                second.bind(("127.0.0.1", port + 1))
                return port
        except OSError:
            continue
        finally:
            first.close()
            second.close()
    raise RuntimeError("no two consecutive free TCP ports on 127.0.0.1 for swtpm")


def wait_until(ready: t.Callable[[], bool], what: str, processes: t.Sequence["subprocess.Popen[bytes]"], log: Path,
               timeout: float = 30.0) -> None:
    """Poll ``ready`` until it holds; fail, naming ``what`` and showing its log, when a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not ready():
        exited = [process for process in processes if process.poll() is not None]
        if exited or time.monotonic() > deadline:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            reason = "exited with status %s" % exited[0].returncode if exited else "was not ready after %d s" % timeout
            raise RuntimeError("%s %s; its output:\n%s" % (what, reason, text[-4000:]))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _connects(family: int, address: t.Any) -> bool:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(1)
        sock.connect(address)
        return True
    except OSError:
        return False
    finally:
        sock.close()


DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""
TABRMD_NAME = "com.intel.tss2.Tabrmd"


def _tpm2(root: Path) -> Running:
    module = install("install-tpm2.sh")
    state, store = root / "state", root / "store"
    state.mkdir(exist_ok=True)
    store.mkdir(exist_ok=True)
    # A unix socket path must fit in 108 bytes: a deep checkout gets its bus socket in a short temporary directory.
    bus_dir = root if len(str(root / "bus")) < 100 else Path(tempfile.mkdtemp(prefix="izuma-bus-", dir="/tmp"))
    bus = bus_dir / "bus"
    env = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=%s" % bus, "TPM2_PKCS11_TCTI": "tabrmd:bus_type=session",
           "TPM2TOOLS_TCTI": "tabrmd:bus_type=session", "TPM2_PKCS11_STORE": str(store), "TSS2_LOG": "all+NONE"}
    running = Running(PROFILES["tpm2"], module, env, root, cleanup=[bus_dir] if bus_dir != root else [])
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"  # tpm2-abrmd is in /usr/sbin
    try:
        server = _start_swtpm(running, state)
        (root / "dbus.conf").write_text(DBUS_CONFIG % bus, encoding="utf-8")
        log = root / "dbus-daemon.log"
        _spawn(running, ["dbus-daemon", "--config-file=%s" % (root / "dbus.conf"), "--nofork", "--nopidfile"], log)
        wait_until(lambda: _connects(socket.AF_UNIX, str(bus)), "dbus-daemon", running.processes, log)
        log = root / "tpm2-abrmd.log"
        _spawn(running, ["tpm2-abrmd", "--session", "--allow-root", "--flush-all", "--tcti=swtpm:host=127.0.0.1,port=%d" % server],
               log, env=running.subprocess_env(PATH=path))
        has_owner = ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                     "org.freedesktop.DBus.NameHasOwner", "string:" + TABRMD_NAME]
        wait_until(lambda: "boolean true" in subprocess.run(has_owner, capture_output=True, text=True, check=False,
                                                            env=running.subprocess_env()).stdout,
                   "tpm2-abrmd", running.processes, log)
        # A wrong PIN is an authorization failure of the TPM, and swtpm locks its keys for 1000 s after 3 of them (its
        # dictionary-attack protection): the tests that give a wrong PIN on purpose would lock the token for the rest of
        # the run. A recovery time of 0 turns the protection off in this TPM (a real TPM keeps its owner's settings).
        subprocess.run(["tpm2_dictionarylockout", "--setup-parameters", "--max-tries=32", "--recovery-time=0",
                        "--lockout-recovery-time=0"], check=True, capture_output=True, env=running.subprocess_env())
        subprocess.run(["tpm2_ptool", "init", "--path", str(store)], check=True, capture_output=True, env=running.subprocess_env())
        for label in (TOKEN_LABEL, OTHER_TOKEN_LABEL):
            init_token(module, label, running.subprocess_env())
    except BaseException:
        running.stop()
        raise
    return running


def _start_swtpm(running: Running, state: Path) -> int:
    """Start swtpm on free ports (again on others if one was taken meanwhile); return its server port (control: + 1)."""
    log = t.cast(Path, running.root) / "swtpm.log"
    for attempt in range(3):
        server = free_port_pair()
        control = server + 1
        _spawn(running, ["swtpm", "socket", "--tpm2", "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % server,
                         "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % control, "--flags", "not-need-init,startup-clear",
                         "--tpmstate", "dir=%s" % state], log)
        try:
            wait_until(lambda: all(_connects(socket.AF_INET, ("127.0.0.1", port)) for port in (server, control)), "swtpm", running.processes[-1:], log)
            return server
        except RuntimeError:
            if attempt == 2:
                raise
            running.processes.pop().wait()
    raise AssertionError("unreachable")


def _die_with_parent() -> None:
    """In the daemon, before exec: ask Linux for SIGTERM when the process that started it ends, so that a test run
    killed outright (no finalizer runs) leaves no daemon behind. Elsewhere ``Running.stop`` is the only way."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(running: Running, argv: t.List[str], log: Path, env: t.Optional[t.Dict[str, str]] = None) -> None:
    with open(log, "ab") as stream:
        running.processes.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stream, stderr=subprocess.STDOUT,
                                                  env=env or running.subprocess_env(), start_new_session=True,
                                                  preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None))


# ---------------------------------------------------------------------------------------------------------------------
# The module's own C_InitToken / C_InitPIN and token listing, through ctypes, in a process of their own
# ---------------------------------------------------------------------------------------------------------------------

def init_token(module: str, label: str, env: t.Mapping[str, str], so_pin: str = SO_PIN, pin: str = USER_PIN) -> None:
    """Initialise a free token of ``module`` as ``label`` with the security officer PIN and user PIN (in a new process)."""
    subprocess.run([sys.executable, __file__, "init-token", module, label], check=True, capture_output=True, timeout=120,
                   env=dict(env, IZUMA_TEST_SO_PIN=so_pin, IZUMA_TEST_PIN=pin))


def probe(module: str, env: t.Mapping[str, str]) -> t.Dict[str, t.Any]:
    """The module's tokens (label, serial, initialised) and each initialised token's mechanisms (in a new process)."""
    result = subprocess.run([sys.executable, __file__, "probe", module], capture_output=True, text=True, timeout=120,
                            env=dict(env), check=False)
    if result.returncode != 0:
        raise RuntimeError("listing the tokens of %s failed: %s" % (module, result.stderr.strip()[-2000:]))
    return t.cast(t.Dict[str, t.Any], json.loads(result.stdout))


CK_ULONG = ctypes.c_ulong
CKF_TOKEN_INITIALIZED = 0x400
CKF_RW_SESSION, CKF_SERIAL_SESSION = 0x2, 0x4
CKU_SO = 0


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class _TokenInfo(ctypes.Structure):
    """CK_TOKEN_INFO (PKCS#11 2.40, section 3.2)."""

    _fields_ = ([("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32), ("model", ctypes.c_char * 16),
                 ("serialNumber", ctypes.c_char * 16), ("flags", CK_ULONG)]
                + [(name, CK_ULONG) for name in ("ulMaxSessionCount", "ulSessionCount", "ulMaxRwSessionCount", "ulRwSessionCount",
                                                 "ulMaxPinLen", "ulMinPinLen", "ulTotalPublicMemory", "ulFreePublicMemory",
                                                 "ulTotalPrivateMemory", "ulFreePrivateMemory")]
                + [("hardwareVersion", _Version), ("firmwareVersion", _Version), ("utcTime", ctypes.c_char * 16)])


class _Module:
    """Just enough of a PKCS#11 module, through ctypes, to initialise tokens and list them."""

    def __init__(self, path: str) -> None:
        self.lib = ctypes.CDLL(path)
        self.check(self.lib.C_Initialize(None), "C_Initialize")

    @staticmethod
    def check(rv: int, what: str) -> None:
        if rv != 0:
            raise SystemExit("%s failed: CKR 0x%x" % (what, rv))

    def tokens(self) -> t.List[t.Tuple[int, _TokenInfo]]:
        count = CK_ULONG()
        self.check(self.lib.C_GetSlotList(ctypes.c_ubyte(1), None, ctypes.byref(count)), "C_GetSlotList")
        slots = (CK_ULONG * count.value)()
        self.check(self.lib.C_GetSlotList(ctypes.c_ubyte(1), slots, ctypes.byref(count)), "C_GetSlotList")
        found = []
        for slot in slots[:count.value]:
            info = _TokenInfo()
            self.check(self.lib.C_GetTokenInfo(CK_ULONG(slot), ctypes.byref(info)), "C_GetTokenInfo")
            found.append((slot, info))
        return found

    def mechanisms(self, slot: int) -> t.List[int]:
        count = CK_ULONG()
        self.check(self.lib.C_GetMechanismList(CK_ULONG(slot), None, ctypes.byref(count)), "C_GetMechanismList")
        listed = (CK_ULONG * count.value)()
        self.check(self.lib.C_GetMechanismList(CK_ULONG(slot), listed, ctypes.byref(count)), "C_GetMechanismList")
        return list(listed[:count.value])

    def init_token(self, label: str, so_pin: bytes, pin: bytes) -> None:
        free = [slot for slot, info in self.tokens() if not info.flags & CKF_TOKEN_INITIALIZED]
        if not free:
            raise SystemExit("no free slot to initialise a token in")
        slot = CK_ULONG(free[0])
        self.check(self.lib.C_InitToken(slot, so_pin, CK_ULONG(len(so_pin)), label.encode("utf-8").ljust(32)), "C_InitToken")
        session = CK_ULONG()
        self.check(self.lib.C_OpenSession(slot, CK_ULONG(CKF_RW_SESSION | CKF_SERIAL_SESSION), None, None, ctypes.byref(session)),
                   "C_OpenSession")
        self.check(self.lib.C_Login(session, CK_ULONG(CKU_SO), so_pin, CK_ULONG(len(so_pin))), "C_Login (SO)")
        self.check(self.lib.C_InitPIN(session, pin, CK_ULONG(len(pin))), "C_InitPIN")
        self.check(self.lib.C_Logout(session), "C_Logout")
        self.check(self.lib.C_CloseSession(session), "C_CloseSession")

    def finalize(self) -> None:
        self.check(self.lib.C_Finalize(None), "C_Finalize")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip(" \0")


def serve(name: str, root: Path) -> int:
    """Start implementation ``name`` under ``root``, print the shell lines that point the collection at its token,
    and keep it running until interrupted (Ctrl-C, SIGTERM); then stop every daemon it started."""
    running = start(name, root)
    try:
        exports = dict(running.env, IZUMA_PKCS11_LIBRARY=running.module, IZUMA_PKCS11_TOKEN=running.label,
                       IZUMA_PKCS11_PIN=running.pin)
        print("".join("export %s=%s\n" % (key, shlex.quote(value)) for key, value in exports.items()), end="", flush=True)
        print("# %s is running under %s; Ctrl-C stops it" % (name, root), file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        running.stop()


def main(argv: t.List[str]) -> int:
    """``serve NAME DIR`` (a running implementation for a shell: ``eval`` its output elsewhere), or, in the tests'
    own subprocesses, ``init-token MODULE LABEL`` (PINs from IZUMA_TEST_SO_PIN and IZUMA_TEST_PIN) or ``probe MODULE``."""
    if argv[:1] == ["serve"] and len(argv) == 3:
        return serve(argv[1], Path(argv[2]).resolve())
    command, module = argv[0], _Module(argv[1])
    if command == "init-token":
        module.init_token(argv[2], os.environ["IZUMA_TEST_SO_PIN"].encode(), os.environ["IZUMA_TEST_PIN"].encode())
    else:
        tokens = module.tokens()
        print(json.dumps({
            "tokens": [{"label": _text(info.label), "serial": _text(info.serialNumber), "slot": slot}
                       for slot, info in tokens if info.flags & CKF_TOKEN_INITIALIZED],
            "mechanisms": {_text(info.label): module.mechanisms(slot) for slot, info in tokens if info.flags & CKF_TOKEN_INITIALIZED},
        }))
    module.finalize()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
