//! `consort demo`: a three-org network as separate processes on loopback,
//! with the `token` chaincode and a scripted story of real transactions.

use crate::client::{args, Client, ClientError};
use crate::config::NetworkSpec;
use crate::localnet::{LocalNet, LocalNetError};
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

/// Generates and starts the demo network in `dir`.
pub async fn start_network(
    dir: &Path,
    base_port: u16,
    binary: &Path,
) -> Result<LocalNet, DemoError> {
    let spec = NetworkSpec::three_orgs(base_port);
    let mut net = LocalNet::generate(dir, &spec, binary)?;
    net.start_all()?;
    net.wait_ready(Duration::from_secs(60)).await?;
    Ok(net)
}

struct Story {
    clients: Vec<Client>,
    failures: usize,
}

fn show(step: &str, tx: &str, block: Option<u64>, outcome: &str) {
    let block = block.map(|b| b.to_string()).unwrap_or_else(|| "-".into());
    println!(
        "{step:<44} tx {:<16} block {block:>3}  {outcome}",
        &tx[..tx.len().min(16)]
    );
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

    async fn invoke(
        &mut self,
        org: usize,
        step: &str,
        f: &str,
        a: &[&str],
    ) -> Result<(), DemoError> {
        let r = self
            .client(org)
            .invoke("token", f, &args(a))
            .await
            .map_err(|source| DemoError::Client {
                step: step.into(),
                source,
            })?;
        show(step, &r.tx_id, Some(r.block), r.code.as_str_name());
        self.check(step, "VALID", r.code.as_str_name())
    }

    async fn query(
        &mut self,
        org: usize,
        step: &str,
        f: &str,
        a: &[&str],
        expected: &str,
    ) -> Result<(), DemoError> {
        let out = self
            .client(org)
            .evaluate("token", f, &args(a))
            .await
            .map_err(|source| DemoError::Client {
                step: step.into(),
                source,
            })?;
        let got = String::from_utf8_lossy(&out).to_string();
        println!("{step:<44} query -> {got}");
        self.check(step, expected, &got)
    }
}

/// Runs the scripted story; returns the number of steps whose outcome was not the expected one.
pub async fn run_story(net: &LocalNet) -> Result<(), DemoError> {
    let mut clients = Vec::new();
    for org in ["Org1MSP", "Org2MSP", "Org3MSP"] {
        clients.push(net.client(org, None).await?);
    }
    let mut s = Story {
        clients,
        failures: 0,
    };
    println!(
        "channel '{}', chaincode 'token', policy OutOf(2, Org1, Org2, Org3 peers)\n",
        s.client(0).channel_id()
    );
    s.invoke(
        0,
        "Org1 creates GOLD, max supply 1000",
        "create",
        &["GOLD", "1000"],
    )
    .await?;
    s.invoke(
        0,
        "Org1 issues 600 GOLD to alice",
        "issue",
        &["GOLD", "alice", "600", "payroll"],
    )
    .await?;
    s.invoke(
        0,
        "Org1 issues 300 GOLD to bob",
        "issue",
        &["GOLD", "bob", "300", "payroll"],
    )
    .await?;
    s.invoke(
        1,
        "via Org2: alice pays bob 100",
        "transfer",
        &["GOLD", "alice", "bob", "100", "rent"],
    )
    .await?;
    s.invoke(
        2,
        "via Org3: bob pays carol 50",
        "transfer",
        &["GOLD", "bob", "carol", "50", "lunch"],
    )
    .await?;

    let step = "Org1 issues 200 more (beyond max supply)";
    match s
        .client(0)
        .invoke("token", "issue", &args(&["GOLD", "carol", "200", "bonus"]))
        .await
    {
        Err(ClientError::Chaincode(msg)) => {
            println!("{step:<44} refused by chaincode: {msg}");
            let ok = msg.contains("exceeds the maximum supply");
            s.check(
                step,
                "max supply error",
                if ok { "max supply error" } else { &msg },
            )?;
        }
        Ok(r) => {
            show(step, &r.tx_id, Some(r.block), r.code.as_str_name());
            s.check(step, "chaincode error", r.code.as_str_name())?;
        }
        Err(source) => {
            return Err(DemoError::Client {
                step: step.into(),
                source,
            })
        }
    }

    // Two transfers endorsed against the same state, then both submitted:
    // the first to commit wins, the second reads a stale balance.
    let step = "alice pays dave 10 and erin 10 at once";
    let e1 = s
        .client(0)
        .endorse(
            "token",
            "transfer",
            &args(&["GOLD", "alice", "dave", "10", "a"]),
        )
        .await
        .map_err(|source| DemoError::Client {
            step: step.into(),
            source,
        })?;
    let e2 = s
        .client(1)
        .endorse(
            "token",
            "transfer",
            &args(&["GOLD", "alice", "erin", "10", "b"]),
        )
        .await
        .map_err(|source| DemoError::Client {
            step: step.into(),
            source,
        })?;
    let mut outcomes = Vec::new();
    for (i, e) in [(0usize, &e1), (1, &e2)] {
        s.client(i)
            .submit(e)
            .await
            .map_err(|source| DemoError::Client {
                step: step.into(),
                source,
            })?;
        let (code, block) = s
            .client(i)
            .commit_status(&e.tx_id, Duration::from_secs(30))
            .await
            .map_err(|source| DemoError::Client {
                step: step.into(),
                source,
            })?;
        show(
            if i == 0 {
                "  first (alice -> dave)"
            } else {
                "  second (alice -> erin)"
            },
            &e.tx_id,
            Some(block),
            code.as_str_name(),
        );
        outcomes.push(code);
    }
    s.check(step, "VALID", outcomes[0].as_str_name())?;
    s.check(
        step,
        Code::MvccReadConflict.as_str_name(),
        outcomes[1].as_str_name(),
    )?;

    println!();
    s.query(0, "balance of alice", "balance", &["GOLD", "alice"], "490")
        .await?;
    s.query(1, "balance of bob", "balance", &["GOLD", "bob"], "350")
        .await?;
    s.query(2, "balance of carol", "balance", &["GOLD", "carol"], "50")
        .await?;
    s.query(0, "balance of dave", "balance", &["GOLD", "dave"], "10")
        .await?;
    s.query(1, "balance of erin", "balance", &["GOLD", "erin"], "0")
        .await?;
    s.query(
        2,
        "GOLD supply",
        "info",
        &["GOLD"],
        r#"{"symbol":"GOLD","max_supply":1000,"issued":900,"issuer":"Org1MSP"}"#,
    )
    .await?;
    if s.failures > 0 {
        return Err(DemoError::Unexpected {
            step: "story".into(),
            expected: "all steps as expected".into(),
            got: format!("{} failures", s.failures),
        });
    }
    Ok(())
}
