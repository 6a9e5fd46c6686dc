//! `consort invoke` and `consort query`: call a chaincode through a gateway.

use super::{connect, explain, Conn};
use crate::init_logging;
use anyhow::Result;
use clap::Args;
use consort::validation::codes;
use consort_proto::TxValidationCode;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub(crate) struct CallArgs {
    #[command(flatten)]
    conn: Conn,
    /// Chaincode name.
    chaincode: String,
    /// Function.
    function: String,
    /// Arguments (strings).
    args: Vec<String>,
}

impl CallArgs {
    fn arg_bytes(&self) -> Vec<Vec<u8>> {
        self.args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }
}

/// `consort invoke`: endorse, order and wait for the commit; exit 2 if the
/// transaction committed invalid.
pub(crate) async fn invoke(call: CallArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let client = connect(&call.conn).await?;
    let endorsed = client
        .endorse(&call.chaincode, &call.function, &call.arg_bytes())
        .await
        .map_err(explain)?;
    let block = client.submit_endorsed(&endorsed).await.map_err(explain)?;
    let (code, committed) = client
        .commit_status(&endorsed.tx_id, Duration::from_secs(60))
        .await
        .map_err(explain)?;
    println!(
        "tx {} ordered in block {block}, committed in block {committed}: {}",
        endorsed.tx_id,
        code.as_str_name()
    );
    if code == TxValidationCode::Valid {
        println!("{}", String::from_utf8_lossy(&endorsed.result));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("transaction invalid: {}", codes::describe(code));
        Ok(ExitCode::from(2))
    }
}

/// `consort query`: evaluate on one peer and print the result.
pub(crate) async fn query(call: CallArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let client = connect(&call.conn).await?;
    let out = client
        .evaluate(&call.chaincode, &call.function, &call.arg_bytes())
        .await
        .map_err(explain)?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(ExitCode::SUCCESS)
}
