//! A token application on `consort-client`: it pays a few tokens to one of
//! its own sub-accounts, and follows the token chaincode's events, saving a
//! checkpoint after each so that, run again, it goes on where it stopped.
//!
//! ```sh
//! bash deploy/demo.sh                                  # in another terminal
//! cargo run -p consort-client --example token_app -- \
//!     demo-data/orgs/Org1MSP/users/user1/client.toml TOK
//! ```
//!
//! When the token does not exist yet, it creates it and issues 1,000 to the
//! profile's own account.

use consort_client::{args, Checkpoint, Client, ClientError, ClientProfile, Retry};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let mut argv = std::env::args().skip(1);
    let (Some(profile), Some(symbol)) = (argv.next(), argv.next()) else {
        eprintln!("usage: token_app <client.toml> <token symbol>");
        std::process::exit(2);
    };
    if let Err(e) = run(Path::new(&profile), &symbol).await {
        // Every error says what failed, where, and whether trying again helps.
        eprintln!("error: {e}");
        eprintln!(
            "{}",
            match e.retry() {
                Retry::No => "trying again unchanged will fail the same way",
                Retry::Resend => "safe to run again",
                Retry::NewProposal => "run again: it makes a new transaction",
            }
        );
        std::process::exit(1);
    }
}

async fn run(profile: &Path, symbol: &str) -> Result<(), ClientError> {
    let profile = ClientProfile::load(profile)?;
    let client = Client::connect(&profile).await?;
    println!(
        "connected to {} on channel {}",
        client.endpoint(),
        client.channel_id()
    );
    let token = client.contract("token");

    let me = String::from_utf8_lossy(&token.evaluate("account", &[]).await?).to_string();
    if let Err(ClientError::Chaincode(reason)) = token.evaluate("info", &args(&[symbol])).await {
        println!("no token {symbol} yet ({reason}): creating it");
        token.submit("create", &args(&[symbol, "1000000"])).await?;
        token
            .submit("issue", &args(&[symbol, &me, "1000", "token_app"]))
            .await?;
    }
    let balance = token.evaluate("balance", &args(&[symbol, &me])).await?;
    println!("{me} holds {} {symbol}", String::from_utf8_lossy(&balance));

    let savings = format!("{me}#savings");
    let committed = token
        .submit(
            "transfer",
            &args(&[symbol, &me, &savings, "5", "token_app"]),
        )
        .await?;
    println!(
        "moved 5 {symbol} to {savings}: tx {} in block {}",
        committed.tx_id, committed.block
    );

    // Events since the last run (or since block 0), then a few seconds live.
    let file = checkpoint_file(symbol);
    let saved: Option<Checkpoint> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut events = token.events(0, saved).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), events.next()).await {
            Ok(Ok(Some(event))) => {
                println!(
                    "event {} in block {} (tx {}): {}",
                    event.name,
                    event.block,
                    event.tx_id,
                    String::from_utf8_lossy(&event.payload)
                );
                let checkpoint = Checkpoint::after(&event);
                if let Ok(json) = serde_json::to_vec(&checkpoint) {
                    let _ = std::fs::write(&file, json);
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                println!("no more events for 3 s; checkpoint in {}", file.display());
                break;
            }
        }
    }
    Ok(())
}

fn checkpoint_file(symbol: &str) -> PathBuf {
    std::env::temp_dir().join(format!("token_app-{symbol}.checkpoint.json"))
}
