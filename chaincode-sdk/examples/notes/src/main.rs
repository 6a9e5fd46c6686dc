//! Runs the notes chaincode as an external chaincode service. Configured by
//! `CHAINCODE_LISTEN`, `CHAINCODE_TLS_CERT`, `CHAINCODE_TLS_KEY` and
//! `CHAINCODE_CLIENT_CA_CERTS`.

use std::process::ExitCode;

use chaincode_sdk::{serve, ServeConfig};
use notes_chaincode::Notes;

#[tokio::main]
async fn main() -> ExitCode {
    let served = match ServeConfig::from_env() {
        Ok(config) => serve(Notes, config).await,
        Err(e) => Err(e),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notes chaincode: {e}");
            ExitCode::FAILURE
        }
    }
}
