"""A small Consort client in Python, written from the published .proto files.

Everything here follows the WIRE RULES in proto/consort/common.proto and the
client flow in proto/consort/services.proto: the client builds and signs its
own proposals and transactions, and the gateway peer does the rest.

The message classes are generated from proto/ with grpcio-tools (see
`generate_stubs`); call `load_stubs(dir)` once before using a `Client`.

    stubs = generate_stubs("build/stubs")
    load_stubs(stubs)
    client = Client(Profile.load("orgs/Org1MSP/users/user1/client.toml"))
    print(client.evaluate("token", "account"))
"""

from __future__ import annotations

import hashlib
import importlib
import os
import secrets
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

# The repository's proto/ directory, relative to this file.
PROTO_DIR = Path(__file__).resolve().parent.parent.parent / "proto"

# Generated modules, set by `load_stubs`.
pb = None  # consort.common_pb2, transaction_pb2, config_pb2, services_pb2 merged
services_grpc = None  # consort.services_pb2_grpc


def generate_stubs(out_dir: str | os.PathLike, proto_dir: Path = PROTO_DIR) -> Path:
    """Generates the Python message classes and gRPC stubs into `out_dir`.

    Runs `python -m grpc_tools.protoc -I proto --python_out=OUT
    --grpc_python_out=OUT proto/consort/*.proto`; the modules land in
    `OUT/consort/`. Returns `out_dir`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p) for p in (proto_dir / "consort").glob("*.proto"))
    if not protos:
        raise ConsortError(f"no .proto files in {proto_dir / 'consort'}")
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}",
        *protos,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise ConsortError(f"protoc failed: {run.stderr.strip()}")
    return out


def load_stubs(stub_dir: str | os.PathLike) -> None:
    """Imports the modules `generate_stubs` wrote to `stub_dir`."""
    global pb, services_grpc
    path = str(Path(stub_dir).resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    modules = [
        importlib.import_module(f"consort.{name}_pb2")
        for name in ("common", "transaction", "config", "services")
    ]

    class _Messages:
        """All message and enum classes of the consort package in one place."""

    for module in modules:
        for name in module.DESCRIPTOR.message_types_by_name:
            setattr(_Messages, name, getattr(module, name))
        for name in module.DESCRIPTOR.enum_types_by_name:
            setattr(_Messages, name, getattr(module, name))
    pb = _Messages
    services_grpc = importlib.import_module("consort.services_pb2_grpc")


class ConsortError(Exception):
    """A failure with a one-line reason."""


class GatewayError(ConsortError):
    """A gateway call answered with a gRPC status (table in services.proto).

    `reason` is the `ErrorReason` name from the status's `google.rpc.ErrorInfo`
    (e.g. "CHAINCODE_ERROR"), `metadata` its metadata ("org", "status",
    "resend"); both empty when the failure did not come from a Consort node.
    """

    def __init__(self, method: str, error: grpc.RpcError):
        self.method = method
        self.code = error.code()
        self.message = error.details() or ""
        self.reason, self.metadata = error_info(error)
        tag = f"{self.code.name}, {self.reason}" if self.reason else self.code.name
        super().__init__(f"{method} failed ({tag}): {self.message}")

    @property
    def resend_is_safe(self) -> bool:
        """Whether sending the same request or signed envelope again is safe."""
        if "resend" in self.metadata:
            return self.metadata["resend"] == "yes"
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                             grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED)


def _fields(buf: bytes):
    """The (field number, wire type, value) of each field of an encoded
    protobuf message: enough to read google.rpc.Status and ErrorInfo."""
    i = 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            n = varint()
            yield number, wire, buf[i:i + n]
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"wire type {wire}")


ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


def error_info(error: grpc.RpcError) -> tuple[str, dict[str, str]]:
    """The reason and metadata of a Consort node's error: the ErrorInfo in the
    `grpc-status-details-bin` trailer (a google.rpc.Status), if any."""
    trailers = dict(error.trailing_metadata() or ())
    raw = trailers.get("grpc-status-details-bin")
    if not raw:
        return "", {}
    try:
        for number, _, any_bytes in _fields(raw):
            if number != 3:  # Status.details: repeated Any
                continue
            parts = {n: v for n, _, v in _fields(any_bytes)}
            if parts.get(1, b"").decode() != ERROR_INFO_TYPE:
                continue
            reason, domain, metadata = "", "", {}
            for n, _, v in _fields(parts.get(2, b"")):
                if n == 1:
                    reason = v.decode()
                elif n == 2:
                    domain = v.decode()
                elif n == 3:  # map entry: key = 1, value = 2
                    entry = {k: x.decode() for k, _, x in _fields(v)}
                    metadata[entry.get(1, "")] = entry.get(2, "")
            if domain == "consort":
                return reason, metadata
    except (IndexError, ValueError, UnicodeDecodeError):
        pass
    return "", {}


@dataclass
class Profile:
    """A client profile (`client.toml`), paths resolved against its directory.

    As in the Rust client, every field can be overridden by a `CONSORT_<FIELD>`
    environment variable (`CONSORT_GATEWAY`, `CONSORT_FALLBACK_GATEWAYS`
    comma-separated, `CONSORT_TLS_NAME`, `CONSORT_MSP_ID`, `CONSORT_CERT`,
    `CONSORT_KEY`, `CONSORT_TLS_CERT`, `CONSORT_TLS_KEY`, `CONSORT_GENESIS`).
    """

    msp_id: str
    cert: Path
    key: Path
    tls_cert: Path
    tls_key: Path
    genesis: Path
    gateway: str
    tls_name: str | None
    fallback_gateways: list[str] = field(default_factory=list)

    FIELDS = ("msp_id", "cert", "key", "tls_cert", "tls_key", "genesis", "gateway",
              "fallback_gateways", "tls_name")

    @classmethod
    def load(cls, path: str | os.PathLike, env: dict[str, str] | None = None) -> "Profile":
        path = Path(path)
        env = os.environ if env is None else env
        with open(path, "rb") as f:
            t = tomllib.load(f)
        for name in cls.FIELDS:
            value = env.get(f"CONSORT_{name.upper()}")
            if value is None:
                continue
            if name == "fallback_gateways":
                t[name] = [g.strip() for g in value.split(",") if g.strip()]
            else:
                t[name] = value
        unknown = set(t) - set(cls.FIELDS)
        if unknown:
            raise ConsortError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
        base = path.resolve().parent
        for name in ("msp_id", "cert", "key", "genesis", "gateway"):
            if name not in t:
                raise ConsortError(f"{path}: missing field '{name}'")
        if ("tls_cert" in t) != ("tls_key" in t):
            raise ConsortError(f"{path}: give tls_cert and tls_key together")
        cert = base / t["cert"]
        key = base / t["key"]
        return cls(
            msp_id=t["msp_id"],
            cert=cert,
            key=key,
            # Without a TLS pair the signing pair serves for TLS too.
            tls_cert=base / t["tls_cert"] if "tls_cert" in t else cert,
            tls_key=base / t["tls_key"] if "tls_key" in t else key,
            genesis=base / t["genesis"],
            gateway=t["gateway"],
            tls_name=t.get("tls_name"),
            fallback_gateways=list(t.get("fallback_gateways", [])),
        )

    def gateways(self) -> list[str]:
        """`gateway`, then the fallbacks, each once: the order a client tries them."""
        out: list[str] = []
        for g in [self.gateway, *self.fallback_gateways]:
            if g not in out:
                out.append(g)
        return out


@dataclass
class Channel:
    """What a client needs from the genesis block."""

    channel_id: str
    # PEM of every member org's TLS CA roots (or signing CA roots when the
    # org has no TLS CA), concatenated.
    tls_roots_pem: bytes
    max_message_bytes: int

    @classmethod
    def from_genesis(cls, path: Path) -> "Channel":
        block = pb.Block.FromString(path.read_bytes())
        if len(block.data) != 1:
            raise ConsortError(f"{path}: a genesis block holds one data item, found {len(block.data)}")
        config = pb.ChannelConfig.FromString(block.data[0])
        roots = []
        for org in config.orgs:
            for der in org.tls_ca_certs or org.ca_certs:
                cert = x509.load_der_x509_certificate(der)
                roots.append(cert.public_bytes(serialization.Encoding.PEM))
        if not roots:
            raise ConsortError(f"{path}: no CA certificates in the channel config")
        return cls(config.channel_id, b"".join(roots), config.max_message_bytes)


class Signer:
    """The signing identity: an Ed25519 or ECDSA P-256 key and its certificate."""

    def __init__(self, msp_id: str, cert_pem: bytes, key_pem: bytes):
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        self.key = serialization.load_pem_private_key(key_pem, password=None)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            if not isinstance(self.key.curve, ec.SECP256R1):
                raise ConsortError(f"unsupported ECDSA curve {self.key.curve.name}")
        elif not isinstance(self.key, ed25519.Ed25519PrivateKey):
            raise ConsortError(f"unsupported key type {type(self.key).__name__}")
        self.msp_id = msp_id
        # Wire rule 4: encoded once; these exact bytes are the creator.
        self.identity = pb.SerializedIdentity(
            msp_id=msp_id,
            cert_der=self.cert.public_bytes(serialization.Encoding.DER),
        ).SerializeToString()

    @property
    def algorithm(self) -> str:
        """"Ed25519" or "ECDSA P-256"."""
        return "Ed25519" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "ECDSA P-256"

    @property
    def subject(self) -> str:
        """The certificate subject's common name."""
        cns = self.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return cns[0].value if cns else ""

    def sign(self, data: bytes) -> bytes:
        """Wire rule 2: Ed25519 raw 64 bytes, or ECDSA P-256/SHA-256 DER."""
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class Endorsed:
    """An endorsed transaction, not yet signed or submitted."""

    tx_id: str
    prepared_transaction: bytes
    payload: bytes
    endorsing_orgs: list[str]


@dataclass
class Committed:
    """A submitted transaction's outcome on the gateway's peer."""

    tx_id: str
    block: int
    code: str  # a TxValidationCode name, e.g. "VALID"
    payload: bytes


@dataclass
class ChaincodeEvent:
    """One chaincode event with where it was committed."""

    block: int
    tx_number: int
    tx_id: str
    name: str
    payload: bytes


class Client:
    """A connection to a gateway peer as the profile's identity."""

    def __init__(self, profile: Profile, gateway: str | None = None, probe_timeout: float = 5.0):
        """Connects to `gateway`, or else to the profile's gateway and then its
        fallback gateways in order: the first that answers a PeerStatus
        probe within `probe_timeout` seconds is used."""
        if pb is None:
            raise ConsortError("call load_stubs() first")
        self.profile = profile
        self.channel = Channel.from_genesis(profile.genesis)
        self.signer = Signer(profile.msp_id, profile.cert.read_bytes(), profile.key.read_bytes())
        self._credentials = grpc.ssl_channel_credentials(
            root_certificates=self.channel.tls_roots_pem,
            private_key=profile.tls_key.read_bytes(),
            certificate_chain=profile.tls_cert.read_bytes(),
        )
        failures = []
        for candidate in [gateway] if gateway else profile.gateways():
            self._open(candidate, tls_name=profile.tls_name if candidate == profile.gateway else None)
            try:
                self.stub.PeerStatus(pb.PeerStatusRequest(), timeout=probe_timeout)
                return
            except grpc.RpcError as e:
                failures.append(f"{candidate}: {e.code().name} {e.details()}")
                self._channel.close()
        raise ConsortError("no gateway answered: " + "; ".join(failures))

    def _open(self, gateway: str, tls_name: str | None) -> None:
        self.gateway = gateway
        host = gateway.rsplit(":", 1)[0].strip("[]")
        limit = max(self.channel.max_message_bytes, 4 << 20) * 2
        options = [
            ("grpc.ssl_target_name_override", tls_name or host),
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ]
        self._channel = grpc.secure_channel(gateway, self._credentials, options)
        self.stub = services_grpc.GatewayStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def account(self) -> str:
        """The token sample's name for this identity's own account."""
        return f"{self.signer.msp_id}:{self.signer.subject}"

    def _call(self, method: str, request, timeout: float = 60.0):
        try:
            return getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as e:
            raise GatewayError(method, e) from None

    def proposal(self, chaincode: str, function: str, args: list[bytes | str]):
        """Builds and signs a proposal (client flow step 1); returns (tx_id, SignedProposal)."""
        creator = self.signer.identity
        nonce = secrets.token_bytes(24)  # wire rule 5
        tx_id = hashlib.sha256(nonce + creator).hexdigest()
        header = pb.ProposalHeader(
            channel_id=self.channel.channel_id,
            tx_id=tx_id,
            chaincode=chaincode,
            creator=creator,
            nonce=nonce,
            timestamp_ms=int(time.time() * 1000),
        ).SerializeToString()
        input_ = pb.ChaincodeInput(
            function=function,
            args=[a.encode() if isinstance(a, str) else a for a in args],
        ).SerializeToString()
        proposal_bytes = pb.Proposal(header=header, input=input_).SerializeToString()
        signed = pb.SignedProposal(
            proposal_bytes=proposal_bytes,
            signature=self.signer.sign(proposal_bytes),
        )
        return tx_id, signed

    def evaluate(self, chaincode: str, function: str, *args: bytes | str) -> bytes:
        """Runs a query on the gateway's peer; nothing is ordered."""
        _, signed = self.proposal(chaincode, function, list(args))
        r = self._call("Evaluate", pb.EvaluateRequest(proposal=signed)).result
        if r.status != 200:
            raise ConsortError(f"chaincode status {r.status}: {r.message}")
        return r.payload

    def endorse(self, chaincode: str, function: str, *args: bytes | str) -> Endorsed:
        """Collects endorsements; the transaction is neither signed nor sent."""
        tx_id, signed = self.proposal(chaincode, function, list(args))
        r = self._call("Endorse", pb.EndorseRequest(proposal=signed))
        if r.result.status != 200:
            raise ConsortError(f"chaincode status {r.result.status}: {r.result.message}")
        return Endorsed(tx_id, r.prepared_transaction, r.result.payload, list(r.endorsing_orgs))

    def submit_endorsed(self, endorsed: Endorsed, wait_s: float = 30.0) -> Committed:
        """Signs the prepared transaction, submits it and waits for its
        validation code on the gateway's peer (client flow steps 3-5)."""
        payload = endorsed.prepared_transaction
        envelope = pb.Envelope(payload=payload, signature=self.signer.sign(payload))
        for attempt in range(3):
            try:
                self._call("Submit", pb.SubmitRequest(envelope=envelope))
                break
            except GatewayError as e:
                # E.g. NO_ORDERING_LEADER or ORDERING_OUTCOME_UNKNOWN:
                # resending the same envelope is safe (a second copy would be
                # DUPLICATE_TXID); CommitStatus then decides.
                if not e.resend_is_safe or attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))
        code, block = self.wait_committed(endorsed.tx_id, wait_s)
        return Committed(endorsed.tx_id, block, code, endorsed.payload)

    def submit(self, chaincode: str, function: str, *args: bytes | str) -> Committed:
        """Endorse, sign, submit, and wait for the commit; `.code` is the
        validation code's name ("VALID" or why not)."""
        return self.submit_endorsed(self.endorse(chaincode, function, *args))

    def status(self):
        """The gateway peer's `PeerStatusResponse` (name, org, height, hashes)."""
        return self._call("PeerStatus", pb.PeerStatusRequest())

    def wait_committed(self, tx_id: str, wait_s: float = 30.0) -> tuple[str, int]:
        """Waits until the gateway's peer has committed `tx_id` (submitted by
        anyone); returns its validation code name and block."""
        status = self._call(
            "CommitStatus",
            pb.CommitStatusRequest(tx_id=tx_id, timeout_ms=int(wait_s * 1000)),
            timeout=wait_s + 10,
        )
        return pb.TxValidationCode.Name(status.code), status.block_number

    def block_events(self, start: int = 0) -> "Stream":
        """Committed blocks (`CommittedBlock`) from block `start`, then live ones."""
        call = self.stub.BlockEvents(pb.BlockEventsRequest(start_block=start))
        return Stream("BlockEvents", call, lambda block: [block])

    def chaincode_events(self, chaincode: str, start: int = 0) -> "Stream":
        """One chaincode's events (`ChaincodeEvent`) from its VALID
        transactions, from block `start`, then live ones."""
        call = self.stub.ChaincodeEvents(
            pb.ChaincodeEventsRequest(chaincode=chaincode, start_block=start)
        )

        def events(r):
            return [
                ChaincodeEvent(r.block_number, e.tx_number, e.tx_id, e.event.name, e.event.payload)
                for e in r.events
            ]

        return Stream("ChaincodeEvents", call, events)

    def tx_ids(self, block) -> list[tuple[str, str]]:
        """(tx_id, validation code name) of each transaction in a `CommittedBlock`."""
        out = []
        if pb.BlockHeader.FromString(block.block.header).number == 0:
            return out  # the genesis block holds the channel config
        for i, data in enumerate(block.block.data):
            tx = pb.Transaction.FromString(pb.Envelope.FromString(data).payload)
            header = pb.ProposalHeader.FromString(tx.header)
            code = block.validation_codes[i] if i < len(block.validation_codes) else 254
            out.append((header.tx_id, pb.TxValidationCode.Name(code)))
        return out


class Stream:
    """A server stream (BlockEvents, ChaincodeEvents): iterate it, and
    `cancel()` it (from any thread) to stop; iteration then just ends."""

    def __init__(self, method: str, call, convert):
        self._method = method
        self._call = call
        self._convert = convert
        self._cancelled = False

    def __iter__(self):
        try:
            for response in self._call:
                yield from self._convert(response)
        except grpc.RpcError as e:
            if self._cancelled and e.code() == grpc.StatusCode.CANCELLED:
                return
            raise GatewayError(self._method, e) from None

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()
