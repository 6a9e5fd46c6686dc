//! What the explorer shows, as plain serialisable data: each page's JSON
//! twin is exactly this, and its HTML is rendered from it. Decoding blocks
//! and transactions is pure; [`Source`] reads the ledger (blocking).

use crate::client::codes;
use crate::identity::{cert, now_unix};
use crate::ledger::{Ledger, LedgerError};
use crate::lifecycle::Definitions;
use consort_proto::{
    ChaincodeInput, ChannelConfig, CommittedBlock, Envelope, ProposalHeader,
    ProposalResponsePayload, SerializedIdentity, Transaction, TxReadWriteSet,
    TxValidationCode as Code,
};
use prost::Message;
use serde::Serialize;
use std::sync::Arc;

/// Blocks on one page of the block list.
pub const BLOCKS_PER_PAGE: u64 = 20;
/// Keys on one page of the world-state browser.
pub const KEYS_PER_PAGE: usize = 50;
/// The window of the dashboard's rates, in seconds.
pub const RATE_WINDOW_S: i64 = 300;
/// Most blocks the dashboard looks back through for its rates.
const RATE_BLOCKS: u64 = 500;
/// Days before expiry from which a certificate is flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// One transaction in a block list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxSummary {
    /// Index in the block.
    pub index: usize,
    /// Its ID (`?` when it does not decode).
    pub tx_id: String,
    /// Its validation code's name.
    pub code: String,
    /// The creator's org.
    pub creator_msp: String,
    /// The invoked chaincode.
    pub chaincode: String,
    /// The function called.
    pub function: String,
    /// The endorsing orgs.
    pub endorsers: Vec<String>,
}

/// A block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockView {
    /// Its number.
    pub number: u64,
    /// Hex SHA-256 of its header.
    pub hash: String,
    /// Hex hash of the previous block's header.
    pub previous_hash: String,
    /// When it was cut, ms since the epoch.
    pub timestamp_ms: i64,
    /// Transactions valid in it.
    pub valid: usize,
    /// Its transactions.
    pub txs: Vec<TxSummary>,
}

/// A key read, with the version seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadView {
    /// The key.
    pub key: String,
    /// `block:tx` of the version read, or `absent`.
    pub version: String,
}

/// A key written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteView {
    /// The key.
    pub key: String,
    /// The value (lossy UTF-8).
    pub value: String,
    /// Whether the write deletes the key.
    pub is_delete: bool,
}

/// One namespace's reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceView {
    /// The chaincode.
    pub namespace: String,
    /// Keys read.
    pub reads: Vec<ReadView>,
    /// Keys written.
    pub writes: Vec<WriteView>,
    /// Range scans made.
    pub range_scans: usize,
}

/// A transaction in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxView {
    /// Block and list entry.
    #[serde(flatten)]
    pub summary: TxSummary,
    /// The block it is in.
    pub block: u64,
    /// The arguments (lossy UTF-8).
    pub args: Vec<String>,
    /// Read/write set per namespace.
    pub rwsets: Vec<NamespaceView>,
    /// The chaincode event, as `name`, `payload`.
    pub event: Option<(String, String)>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn msp_of(serialized: &[u8]) -> String {
    SerializedIdentity::decode(serialized)
        .map(|i| i.msp_id)
        .unwrap_or_else(|_| "?".into())
}

/// Decodes one envelope of a block into its full view.
pub fn tx_view(block: u64, index: usize, code: i32, envelope: &[u8]) -> TxView {
    let mut view = TxView {
        summary: TxSummary {
            index,
            tx_id: "?".into(),
            code: codes::from_i32(code).as_str_name().to_owned(),
            creator_msp: "?".into(),
            chaincode: String::new(),
            function: String::new(),
            endorsers: vec![],
        },
        block,
        args: vec![],
        rwsets: vec![],
        event: None,
    };
    let Some(tx) = Envelope::decode(envelope)
        .ok()
        .and_then(|e| Transaction::decode(e.payload.as_slice()).ok())
    else {
        return view;
    };
    let header = ProposalHeader::decode(tx.header.as_slice()).unwrap_or_default();
    let input = ChaincodeInput::decode(tx.input.as_slice()).unwrap_or_default();
    view.summary.tx_id = header.tx_id;
    view.summary.creator_msp = msp_of(&header.creator);
    view.summary.chaincode = header.chaincode;
    view.summary.function = input.function;
    view.summary.endorsers = tx
        .endorsements
        .iter()
        .map(|e| msp_of(&e.endorser))
        .collect();
    view.args = input.args.iter().map(|a| text(a)).collect();
    if let Ok(prp) = ProposalResponsePayload::decode(tx.response_payload.as_slice()) {
        view.event = prp.event.map(|e| (e.name, text(&e.payload)));
        let rwset = TxReadWriteSet::decode(prp.results.as_slice()).unwrap_or_default();
        view.rwsets = rwset
            .ns_rwsets
            .into_iter()
            .map(|ns| NamespaceView {
                namespace: ns.namespace,
                reads: ns
                    .reads
                    .into_iter()
                    .map(|r| ReadView {
                        key: r.key,
                        version: r
                            .version
                            .map(|v| format!("{}:{}", v.block_num, v.tx_num))
                            .unwrap_or_else(|| "absent".into()),
                    })
                    .collect(),
                writes: ns
                    .writes
                    .into_iter()
                    .map(|w| WriteView {
                        key: w.key,
                        value: text(&w.value),
                        is_delete: w.is_delete,
                    })
                    .collect(),
                range_scans: ns.range_queries.len(),
            })
            .collect();
    }
    view
}

/// Decodes a committed block.
pub fn block_view(b: &CommittedBlock) -> BlockView {
    let block = b.block.clone().unwrap_or_default();
    let header = crate::block::decode_header(&block).unwrap_or_default();
    let txs: Vec<TxSummary> = if header.number == 0 {
        vec![]
    } else {
        block
            .data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let code = b.validation_codes.get(i).copied().unwrap_or(-1);
                tx_view(header.number, i, code, d).summary
            })
            .collect()
    };
    BlockView {
        number: header.number,
        hash: hex::encode(crate::block::block_hash(&block)),
        previous_hash: hex::encode(&header.previous_hash),
        timestamp_ms: header.timestamp_ms,
        valid: txs.iter().filter(|t| t.code == "VALID").count(),
        txs,
    }
}

/// A node of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeEntry {
    /// Its org.
    pub msp_id: String,
    /// `host:port`.
    pub endpoint: String,
    /// `peer` or `orderer`.
    pub role: &'static str,
}

/// The dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// The channel.
    pub channel: String,
    /// Blocks committed.
    pub height: u64,
    /// Committed transactions per second over the last [`RATE_WINDOW_S`].
    pub tx_per_s: f64,
    /// Valid transactions in that window.
    pub valid: usize,
    /// Invalid transactions in that window.
    pub invalid: usize,
    /// The member orgs.
    pub orgs: Vec<String>,
    /// The channel's nodes.
    pub nodes: Vec<NodeEntry>,
    /// The latest blocks, newest first.
    pub latest: Vec<BlockView>,
    /// This peer's health checks, as `/healthz` reports them.
    pub health: Option<crate::operations::health::Report>,
}

/// One page of the block list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockPage {
    /// The blocks.
    pub blocks: Vec<BlockView>,
    /// The `before` of the next (older) page.
    pub next_before: Option<u64>,
}

/// One state entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateEntry {
    /// The key.
    pub key: String,
    /// The value (lossy UTF-8).
    pub value: String,
    /// `block:tx` of its version.
    pub version: String,
}

/// One page of a chaincode's world state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatePage {
    /// The chaincode.
    pub namespace: String,
    /// The key prefix searched.
    pub prefix: String,
    /// The entries.
    pub entries: Vec<StateEntry>,
    /// The `start` of the next page.
    pub next_start: Option<String>,
}

/// One change of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Block of the change.
    pub block: u64,
    /// The transaction.
    pub tx_id: String,
    /// The value written (empty for a delete).
    pub value: String,
    /// Whether it deleted the key.
    pub is_delete: bool,
    /// The block's timestamp, ms.
    pub timestamp_ms: i64,
}

/// A key's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyHistory {
    /// The chaincode.
    pub namespace: String,
    /// The key.
    pub key: String,
    /// Its changes.
    pub entries: Vec<HistoryEntry>,
}

/// One certificate of an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertView {
    /// `ca` or `tls_ca`.
    pub kind: &'static str,
    /// Its subject CN.
    pub subject: String,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
    /// Whole days left.
    pub days_left: i64,
    /// Fewer than [`EXPIRY_WARNING_DAYS`] left.
    pub warning: bool,
}

/// An org of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgView {
    /// MSP ID.
    pub msp_id: String,
    /// Its CA certificates.
    pub certs: Vec<CertView>,
    /// Revoked certificate serials.
    pub revoked: usize,
}

/// Whether a certificate expiring at `not_after` is flagged at `now`, and
/// the whole days left.
pub fn expiry(not_after: i64, now: i64) -> (i64, bool) {
    let days = (not_after - now).div_euclid(86_400);
    (days, days < EXPIRY_WARNING_DAYS)
}

/// The orgs of a channel config with their CA certificates' expiry.
pub fn orgs(config: &ChannelConfig, now: i64) -> Vec<OrgView> {
    config
        .orgs
        .iter()
        .map(|o| OrgView {
            msp_id: o.msp_id.clone(),
            revoked: o.revoked_serials.len(),
            certs: o
                .ca_certs
                .iter()
                .map(|d| ("ca", d))
                .chain(o.tls_ca_certs.iter().map(|d| ("tls_ca", d)))
                .filter_map(|(kind, der)| {
                    let info = cert::parse(der).ok()?;
                    let (days_left, warning) = expiry(info.not_after, now);
                    Some(CertView {
                        kind,
                        subject: info.subject_cn,
                        not_after: info.not_after,
                        days_left,
                        warning,
                    })
                })
                .collect(),
        })
        .collect()
}

/// A chaincode definition in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaincodeView {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its sequence (1 at genesis, one more per upgrade).
    pub sequence: u64,
    /// Its endorsement policy.
    pub policy: String,
    /// `in process`, or the external service's address.
    pub runs: String,
    /// The orgs that approved the definition in force (none for a genesis
    /// definition).
    pub approved: Vec<String>,
    /// The orgs that approved a next sequence, not yet committed.
    pub approved_next: Vec<String>,
}

/// The orgs with an approval of `name` at `sequence` on the ledger.
fn approvals(ledger: &Ledger, name: &str, sequence: u64) -> Result<Vec<String>, LedgerError> {
    let prefix = crate::lifecycle::definition::approval_key(name, sequence, "");
    Ok(ledger
        .range(
            crate::lifecycle::NAMESPACE,
            &prefix,
            &prefix_end(&prefix),
            1024,
        )?
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_owned))
        .collect())
}

/// What the explorer reads: the peer's ledger, the channel config and the
/// chaincode definitions in force.
#[derive(Debug, Clone)]
pub struct Source {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// The channel config (genesis).
    pub config: Arc<ChannelConfig>,
    /// The definitions the committer keeps current.
    pub definitions: Definitions,
    /// This peer's health checks, shown on the dashboard.
    pub health: Option<crate::operations::health::HealthSources>,
}

impl Source {
    /// A block, if committed.
    pub fn block(&self, n: u64) -> Result<Option<BlockView>, LedgerError> {
        Ok(self.ledger.block(n)?.map(|b| block_view(&b)))
    }

    /// Blocks below `before` (default: the height), newest first.
    pub fn blocks(&self, before: Option<u64>) -> Result<BlockPage, LedgerError> {
        let top = before.unwrap_or(u64::MAX).min(self.ledger.height());
        let low = top.saturating_sub(BLOCKS_PER_PAGE);
        let mut blocks = Vec::new();
        for n in (low..top).rev() {
            if let Some(b) = self.block(n)? {
                blocks.push(b);
            }
        }
        Ok(BlockPage {
            blocks,
            next_before: (low > 0).then_some(low),
        })
    }

    /// A committed transaction, by ID.
    pub fn tx(&self, tx_id: &str) -> Result<Option<TxView>, LedgerError> {
        let Some(rec) = self.ledger.tx(tx_id)? else {
            return Ok(None);
        };
        let Some(b) = self.ledger.block(rec.block)? else {
            return Ok(None);
        };
        let block = b.block.unwrap_or_default();
        let index = rec.tx_num as usize;
        Ok(block
            .data
            .get(index)
            .map(|env| tx_view(rec.block, index, rec.code, env)))
    }

    /// The dashboard at `now` (Unix seconds).
    pub fn dashboard(&self, now: i64) -> Result<Dashboard, LedgerError> {
        let height = self.ledger.height();
        let since_ms = (now - RATE_WINDOW_S) * 1000;
        let (mut valid, mut invalid) = (0, 0);
        let mut latest = Vec::new();
        // Only the latest blocks are decoded in full; the rest of the
        // window is counted from headers and validation codes.
        for n in (height.saturating_sub(RATE_BLOCKS).max(1)..height).rev() {
            let Some(b) = self.ledger.block(n)? else {
                break;
            };
            let block = b.block.clone().unwrap_or_default();
            let ts = crate::block::decode_header(&block)
                .map(|h| h.timestamp_ms)
                .unwrap_or_default();
            let recent = ts >= since_ms;
            if recent {
                let ok = Code::Valid as i32;
                let v = b.validation_codes.iter().filter(|c| **c == ok).count();
                valid += v;
                invalid += b.validation_codes.len() - v;
            }
            if latest.len() < 10 {
                latest.push(block_view(&b));
            } else if !recent {
                break;
            }
        }
        let config = &self.config;
        let nodes = config
            .orderers
            .iter()
            .map(|o| NodeEntry {
                msp_id: o.msp_id.clone(),
                endpoint: o.endpoint.clone(),
                role: "orderer",
            })
            .chain(config.peers.iter().map(|p| NodeEntry {
                msp_id: p.msp_id.clone(),
                endpoint: p.endpoint.clone(),
                role: "peer",
            }))
            .collect();
        Ok(Dashboard {
            channel: config.channel_id.clone(),
            height,
            tx_per_s: (valid + invalid) as f64 / RATE_WINDOW_S as f64,
            valid,
            invalid,
            orgs: config.orgs.iter().map(|o| o.msp_id.clone()).collect(),
            nodes,
            latest,
            health: None,
        })
    }

    /// A page of `namespace`'s keys starting with `prefix`, from `start`.
    pub fn state(
        &self,
        namespace: &str,
        prefix: &str,
        start: Option<&str>,
    ) -> Result<StatePage, LedgerError> {
        state_page(&self.ledger, namespace, prefix, start)
    }

    /// A key's history.
    pub fn history(&self, namespace: &str, key: &str) -> Result<KeyHistory, LedgerError> {
        Ok(KeyHistory {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            entries: self
                .ledger
                .history(namespace, key)?
                .into_iter()
                .map(|(v, r)| HistoryEntry {
                    block: v.block_num,
                    tx_id: r.tx_id,
                    value: text(&r.value),
                    is_delete: r.is_delete,
                    timestamp_ms: r.timestamp_ms,
                })
                .collect(),
        })
    }

    /// The chaincode definitions in force, with their approvals.
    pub fn chaincodes(&self) -> Result<Vec<ChaincodeView>, LedgerError> {
        self.definitions
            .current()
            .definitions()
            .values()
            .map(|d| {
                Ok(ChaincodeView {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    sequence: d.sequence,
                    policy: d.endorsement_policy.clone(),
                    runs: d
                        .external
                        .as_ref()
                        .map(|e| e.address.clone())
                        .unwrap_or_else(|| "in process".into()),
                    approved: approvals(&self.ledger, &d.name, d.sequence)?,
                    approved_next: approvals(&self.ledger, &d.name, d.sequence + 1)?,
                })
            })
            .collect()
    }

    /// The orgs with their certificates' expiry, now.
    pub fn orgs(&self) -> Vec<OrgView> {
        orgs(&self.config, now_unix())
    }
}

/// A page of `namespace`'s keys in `ledger` starting with `prefix`, from
/// `start`: one bounded range read.
pub fn state_page(
    ledger: &Ledger,
    namespace: &str,
    prefix: &str,
    start: Option<&str>,
) -> Result<StatePage, LedgerError> {
    let from = start.filter(|s| s.starts_with(prefix)).unwrap_or(prefix);
    let end = prefix_end(prefix);
    let mut got = ledger.range(namespace, from, &end, KEYS_PER_PAGE + 1)?;
    let next_start = (got.len() > KEYS_PER_PAGE).then(|| got[KEYS_PER_PAGE].0.clone());
    got.truncate(KEYS_PER_PAGE);
    Ok(StatePage {
        namespace: namespace.to_owned(),
        prefix: prefix.to_owned(),
        entries: got
            .into_iter()
            .map(|(key, v)| StateEntry {
                key,
                value: text(&v.value),
                version: format!("{}:{}", v.version.block_num, v.version.tx_num),
            })
            .collect(),
        next_start,
    })
}

/// The first key after every key starting with `prefix` ("" for no end).
pub fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_bound_the_keys_with_the_prefix() {
        assert_eq!(prefix_end("asset"), "asseu");
        assert_eq!(prefix_end(""), "");
        assert!("asset9" < prefix_end("asset").as_str());
    }

    #[test]
    fn certificates_are_flagged_inside_thirty_days() {
        let now = 1_000_000_000;
        assert_eq!(expiry(now + 40 * 86_400, now), (40, false));
        assert_eq!(expiry(now + 29 * 86_400 + 5, now), (29, true));
        assert_eq!(expiry(now - 1, now), (-1, true));
    }

    #[test]
    fn orgs_list_their_ca_certificates() {
        let c = crate::testkit::Consortium::new(2);
        let v = orgs(&c.config, now_unix());
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].msp_id, "Org1MSP");
        assert!(!v[0].certs.is_empty());
        assert!(v[0].certs.iter().all(|c| !c.warning && c.days_left > 30));
    }

    /// A ledger whose block 0 writes `writes` (namespace, key, value).
    fn ledger_with(dir: &std::path::Path, writes: &[(&str, String, &str)]) -> Ledger {
        use crate::ledger::{BlockUpdate, StateWrite};
        let ledger = Ledger::open(dir).unwrap();
        let b = crate::block::build("ch", 0, &[0; 32], 1, vec![]);
        ledger
            .commit(&BlockUpdate {
                hash: crate::block::block_hash(&b),
                number: 0,
                timestamp_ms: 1,
                block: CommittedBlock {
                    block: Some(b),
                    validation_codes: vec![],
                },
                writes: writes
                    .iter()
                    .map(|(ns, key, value)| StateWrite {
                        namespace: (*ns).into(),
                        key: key.clone(),
                        value: Some(value.as_bytes().to_vec()),
                        tx_num: 0,
                        tx_id: "t".into(),
                    })
                    .collect(),
                txs: vec![],
            })
            .unwrap();
        ledger
    }

    #[test]
    fn state_pages_stay_inside_the_prefix_and_chain_by_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut writes: Vec<(&str, String, &str)> =
            (0..60).map(|i| ("cc", format!("k{i:02}"), "v")).collect();
        writes.push(("cc", "l0".into(), "other"));
        writes.push(("dd", "k00".into(), "other namespace"));
        let ledger = ledger_with(dir.path(), &writes);
        let first = state_page(&ledger, "cc", "k", None).unwrap();
        assert_eq!(first.entries.len(), KEYS_PER_PAGE);
        assert_eq!(first.next_start.as_deref(), Some("k50"));
        let second = state_page(&ledger, "cc", "k", first.next_start.as_deref()).unwrap();
        assert_eq!(second.entries.len(), 10);
        assert_eq!(second.entries[9].key, "k59");
        assert_eq!(second.next_start, None);
        // A start outside the prefix is ignored.
        let wild = state_page(&ledger, "cc", "k", Some("a")).unwrap();
        assert_eq!(wild.entries[0].key, "k00");
    }

    #[test]
    fn approvals_are_the_orgs_with_an_approval_key_of_that_sequence() {
        use crate::lifecycle::definition::approval_key;
        let dir = tempfile::tempdir().unwrap();
        let ns = crate::lifecycle::NAMESPACE;
        let ledger = ledger_with(
            dir.path(),
            &[
                (ns, approval_key("token", 2, "Org1MSP"), "{}"),
                (ns, approval_key("token", 2, "Org3MSP"), "{}"),
                (ns, approval_key("token", 12, "Org2MSP"), "{}"),
                (ns, approval_key("tokens", 2, "Org2MSP"), "{}"),
            ],
        );
        assert_eq!(
            approvals(&ledger, "token", 2).unwrap(),
            ["Org1MSP", "Org3MSP"]
        );
        assert!(approvals(&ledger, "token", 1).unwrap().is_empty());
    }

    #[test]
    fn an_undecodable_envelope_is_shown_as_such() {
        let v = tx_view(3, 0, 0, b"junk");
        assert_eq!(v.summary.tx_id, "?");
        assert_eq!(v.summary.code, "VALID");
    }
}
