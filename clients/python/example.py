#!/usr/bin/env python3
r"""An application of the `token` sample chaincode, through consort_client.

    python3 clients/python/example.py \
        --profile demo-data/orgs/Org1MSP/users/user1/client.toml \
        [--profile2 demo-data/orgs/Org2MSP/users/user1/client.toml] [--stubs DIR]

Creates a fresh token, issues it to the client's own account, moves some to
one of its sub-accounts, checks balances, sees the transfer in the block and
chaincode event streams, submits two transfers endorsed against the same state
(one VALID, one MVCC_READ_CONFLICT) and, with --profile2, pays a client of
another org, which pays some back through its own gateway. Prints each step;
exits 1 on any unexpected outcome.
"""

from __future__ import annotations

import argparse
import json
import queue
import secrets
import string
import sys
import threading
import time
from pathlib import Path

import consort_client as cc

WAIT_S = 30.0


class Failed(Exception):
    """A step did not have its expected outcome."""


def step(label: str, outcome: str) -> None:
    print(f"{label:<50} {outcome}", flush=True)


def show(label: str, r: cc.Committed) -> None:
    step(label, f"tx {r.tx_id[:16]} block {r.block:>3}  {r.code}")


def expect(what: str, got, want) -> None:
    if got != want:
        raise Failed(f"{what}: expected {want!r}, got {got!r}")


class Follower:
    """Reads a stream on a thread and lets the main thread wait for an item."""

    def __init__(self, stream: cc.Stream):
        self.stream = stream
        self.items: queue.Queue = queue.Queue()
        self.seen: list = []
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.stream:
                self.items.put(item)
        except cc.ConsortError as e:
            self.error = e
        finally:
            self.items.put(None)

    def wait_for(self, what: str, match):
        """The first item, seen before or arriving within WAIT_S, that `match`es."""
        for item in self.seen:
            if match(item):
                return item
        deadline = time.monotonic() + WAIT_S
        while True:
            left = deadline - time.monotonic()
            try:
                item = self.items.get(timeout=max(left, 0))
            except queue.Empty:
                raise Failed(f"{what}: not seen within {WAIT_S:.0f} s") from None
            if item is None:
                raise Failed(f"{what}: the stream ended ({self.error or 'closed'})")
            self.seen.append(item)
            if match(item):
                return item

    def stop(self) -> None:
        self.stream.cancel()
        self.thread.join(timeout=5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True, help="client.toml of the main client")
    ap.add_argument("--profile2", help="client.toml of a client of another org")
    ap.add_argument("--stubs", help="directory of generated stubs (default: generate into clients/python/build/stubs)")
    a = ap.parse_args()

    clients: list[cc.Client] = []
    followers: list[Follower] = []
    try:
        stubs = a.stubs or cc.generate_stubs(Path(__file__).resolve().parent / "build" / "stubs")
        cc.load_stubs(stubs)
        for profile in filter(None, (a.profile, a.profile2)):
            clients.append(cc.Client(cc.Profile.load(profile)))
        c, other = clients[0], clients[1] if len(clients) > 1 else None
        return story(c, other, followers)
    except (Failed, cc.ConsortError, OSError, ValueError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    finally:
        for f in followers:
            f.stop()
        for c in clients:
            c.close()


def story(c: cc.Client, other: cc.Client | None, followers: list[Follower]) -> int:
    me = c.account
    savings, a, b = f"{me}#savings", f"{me}#a", f"{me}#b"
    symbol = "PY" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(4))
    status = c.status()
    print(f"channel '{c.channel.channel_id}', gateway {c.gateway} ({status.name}, height {status.height})")
    print(f"client {me}, signing with {c.signer.algorithm}")
    if other:
        print(f"other client {other.account}, signing with {other.signer.algorithm}, via {other.gateway}")
    print()

    # Follow both event streams from the current height on.
    blocks = Follower(c.block_events(status.height))
    events = Follower(c.chaincode_events("token", status.height))
    followers += [blocks, events]

    def in_blocks(tx_id: str) -> tuple[int, str]:
        block = blocks.wait_for(
            f"block event with tx {tx_id[:16]}",
            lambda blk: any(t == tx_id for t, _ in c.tx_ids(blk)),
        )
        number = cc.pb.BlockHeader.FromString(block.block.header).number
        return number, dict(c.tx_ids(block))[tx_id]

    def transfer_event(tx_id: str) -> dict:
        e = events.wait_for(f"chaincode event of tx {tx_id[:16]}", lambda e: e.tx_id == tx_id)
        expect("event name", e.name, "Transfer")
        return json.loads(e.payload)

    def balance(client: cc.Client, account: str) -> int:
        return json.loads(client.evaluate("token", "balance", symbol, account))

    account = json.loads(c.evaluate("token", "account"))
    step("the token chaincode names my account", f"query -> {account}")
    expect("account", account, me)

    r = c.submit("token", "create", symbol, "1000000")
    show(f"create {symbol}, max supply 1000000", r)
    expect("create", r.code, "VALID")
    expect("issuer", json.loads(r.payload)["issuer"], c.signer.msp_id)

    r = c.submit("token", "issue", symbol, me, "1000", "python")
    show(f"issue 1000 {symbol} to {me}", r)
    expect("issue", r.code, "VALID")
    expect("new balance", json.loads(r.payload), 1000)

    r = c.submit("token", "transfer", symbol, me, savings, "250", "to savings")
    show("transfer 250 to my #savings", r)
    expect("transfer", r.code, "VALID")
    expect("new balances", json.loads(r.payload), {"from": 750, "to": 250})
    moved = r

    got = balance(c, savings)
    step("balance of #savings", f"query -> {got}")
    expect("balance of #savings", got, 250)

    # A refusal carries a typed reason (services.proto's ErrorReason) in the
    # status's google.rpc.ErrorInfo: decide on it, never on the message.
    try:
        c.submit("token", "transfer", symbol, savings, a, "999999", "too much")
        raise Failed("overdraft: expected a chaincode error, got a transaction")
    except cc.GatewayError as e:
        step("overdraft is refused", f"{e.code.name} {e.reason} status {e.metadata.get('status')}")
        expect("overdraft reason", e.reason, "CHAINCODE_ERROR")
        expect("overdraft status", e.metadata.get("status"), "400")
        expect("overdraft resend", e.resend_is_safe, False)

    number, code = in_blocks(moved.tx_id)
    step("block events: the transfer", f"block {number:>3}  {code}")
    expect("block of the transfer", number, moved.block)
    expect("code in the block", code, "VALID")
    payload = transfer_event(moved.tx_id)
    step("chaincode events: Transfer", json.dumps(payload, separators=(",", ":")))
    expect("event", payload, {"symbol": symbol, "from": me, "to": savings, "amount": 250})

    # Two transfers from #savings endorsed against the same state, then both
    # submitted: the first to commit wins; the second read a stale balance.
    print("two transfers from #savings endorsed at once, then both submitted:")
    first = c.endorse("token", "transfer", symbol, savings, a, "10", "first")
    second = c.endorse("token", "transfer", symbol, savings, b, "10", "second")
    outcomes = []
    for label, e in (("  first (#savings -> #a)", first), ("  second (#savings -> #b)", second)):
        r = c.submit_endorsed(e)
        show(label, r)
        outcomes.append(r)
    expect("first of the pair", outcomes[0].code, "VALID")
    expect("second of the pair", outcomes[1].code, "MVCC_READ_CONFLICT")
    for r in outcomes:
        _, code = in_blocks(r.tx_id)
        expect(f"block event code of {r.tx_id[:16]}", code, r.code)
    step("  block events show both", "VALID, MVCC_READ_CONFLICT")
    transfer_event(outcomes[0].tx_id)
    expected_savings = 240

    if other:
        # Pay a client of another org, which waits until its own peer has the
        # payment, then pays some back through its own gateway.
        them = other.account
        r = c.submit("token", "transfer", symbol, me, them, "100", "to another org")
        show(f"pay {them} 100", r)
        expect("payment", r.code, "VALID")
        code, _ = other.wait_committed(r.tx_id)
        expect("payment on the other org's peer", code, "VALID")
        got = balance(other, them)
        step("  its balance, on its own peer", f"query -> {got}")
        expect("balance of the other client", got, 100)
        r = other.submit("token", "transfer", symbol, them, savings, "40", "back")
        show("  it pays 40 back to my #savings", r)
        expect("payment back", r.code, "VALID")
        expect("its new balances", json.loads(r.payload), {"from": 60, "to": 280})
        code, _ = c.wait_committed(r.tx_id)
        expect("payment back on my peer", code, "VALID")
        payload = transfer_event(r.tx_id)
        expect("event of the payment back", payload, {"symbol": symbol, "from": them, "to": savings, "amount": 40})
        expected_savings += 40

    # Chaincode events carry VALID transactions only: every event so far is
    # in, and the conflicting transfer's is not among them.
    if any(e.tx_id == outcomes[1].tx_id for e in events.seen):
        raise Failed("chaincode events: an event of the MVCC_READ_CONFLICT transaction")
    step("chaincode events: none of the conflicting one", "ok")

    want = {me: 750 - (100 if other else 0), savings: expected_savings, a: 10, b: 0}
    for account, amount in want.items():
        got = balance(c, account)
        step(f"balance of {account}", f"query -> {got}")
        expect(f"balance of {account}", got, amount)
    info = json.loads(c.evaluate("token", "info", symbol))
    step(f"{symbol} info", f"query -> {json.dumps(info, separators=(',', ':'))}")
    expect("issued", info["issued"], 1000)

    print("\nevery step had its expected outcome")
    return 0


if __name__ == "__main__":
    sys.exit(main())
