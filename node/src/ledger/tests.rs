use super::*;
use crate::block;
use crate::testkit::version;
use consort_proto::TxValidationCode as Code;
use std::path::PathBuf;

/// A ledger directory that can be opened, closed and reopened.
struct Dir {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Dir {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger");
        Dir { _tmp: tmp, path }
    }

    fn open(&self) -> Ledger {
        Ledger::open(&self.path).unwrap()
    }
}

fn put(ns: &str, key: &str, value: &str, tx_num: u64, tx_id: &str) -> StateWrite {
    StateWrite {
        namespace: ns.into(),
        key: key.into(),
        value: Some(value.as_bytes().to_vec()),
        tx_num,
        tx_id: tx_id.into(),
    }
}

fn del(ns: &str, key: &str, tx_num: u64, tx_id: &str) -> StateWrite {
    StateWrite {
        value: None,
        ..put(ns, key, "", tx_num, tx_id)
    }
}

/// The update for block `number` (one data item per indexed transaction),
/// linked to `prev`, with the given writes and indexed transactions.
fn update(
    number: u64,
    prev: &Hash,
    writes: Vec<StateWrite>,
    txs: &[(&str, u64, Code)],
) -> BlockUpdate {
    let data = txs
        .iter()
        .map(|(id, _, _)| id.as_bytes().to_vec())
        .collect();
    let b = block::build("ch", number, prev, 100 + number as i64, data);
    BlockUpdate {
        hash: block::block_hash(&b),
        number,
        timestamp_ms: 100 + number as i64,
        block: CommittedBlock {
            block: Some(b),
            validation_codes: txs.iter().map(|(_, _, c)| *c as i32).collect(),
        },
        writes,
        txs: txs
            .iter()
            .map(|(id, n, c)| (id.to_string(), *n, *c))
            .collect(),
    }
}

/// One block's writes and indexed transactions `(ID, index, code)`.
type Spec<'a> = (Vec<StateWrite>, Vec<(&'a str, u64, Code)>);

/// Everything observable about a ledger's tip and state.
type Snapshot = (u64, Option<Hash>, Hash, Vec<RawEntry>);

/// Commits `updates` in order, each linked to the previous one's hash.
fn commit_chain(ledger: &Ledger, updates: Vec<Spec<'_>>) -> Vec<BlockUpdate> {
    let mut prev = ledger.last_hash().unwrap().unwrap_or([0; 32]);
    let mut out = Vec::new();
    for (writes, txs) in updates {
        let u = update(ledger.height(), &prev, writes, &txs);
        ledger.commit(&u).unwrap();
        prev = u.hash;
        out.push(u);
    }
    out
}

fn state_value(ledger: &Ledger, ns: &str, key: &str) -> Option<(Version, String)> {
    ledger
        .get_state(ns, key)
        .unwrap()
        .map(|v| (v.version, String::from_utf8(v.value).unwrap()))
}

/// The ledger's snapshot, for before/after comparisons.
fn snapshot(ledger: &Ledger) -> Snapshot {
    (
        ledger.height(),
        ledger.last_hash().unwrap(),
        ledger.state_hash().unwrap(),
        ledger.raw_state().unwrap(),
    )
}

#[test]
fn committed_blocks_survive_reopen() {
    let dir = Dir::new();
    let blocks = {
        let ledger = dir.open();
        assert_eq!(ledger.height(), 0);
        assert_eq!(ledger.last_hash().unwrap(), None);
        assert!(ledger.block(0).unwrap().is_none());
        commit_chain(
            &ledger,
            vec![
                (vec![], vec![]),
                (
                    vec![
                        put("token", "a", "1", 0, "t1"),
                        put("token", "b", "2", 1, "t2"),
                    ],
                    vec![
                        ("t1", 0, Code::Valid),
                        ("t2", 1, Code::Valid),
                        ("t3", 2, Code::MvccReadConflict),
                    ],
                ),
                (
                    vec![del("token", "a", 0, "t4"), put("token", "b", "3", 1, "t5")],
                    vec![("t4", 0, Code::Valid), ("t5", 1, Code::Valid)],
                ),
                (
                    vec![put("token", "a", "4", 0, "t6")],
                    vec![("t6", 0, Code::Valid)],
                ),
            ],
        )
    };

    let ledger = dir.open();
    assert_eq!(ledger.height(), 4);
    assert_eq!(ledger.last_hash().unwrap(), Some(blocks[3].hash));
    for u in &blocks {
        assert_eq!(ledger.block(u.number).unwrap().as_ref(), Some(&u.block));
    }
    assert!(ledger.block(4).unwrap().is_none());

    assert_eq!(
        state_value(&ledger, "token", "a"),
        Some((version(3, 0), "4".into()))
    );
    assert_eq!(
        state_value(&ledger, "token", "b"),
        Some((version(2, 1), "3".into()))
    );
    assert_eq!(
        ledger.get_version("token", "b").unwrap(),
        Some(version(2, 1))
    );
    assert_eq!(state_value(&ledger, "token", "c"), None);
    assert_eq!(state_value(&ledger, "other", "a"), None);
    // The batched reads validation uses answer as the single ones do.
    assert_eq!(
        ledger
            .get_versions(&[
                ("token", "b"),
                ("token", "c"),
                ("token", "a"),
                ("other", "a")
            ])
            .unwrap(),
        vec![Some(version(2, 1)), None, Some(version(3, 0)), None]
    );
    assert_eq!(ledger.get_version("token", "c").unwrap(), None);
    assert_eq!(
        ledger.txs_indexed(&["t5", "nope", "t1"]).unwrap(),
        vec![true, false, true]
    );

    let history = ledger.history("token", "a").unwrap();
    let expected = vec![
        (
            version(1, 0),
            HistoryRecord {
                tx_id: "t1".into(),
                is_delete: false,
                value: b"1".to_vec(),
                timestamp_ms: 101,
            },
        ),
        (
            version(2, 0),
            HistoryRecord {
                tx_id: "t4".into(),
                is_delete: true,
                value: vec![],
                timestamp_ms: 102,
            },
        ),
        (
            version(3, 0),
            HistoryRecord {
                tx_id: "t6".into(),
                is_delete: false,
                value: b"4".to_vec(),
                timestamp_ms: 103,
            },
        ),
    ];
    assert_eq!(history, expected);
    let b_history: Vec<Version> = ledger
        .history("token", "b")
        .unwrap()
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(b_history, vec![version(1, 1), version(2, 1)]);
    assert!(ledger.history("token", "c").unwrap().is_empty());

    assert_eq!(
        ledger.tx("t3").unwrap(),
        Some(TxRecord {
            block: 1,
            tx_num: 2,
            code: Code::MvccReadConflict as i32
        })
    );
    assert_eq!(
        ledger.tx("t5").unwrap(),
        Some(TxRecord {
            block: 2,
            tx_num: 1,
            code: Code::Valid as i32
        })
    );
    assert_eq!(ledger.tx("t7").unwrap(), None);
}

#[test]
fn out_of_order_commit_is_refused_and_changes_nothing() {
    let dir = Dir::new();
    let ledger = dir.open();
    let blocks = commit_chain(
        &ledger,
        vec![
            (vec![], vec![]),
            (
                vec![put("token", "a", "1", 0, "t1")],
                vec![("t1", 0, Code::Valid)],
            ),
        ],
    );
    let before = snapshot(&ledger);

    let ahead = update(
        3,
        &blocks[1].hash,
        vec![put("token", "a", "9", 0, "t9")],
        &[("t9", 0, Code::Valid)],
    );
    match ledger.commit(&ahead) {
        Err(LedgerError::OutOfOrder { height: 2, got: 3 }) => {}
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    let again = update(
        1,
        &blocks[0].hash,
        vec![put("token", "a", "8", 0, "t8")],
        &[("t8", 0, Code::Valid)],
    );
    match ledger.commit(&again) {
        Err(LedgerError::OutOfOrder { height: 2, got: 1 }) => {}
        other => panic!("expected OutOfOrder, got {other:?}"),
    }

    let unchanged = |l: &Ledger| {
        assert_eq!(snapshot(l), before);
        assert!(l.block(3).unwrap().is_none());
        assert_eq!(l.block(1).unwrap().as_ref(), Some(&blocks[1].block));
        assert_eq!(l.tx("t9").unwrap(), None);
        assert_eq!(l.tx("t8").unwrap(), None);
        assert_eq!(l.history("token", "a").unwrap().len(), 1);
    };
    unchanged(&ledger);
    drop(ledger);
    unchanged(&dir.open());
}

#[test]
fn batch_built_but_not_written_leaves_nothing_after_reopen() {
    let dir = Dir::new();
    let (blocks, before) = {
        let ledger = dir.open();
        let blocks = commit_chain(
            &ledger,
            vec![
                (vec![], vec![]),
                (
                    vec![put("token", "a", "1", 0, "t1")],
                    vec![("t1", 0, Code::Valid)],
                ),
            ],
        );
        let before = snapshot(&ledger);
        // The crash: block 2's batch is built, never written.
        let next = update(
            2,
            &blocks[1].hash,
            vec![del("token", "a", 0, "t2"), put("token", "b", "2", 1, "t3")],
            &[("t2", 0, Code::Valid), ("t3", 1, Code::Valid)],
        );
        let batch = ledger.batch_for(&next).unwrap();
        assert!(!batch.is_empty());
        drop(batch);
        assert_eq!(snapshot(&ledger), before);
        (blocks, before)
    };

    let ledger = dir.open();
    assert_eq!(snapshot(&ledger), before);
    assert_eq!(ledger.height(), 2);
    assert_eq!(ledger.last_hash().unwrap(), Some(blocks[1].hash));
    assert!(ledger.block(2).unwrap().is_none());
    assert_eq!(ledger.tx("t2").unwrap(), None);
    assert_eq!(ledger.tx("t3").unwrap(), None);
    assert_eq!(ledger.history("token", "a").unwrap().len(), 1);
    assert!(ledger.history("token", "b").unwrap().is_empty());
    assert_eq!(
        state_value(&ledger, "token", "a"),
        Some((version(1, 0), "1".into()))
    );
    // The block can still be committed after the restart.
    commit_chain(
        &ledger,
        vec![(
            vec![del("token", "a", 0, "t2")],
            vec![("t2", 0, Code::Valid)],
        )],
    );
    assert_eq!(ledger.height(), 3);
    assert_eq!(state_value(&ledger, "token", "a"), None);
}

#[test]
fn duplicate_tx_ids_index_only_the_first() {
    let (_dir, ledger) = crate::testkit::temp_ledger();
    commit_chain(
        &ledger,
        vec![
            (vec![], vec![]),
            (
                vec![put("token", "a", "1", 0, "dup")],
                vec![
                    ("dup", 0, Code::Valid),
                    ("dup", 1, Code::DuplicateTxid),
                    ("other", 2, Code::EndorsementPolicyFailure),
                ],
            ),
            (vec![], vec![("dup", 0, Code::BadPayload)]),
        ],
    );
    assert_eq!(
        ledger.tx("dup").unwrap(),
        Some(TxRecord {
            block: 1,
            tx_num: 0,
            code: Code::Valid as i32
        })
    );
    assert_eq!(
        ledger.tx("other").unwrap(),
        Some(TxRecord {
            block: 1,
            tx_num: 2,
            code: Code::EndorsementPolicyFailure as i32
        })
    );
}

#[test]
fn state_hash_depends_only_on_state() {
    let (_d1, a) = crate::testkit::temp_ledger();
    let (_d2, b) = crate::testkit::temp_ledger();
    let empty = a.state_hash().unwrap();
    assert_eq!(empty, b.state_hash().unwrap());
    let same = || -> Vec<Spec<'static>> {
        vec![
            (vec![], vec![]),
            (
                vec![
                    put("token", "a", "1", 0, "t1"),
                    put("token", "b", "2", 1, "t2"),
                ],
                vec![("t1", 0, Code::Valid), ("t2", 1, Code::Valid)],
            ),
        ]
    };
    commit_chain(&a, same());
    commit_chain(&b, same());
    let h = a.state_hash().unwrap();
    assert_eq!(h, b.state_hash().unwrap());
    assert_ne!(h, empty);

    commit_chain(
        &a,
        vec![(
            vec![put("token", "b", "3", 0, "t3")],
            vec![("t3", 0, Code::Valid)],
        )],
    );
    commit_chain(
        &b,
        vec![(
            vec![put("token", "b", "4", 0, "t3")],
            vec![("t3", 0, Code::Valid)],
        )],
    );
    assert_ne!(a.state_hash().unwrap(), b.state_hash().unwrap());

    // Same value, different version: still a different state.
    let (_d3, c) = crate::testkit::temp_ledger();
    let (_d4, d) = crate::testkit::temp_ledger();
    commit_chain(
        &c,
        vec![(
            vec![put("token", "k", "v", 0, "x")],
            vec![("x", 0, Code::Valid)],
        )],
    );
    commit_chain(
        &d,
        vec![(
            vec![put("token", "k", "v", 1, "x")],
            vec![("y", 0, Code::BadPayload), ("x", 1, Code::Valid)],
        )],
    );
    assert_ne!(c.state_hash().unwrap(), d.state_hash().unwrap());
}

#[test]
fn scan_namespace_returns_only_its_namespace() {
    let (_dir, ledger) = crate::testkit::temp_ledger();
    commit_chain(
        &ledger,
        vec![(
            vec![
                put("token", "b", "tb", 0, "t0"),
                put("tok", "a", "ta", 0, "t0"),
                put("token2", "a", "t2a", 0, "t0"),
                put("a", "z", "az", 0, "t0"),
                put("token", "a", "token-a", 1, "t1"),
                put("token", "a/b", "token-ab", 1, "t1"),
            ],
            vec![("t0", 0, Code::Valid), ("t1", 1, Code::Valid)],
        )],
    );
    let scan = |ns: &str| -> Vec<(String, Version, String)> {
        ledger
            .scan_namespace(ns)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.version, String::from_utf8(v.value).unwrap()))
            .collect()
    };
    assert_eq!(
        scan("token"),
        vec![
            ("a".into(), version(0, 1), "token-a".into()),
            ("a/b".into(), version(0, 1), "token-ab".into()),
            ("b".into(), version(0, 0), "tb".into()),
        ]
    );
    assert_eq!(scan("tok"), vec![("a".into(), version(0, 0), "ta".into())]);
    assert_eq!(
        scan("token2"),
        vec![("a".into(), version(0, 0), "t2a".into())]
    );
    assert!(scan("to").is_empty());
    assert!(scan("").is_empty());
}

#[test]
fn range_is_bounded_by_start_end_limit_and_namespace() {
    let (_dir, ledger) = crate::testkit::temp_ledger();
    commit_chain(
        &ledger,
        vec![(
            ["a", "b", "b1", "c", "d"]
                .iter()
                .map(|k| put("token", k, k, 0, "t0"))
                .chain([
                    put("token2", "a", "x", 0, "t0"),
                    put("tok", "z", "x", 0, "t0"),
                ])
                .collect(),
            vec![("t0", 0, Code::Valid)],
        )],
    );
    let keys = |start: &str, end: &str, limit: usize| -> Vec<String> {
        ledger
            .range("token", start, end, limit)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                assert_eq!(v.value, k.as_bytes());
                assert_eq!(v.version, version(0, 0));
                k
            })
            .collect()
    };
    assert_eq!(keys("", "", usize::MAX), ["a", "b", "b1", "c", "d"]);
    assert_eq!(keys("b", "c", usize::MAX), ["b", "b1"]);
    assert_eq!(keys("b0", "", usize::MAX), ["b1", "c", "d"]);
    assert_eq!(keys("", "", 2), ["a", "b"]);
    assert_eq!(keys("c", "", 10), ["c", "d"]);
    assert!(keys("a", "", 0).is_empty());
    assert!(keys("e", "", usize::MAX).is_empty());
    assert!(keys("c", "b", usize::MAX).is_empty());
}

#[test]
fn a_new_ledger_records_its_format_and_reopens() {
    let dir = Dir::new();
    {
        let l = dir.open();
        let raw = l.db.get(crate::store_format::FORMAT_KEY).unwrap().unwrap();
        assert_eq!(raw, LEDGER_FORMAT.to_be_bytes());
    }
    let l = dir.open();
    assert_eq!(l.height(), 0);
}

#[test]
fn a_ledger_of_another_format_is_refused_at_open() {
    let dir = Dir::new();
    {
        let l = dir.open();
        l.db.put(crate::store_format::FORMAT_KEY, 9u32.to_be_bytes())
            .unwrap();
    }
    let e = Ledger::open(&dir.path).unwrap_err();
    assert!(matches!(e, LedgerError::Format(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("ledger"), "{msg}");
    assert!(msg.contains("format 9"), "{msg}");
    assert!(
        msg.contains(&format!("reads format {LEDGER_FORMAT}")),
        "{msg}"
    );
    assert!(
        msg.contains("rebuilds it from the ordering service"),
        "{msg}"
    );
}

#[test]
fn an_unversioned_ledger_with_records_is_refused_as_format_0() {
    let dir = Dir::new();
    {
        let l = dir.open();
        l.db.delete(crate::store_format::FORMAT_KEY).unwrap();
        l.db.put_cf(l.cf(CF_META), META_HEIGHT, 1u64.to_be_bytes())
            .unwrap();
    }
    let msg = Ledger::open(&dir.path).unwrap_err().to_string();
    assert!(msg.contains("format 0"), "{msg}");
}
