//! `consort demo`: a three-org network as separate processes on loopback,
//! and a scripted story of real transactions on its three sample chaincodes:
//! `token`, `asset-transfer` and `supply-chain`.

use crate::bench::run::token_account;
use crate::client::{args, Client, ClientError};
use crate::config::NetworkSpec;
use crate::localnet::{LocalNet, LocalNetError};
use chaincode_sdk::samples::asset_transfer::Change;
use chaincode_sdk::samples::supply_chain::Lot;
use consort_proto::TxValidationCode as Code;
use std::path::Path;
use std::time::Duration;

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The network could not be made or started.
    #[error(transparent)]
    Net(#[from] LocalNetError),
    /// A client call failed unexpectedly.
    #[error("step '{step}': {source}")]
    Client {
        /// The step.
        step: String,
        /// The failure.
        source: ClientError,
    },
    /// A step had an outcome other than the expected one.
    #[error("step '{step}': expected {expected}, got {got}")]
    Unexpected {
        /// The step.
        step: String,
        /// What was expected.
        expected: String,
        /// What happened.
        got: String,
    },
}

/// Peers per org in the demo network: the first pulls blocks from the
/// orderers, the second receives them by gossip.
pub const PEERS_PER_ORG: u16 = 2;

/// Generates and starts the demo network in `dir`: three orgs, each with
/// an orderer and [`PEERS_PER_ORG`] peers.
pub async fn start_network(
    dir: &Path,
    base_port: u16,
    binary: &Path,
) -> Result<LocalNet, DemoError> {
    start_network_with_peers(dir, base_port, PEERS_PER_ORG, binary).await
}

/// Generates and starts the demo network in `dir` with `peers_per_org`
/// peers per org (at least one), on the ports of
/// [`NetworkSpec::three_orgs_with_peers`].
pub async fn start_network_with_peers(
    dir: &Path,
    base_port: u16,
    peers_per_org: u16,
    binary: &Path,
) -> Result<LocalNet, DemoError> {
    let spec = NetworkSpec::three_orgs_with_peers(base_port, peers_per_org);
    let mut net = LocalNet::generate(dir, &spec, binary)?;
    net.start_all()?;
    net.wait_ready(Duration::from_secs(60)).await?;
    Ok(net)
}

struct Story {
    clients: Vec<Client>,
    failures: usize,
    /// The highest block a step of the story committed in.
    last_block: u64,
}

fn show(step: &str, tx: &str, block: Option<u64>, outcome: &str) {
    let block = block.map(|b| b.to_string()).unwrap_or_else(|| "-".into());
    println!(
        "{step:<48} tx {:<16} block {block:>3}  {outcome}",
        &tx[..tx.len().min(16)]
    );
}

/// Maps a client error of `step` into the demo's error.
fn client_err(step: &str) -> impl FnOnce(ClientError) -> DemoError + '_ {
    move |source| DemoError::Client {
        step: step.into(),
        source,
    }
}

impl Story {
    fn client(&self, org: usize) -> &Client {
        &self.clients[org.min(self.clients.len() - 1)]
    }

    fn check(&mut self, step: &str, expected: &str, got: &str) -> Result<(), DemoError> {
        if expected != got {
            self.failures += 1;
            return Err(DemoError::Unexpected {
                step: step.into(),
                expected: expected.into(),
                got: got.into(),
            });
        }
        Ok(())
    }

    /// Submits a transaction as org `org`'s client and expects it VALID.
    async fn invoke(
        &mut self,
        org: usize,
        step: &str,
        chaincode: &str,
        f: &str,
        a: &[&str],
    ) -> Result<(), DemoError> {
        self.caught_up(org, step).await?;
        let r = self
            .client(org)
            .invoke(chaincode, f, &args(a))
            .await
            .map_err(client_err(step))?;
        show(step, &r.tx_id, Some(r.block), r.code.as_str_name());
        self.last_block = self.last_block.max(r.block);
        self.check(step, "VALID", r.code.as_str_name())
    }

    /// Waits until org `org`'s peer has committed every block the story
    /// has made so far, so that what it reads or endorses is current.
    async fn caught_up(&self, org: usize, step: &str) -> Result<(), DemoError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.client(org).status().await.map_err(client_err(step))?;
            if status.height > self.last_block {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(DemoError::Unexpected {
                    step: step.to_string(),
                    expected: format!(
                        "org {org}'s peer to commit block {} within 30 s",
                        self.last_block
                    ),
                    got: format!("height {}", status.height),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Expects the chaincode to refuse the call with a message containing `why`.
    async fn refused(
        &mut self,
        org: usize,
        step: &str,
        chaincode: &str,
        f: &str,
        a: &[&str],
        why: &str,
    ) -> Result<(), DemoError> {
        self.caught_up(org, step).await?;
        match self.client(org).invoke(chaincode, f, &args(a)).await {
            Err(ClientError::Chaincode(msg)) => {
                println!("{step:<48} refused by chaincode: {msg}");
                let got = if msg.contains(why) { why } else { &msg };
                self.check(step, why, got)
            }
            Ok(r) => {
                show(step, &r.tx_id, Some(r.block), r.code.as_str_name());
                self.check(step, "chaincode error", r.code.as_str_name())
            }
            Err(source) => Err(DemoError::Client {
                step: step.into(),
                source,
            }),
        }
    }

    /// Evaluates a query and returns its result as text.
    async fn read(
        &mut self,
        org: usize,
        step: &str,
        chaincode: &str,
        f: &str,
        a: &[&str],
    ) -> Result<String, DemoError> {
        self.caught_up(org, step).await?;
        let out = self
            .client(org)
            .evaluate(chaincode, f, &args(a))
            .await
            .map_err(client_err(step))?;
        Ok(String::from_utf8_lossy(&out).to_string())
    }

    /// Evaluates a query and expects exactly `expected`.
    async fn query(
        &mut self,
        org: usize,
        step: &str,
        chaincode: &str,
        f: &str,
        a: &[&str],
        expected: &str,
    ) -> Result<(), DemoError> {
        let got = self.read(org, step, chaincode, f, a).await?;
        println!("{step:<48} query -> {got}");
        self.check(step, expected, &got)
    }
}

/// Runs the scripted story; fails on the first step whose outcome is not the expected one.
pub async fn run_story(net: &LocalNet) -> Result<(), DemoError> {
    let mut clients = Vec::new();
    for org in ["Org1MSP", "Org2MSP", "Org3MSP"] {
        clients.push(net.client(org, None).await?);
    }
    // alice, bob and carol are the `user1` clients of Org1, Org2 and Org3.
    let [alice, bob, carol] = [0, 1, 2].map(|i| token_account(&clients[i]));
    let mut s = Story {
        clients,
        failures: 0,
        last_block: 0,
    };
    println!(
        "channel '{}', chaincodes token, asset-transfer, supply-chain, policy OutOf(2, Org1, Org2, Org3 peers)",
        s.client(0).channel_id()
    );
    println!("alice = {alice}, bob = {bob}, carol = {carol}\n");

    println!("-- token --");
    s.invoke(
        0,
        "Org1 creates GOLD, max supply 1000",
        "token",
        "create",
        &["GOLD", "1000"],
    )
    .await?;
    let issues = [(&alice, "600", "alice"), (&bob, "300", "bob")];
    for (to, amount, name) in issues {
        let step = format!("Org1 issues {amount} GOLD to {name}");
        s.invoke(0, &step, "token", "issue", &["GOLD", to, amount, "payroll"])
            .await?;
    }
    s.invoke(
        0,
        "alice pays bob 100",
        "token",
        "transfer",
        &["GOLD", &alice, &bob, "100", "rent"],
    )
    .await?;
    s.invoke(
        1,
        "bob pays carol 50 (through Org2's gateway)",
        "token",
        "transfer",
        &["GOLD", &bob, &carol, "50", "lunch"],
    )
    .await?;
    s.refused(
        0,
        "Org1 issues 200 more (beyond max supply)",
        "token",
        "issue",
        &["GOLD", &carol, "200", "bonus"],
        "exceeds the maximum supply",
    )
    .await?;
    s.refused(
        1,
        "bob tries to move alice's GOLD",
        "token",
        "transfer",
        &["GOLD", &alice, &bob, "10", "mine"],
        "does not hold account",
    )
    .await?;

    // Two transfers endorsed against the same state, then both submitted:
    // the first to commit wins, the second read a stale balance.
    let step = "alice pays carol 10 and bob 10 at once";
    let mut endorsed = Vec::new();
    for (to, memo) in [(&carol, "a"), (&bob, "b")] {
        let e = s
            .client(0)
            .endorse(
                "token",
                "transfer",
                &args(&["GOLD", &alice, to, "10", memo]),
            )
            .await
            .map_err(client_err(step))?;
        endorsed.push(e);
    }
    let mut outcomes = Vec::new();
    for (label, e) in ["  first (alice -> carol)", "  second (alice -> bob)"]
        .into_iter()
        .zip(&endorsed)
    {
        s.client(0)
            .submit_endorsed(e)
            .await
            .map_err(client_err(step))?;
        let (code, block) = s
            .client(0)
            .commit_status(&e.tx_id, Duration::from_secs(30))
            .await
            .map_err(client_err(step))?;
        show(label, &e.tx_id, Some(block), code.as_str_name());
        s.last_block = s.last_block.max(block);
        outcomes.push(code);
    }
    s.check(step, "VALID", outcomes[0].as_str_name())?;
    s.check(
        step,
        Code::MvccReadConflict.as_str_name(),
        outcomes[1].as_str_name(),
    )?;
    for (org, account, name, expected) in [
        (0, &alice, "alice", "490"),
        (1, &bob, "bob", "350"),
        (2, &carol, "carol", "60"),
    ] {
        let step = format!("balance of {name}");
        s.query(org, &step, "token", "balance", &["GOLD", account], expected)
            .await?;
    }
    s.query(
        2,
        "GOLD supply",
        "token",
        "info",
        &["GOLD"],
        r#"{"symbol":"GOLD","max_supply":1000,"issued":900,"issuer":"Org1MSP"}"#,
    )
    .await?;

    println!("\n-- asset-transfer --");
    s.invoke(
        1,
        "Org2 registers asset1 (blue, owner bob)",
        "asset-transfer",
        "create",
        &["asset1", "blue", "5", "bob", "300"],
    )
    .await?;
    s.invoke(
        1,
        "asset1 passes to carol",
        "asset-transfer",
        "transfer",
        &["asset1", "carol"],
    )
    .await?;
    let history = s
        .read(
            2,
            "asset1 history",
            "asset-transfer",
            "history",
            &["asset1"],
        )
        .await?;
    let owners: Vec<String> = serde_json::from_str::<Vec<Change>>(&history)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.asset.map(|a| a.owner))
        .collect();
    println!(
        "{:<48} query -> owners {}",
        "asset1 history",
        owners.join(" -> ")
    );
    s.check("asset1 history", "bob -> carol", &owners.join(" -> "))?;

    println!("\n-- supply-chain --");
    s.invoke(
        0,
        "Org1 harvests lot7 (coffee)",
        "supply-chain",
        "harvest",
        &["lot7", "coffee"],
    )
    .await?;
    s.invoke(
        0,
        "Org1 processes lot7, hands it to Org2",
        "supply-chain",
        "handover",
        &["lot7", "processed", "Org2MSP"],
    )
    .await?;
    s.refused(
        0,
        "Org1 tries to ship lot7 (Org2 holds it)",
        "supply-chain",
        "handover",
        &["lot7", "shipped", "Org3MSP"],
        "only Org2MSP",
    )
    .await?;
    s.invoke(
        1,
        "Org2 ships lot7 to Org3",
        "supply-chain",
        "handover",
        &["lot7", "shipped", "Org3MSP"],
    )
    .await?;
    let trace = s
        .read(2, "trace lot7", "supply-chain", "trace", &["lot7"])
        .await?;
    let path: Vec<String> = serde_json::from_str::<Lot>(&trace)
        .map(|lot| lot.steps)
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} by {}", r.step, r.org))
        .collect();
    println!("{:<48} query -> {}", "trace lot7", path.join(", "));
    s.check("trace lot7", "3 steps", &format!("{} steps", path.len()))?;
    if s.failures > 0 {
        return Err(DemoError::Unexpected {
            step: "story".into(),
            expected: "all steps as expected".into(),
            got: format!("{} failures", s.failures),
        });
    }
    Ok(())
}
