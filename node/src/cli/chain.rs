//! `consort status`, `consort block` and `consort tx`: read a peer's committed chain through its gateway.

use super::{connect, explain, Conn};
use crate::init_logging;
use anyhow::Result;
use clap::Subcommand;
use consort::validation::codes;
use consort_proto::{Envelope, ProposalHeader, Transaction};
use prost::Message;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum BlockCmd {
    /// Print one block with its transactions and validation codes.
    Get {
        /// Block number.
        number: u64,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand)]
pub(crate) enum TxCmd {
    /// Print one transaction.
    Get {
        /// Transaction ID.
        tx_id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// The indent of a transaction's details under its block or its header lines.
const DETAIL_INDENT: &str = "          ";

/// `consort status`: the gateway peer's height and hashes.
pub(crate) async fn status(conn: Conn) -> Result<ExitCode> {
    init_logging("warn", false);
    let s = connect(&conn).await?.status().await.map_err(explain)?;
    println!("peer {} ({})", s.name, s.msp_id);
    println!("height      {}", s.height);
    println!("last block  {}", hex::encode(&s.last_block_hash));
    println!("state hash  {}", hex::encode(&s.state_hash));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn block(cmd: BlockCmd) -> Result<ExitCode> {
    match cmd {
        BlockCmd::Get { number, conn } => get_block(number, &conn).await,
    }
}

pub(crate) async fn tx(cmd: TxCmd) -> Result<ExitCode> {
    match cmd {
        TxCmd::Get { tx_id, conn } => get_tx(tx_id, &conn).await,
    }
}

/// A gateway's refusal as the user sees it: its message.
fn refused(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", s.message())
}

/// `consort block get`.
async fn get_block(number: u64, conn: &Conn) -> Result<ExitCode> {
    init_logging("warn", false);
    let client = connect(conn).await?;
    let b = client
        .gateway()
        .get_block(consort_proto::GetBlockRequest { number })
        .await
        .map_err(refused)?
        .into_inner();
    print_block(&b)?;
    Ok(ExitCode::SUCCESS)
}

/// `consort tx get`.
async fn get_tx(tx_id: String, conn: &Conn) -> Result<ExitCode> {
    init_logging("warn", false);
    let client = connect(conn).await?;
    let t = client
        .gateway()
        .get_transaction(consort_proto::GetTransactionRequest { tx_id })
        .await
        .map_err(refused)?
        .into_inner();
    let code = codes::from_i32(t.code);
    println!("tx        {}", t.tx_id);
    println!("block     {} (tx #{})", t.block_number, t.tx_number);
    println!(
        "code      {} ({})",
        code.as_str_name(),
        codes::describe(code)
    );
    print_envelope(&t.envelope, DETAIL_INDENT);
    Ok(ExitCode::SUCCESS)
}

fn print_envelope(raw: &[u8], indent: &str) {
    let Ok(env) = Envelope::decode(raw) else {
        println!("{indent}(undecodable envelope, {} bytes)", raw.len());
        return;
    };
    let Ok(tx) = Transaction::decode(env.payload.as_slice()) else {
        println!("{indent}(payload is not a transaction)");
        return;
    };
    let header = ProposalHeader::decode(tx.header.as_slice()).unwrap_or_default();
    let input = consort_proto::ChaincodeInput::decode(tx.input.as_slice()).unwrap_or_default();
    let creator =
        consort_proto::SerializedIdentity::decode(header.creator.as_slice()).unwrap_or_default();
    let args: Vec<String> = input
        .args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    println!(
        "{indent}creator {} | {}.{}({})",
        creator.msp_id,
        header.chaincode,
        input.function,
        args.join(", ")
    );
    println!("{indent}endorsements {}", tx.endorsements.len());
}

fn print_block(b: &consort_proto::CommittedBlock) -> Result<()> {
    let block = b.block.clone().unwrap_or_default();
    let header = consort::block::decode_header(&block)?;
    println!("block     {}", header.number);
    println!(
        "hash      {}",
        hex::encode(consort::block::block_hash(&block))
    );
    println!("previous  {}", hex::encode(&header.previous_hash));
    println!("data hash {}", hex::encode(&header.data_hash));
    println!("channel   {}", header.channel_id);
    if header.number == 0 {
        println!("genesis block (channel config)");
        return Ok(());
    }
    for (i, d) in block.data.iter().enumerate() {
        let code = codes::from_i32(b.validation_codes.get(i).copied().unwrap_or(254));
        println!("tx {i:>3}    {}  {}", tx_id_of(d), code.as_str_name());
        print_envelope(d, DETAIL_INDENT);
    }
    Ok(())
}

/// The transaction ID in an encoded envelope, `?` when it has none.
fn tx_id_of(envelope: &[u8]) -> String {
    Envelope::decode(envelope)
        .ok()
        .and_then(|e| Transaction::decode(e.payload.as_slice()).ok())
        .and_then(|t| ProposalHeader::decode(t.header.as_slice()).ok())
        .map(|h| h.tx_id)
        .unwrap_or_else(|| "?".into())
}
