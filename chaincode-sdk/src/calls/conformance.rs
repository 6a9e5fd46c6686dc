//! One table of chaincode-call cases that every network must pass:
//! [`MockStub`](crate::MockStub) and the peer's simulator run the same
//! [`cases`] with the same [`Script`] chaincode installed as `a`, `b` and
//! `c`. Built for tests only (the `conformance` feature).
//!
//! A [`Script`] invocation runs its arguments as steps, in order, and
//! returns the output of each, joined by `,`:
//!
//! | step | does | output |
//! |---|---|---|
//! | `put K V` | writes `V` under `K` | `ok` |
//! | `del K` | deletes `K` | `ok` |
//! | `get K` | reads `K` | the value, or `-` |
//! | `prefix P` | scans the keys starting with `P` | the keys, joined by `+` |
//! | `call C P` | calls chaincode `C` with the steps of program `P` | the callee's output |
//! | `try C P` | as `call`, recovering from a failure | the output, or `err: ` and the error |
//! | `event N V` | sets event `N` with payload `V` | `ok` |
//! | `ctx` | — | tx id, creator, timestamp, transient keys and arguments count |
//! | `fail M` | fails with business error `M` | — |
//!
//! A program is steps separated by ` ; `; ` ;; ` in a step becomes ` ; `
//! in the callee's program, so `call b put k v ; try c put x y ;; fail no`
//! gives `b` the steps `put k v` and `try c put x y ; fail no`.

use std::sync::Arc;

use crate::calls::Event;
use crate::{Chaincode, ChaincodeError, ChaincodeStub};

/// The names the [`Script`] chaincode must be installed under.
pub const CHAINCODES: [&str; 3] = ["a", "b", "c"];

/// The chaincode every case runs: see the module's table of steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Script;

/// The callee's steps of a program.
pub fn steps(program: &str) -> Vec<Vec<u8>> {
    program
        .split(" ; ")
        .map(|step| step.replace(";;", ";").into_bytes())
        .collect()
}

impl Script {
    fn step(stub: &mut dyn ChaincodeStub, step: &str) -> Result<String, ChaincodeError> {
        let words: Vec<&str> = step.split(' ').collect();
        let rest = |from: usize| words.get(from..).unwrap_or_default().join(" ");
        match words.as_slice() {
            ["put", key, value] => stub.put_state(key, value.as_bytes()).map(|()| "ok".into()),
            ["del", key] => stub.del_state(key).map(|()| "ok".into()),
            ["get", key] => Ok(match stub.get_state(key)? {
                Some(value) => String::from_utf8_lossy(&value).into_owned(),
                None => "-".to_owned(),
            }),
            ["prefix", prefix] => {
                let keys: Vec<String> = stub
                    .get_state_by_prefix(prefix)?
                    .into_iter()
                    .map(|kv| kv.key)
                    .collect();
                Ok(keys.join("+"))
            }
            ["call", chaincode, ..] => stub
                .invoke_chaincode(chaincode, "run", &steps(&rest(2)))
                .map(|out| String::from_utf8_lossy(&out).into_owned()),
            ["try", chaincode, ..] => {
                match stub.invoke_chaincode(chaincode, "run", &steps(&rest(2))) {
                    Ok(out) => Ok(String::from_utf8_lossy(&out).into_owned()),
                    Err(e) => Ok(format!("err: {e}")),
                }
            }
            ["event", name, payload] => stub
                .set_event(name, payload.as_bytes())
                .map(|()| "ok".into()),
            ["ctx"] => {
                let transient: Vec<&str> = stub.transient().keys().map(String::as_str).collect();
                Ok(format!(
                    "{}/{}:{}/{}/{}/{}",
                    stub.tx_id(),
                    stub.creator().msp_id,
                    stub.creator().subject,
                    stub.tx_timestamp_ms(),
                    transient.join("+"),
                    stub.args().len()
                ))
            }
            ["fail", ..] => Err(ChaincodeError::business(rest(1))),
            _ => Err(ChaincodeError::InvalidArgs {
                function: stub.function().to_owned(),
                reason: format!("unknown step {step:?}"),
            }),
        }
    }
}

impl Chaincode for Script {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let mut outputs = Vec::new();
        for step in stub.string_args()? {
            outputs.push(Self::step(stub, &step)?);
        }
        Ok(outputs.join(",").into_bytes())
    }
}

/// A network the table runs on: [`Script`] installed and defined as each of
/// [`CHAINCODES`], nothing else, an empty ledger.
pub trait Network {
    /// Runs one transaction invoking `chaincode` (function `run`) with
    /// `steps` as its arguments, committing its writes if it returns `Ok`;
    /// the payload and the transaction's event.
    fn submit(
        &mut self,
        chaincode: &str,
        steps: &[Vec<u8>],
    ) -> Result<(Vec<u8>, Option<Event>), ChaincodeError>;

    /// The committed value of `key` in `chaincode`'s namespace.
    fn state(&mut self, chaincode: &str, key: &str) -> Option<Vec<u8>>;
}

/// What a case's transaction must return.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `Ok` with this payload.
    Payload(String),
    /// This error, exactly.
    Error(ChaincodeError),
    /// A bad request (status 400) whose message contains this text.
    BadRequest(&'static str),
}

/// One case of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it shows.
    pub name: &'static str,
    /// Transactions committed first: chaincode and program, each must succeed.
    pub setup: Vec<(&'static str, String)>,
    /// The transaction under test: chaincode and program.
    pub submit: (&'static str, String),
    /// What it returns.
    pub outcome: Outcome,
    /// Committed state afterwards: chaincode, key, value (`None`: absent).
    pub state: Vec<(&'static str, &'static str, Option<&'static str>)>,
    /// The event it emits (name and payload), if it succeeds.
    pub event: Option<(&'static str, &'static str)>,
}

fn call_error(chaincode: &str, reason: &str) -> Outcome {
    Outcome::Error(ChaincodeError::Call {
        chaincode: chaincode.to_owned(),
        reason: reason.to_owned(),
    })
}

/// `call a ` `depth` times, then `step`.
fn nested(depth: usize, step: &str) -> String {
    format!("{}{step}", "call a ".repeat(depth))
}

/// Every case.
pub fn cases() -> Vec<Case> {
    let case = |name, submit: (&'static str, &str), outcome| Case {
        name,
        setup: Vec::new(),
        submit: (submit.0, submit.1.to_owned()),
        outcome,
        state: Vec::new(),
        event: None,
    };
    let ok = |payload: &str| Outcome::Payload(payload.to_owned());
    vec![
        Case {
            state: vec![("a", "k", Some("mine")), ("b", "k", Some("theirs"))],
            ..case(
                "a callee reads and writes its own namespace",
                (
                    "a",
                    "put k mine ; call b get k ;; put k theirs ;; get k ; get k",
                ),
                ok("ok,-,ok,theirs,mine"),
            )
        },
        Case {
            setup: vec![("b", "put k committed".to_owned())],
            ..case(
                "a callee reads its namespace's committed state",
                ("a", "call b get k ; get k"),
                ok("committed,-"),
            )
        },
        Case {
            state: vec![("b", "k", Some("v"))],
            ..case(
                "a callee's writes are visible to the caller's later calls",
                ("a", "call b put k v ; call b get k"),
                ok("ok,v"),
            )
        },
        Case {
            setup: vec![("b", "put k v".to_owned())],
            state: vec![("b", "k", None)],
            ..case(
                "a key a callee deleted reads as absent in later calls",
                ("a", "call b del k ; call b get k"),
                ok("ok,-"),
            )
        },
        Case {
            setup: vec![("b", "put p1 x ; put p2 x ; put q x".to_owned())],
            ..case(
                "a callee's prefix scan reads committed state of its namespace",
                ("a", "put p0 mine ; call b put p3 new ;; prefix p"),
                ok("ok,ok,p1+p2"),
            )
        },
        Case {
            state: vec![("a", "mine", Some("1")), ("b", "k", None)],
            ..case(
                "a failed call keeps none of the callee's writes; the caller recovers",
                (
                    "a",
                    "put mine 1 ; try b put k lost ;; fail no ; call b get k",
                ),
                ok("ok,err: no,-"),
            )
        },
        Case {
            state: vec![("b", "kept", Some("1")), ("c", "lost", None)],
            ..case(
                "a failed nested call inside a kept call",
                ("a", "call b put kept 1 ;; try c put lost 1 ;;;; fail inner"),
                ok("ok,err: inner"),
            )
        },
        Case {
            state: vec![("a", "k", None), ("b", "k", None)],
            ..case(
                "a callee's error passes through unchanged and fails the transaction",
                ("a", "put k 1 ; call b put k 2 ;; fail boom"),
                Outcome::Error(ChaincodeError::business("boom")),
            )
        },
        Case {
            state: vec![("a", "k", None)],
            ..case(
                "an undefined chaincode cannot be called",
                ("a", "put k 1 ; call nope get k"),
                call_error("nope", "not defined on the channel"),
            )
        },
        case(
            "a system namespace cannot be called",
            ("a", "call _lifecycle get k"),
            call_error("_lifecycle", "system namespaces cannot be called"),
        ),
        case(
            "a refused call can be recovered from",
            ("a", "try nope get k ; get k"),
            ok("err: cannot call chaincode 'nope': not defined on the channel,-"),
        ),
        case(
            "calls nest eight deep",
            ("a", &nested(8, "put k deep")),
            ok("ok"),
        ),
        case(
            "a ninth nested call is refused",
            ("a", &nested(9, "put k deep")),
            call_error("a", "chaincode calls nest deeper than 8"),
        ),
        Case {
            event: Some(("second", "3")),
            ..case(
                "only the invoked chaincode's last event is kept",
                (
                    "a",
                    "event first 1 ; call b event callee 2 ; event second 3",
                ),
                ok("ok,ok,ok"),
            )
        },
        case(
            "a callee's event alone is dropped",
            ("a", "call b event callee 2"),
            ok("ok"),
        ),
        case(
            "a callee sees the transaction's context and its own arguments",
            ("a", "ctx ; call b ctx ;; ctx ;; get k"),
            Outcome::Payload(String::new()),
        ),
        case(
            "a bad key in a callee is a bad request",
            ("a", "try b put \u{0}k v ; call b put \u{0}k v"),
            Outcome::BadRequest("0x00"),
        ),
    ]
}

/// Runs every case, each on a fresh network from `network`, and panics
/// naming the first case whose result differs from the table.
pub fn check<N: Network>(network: &mut dyn FnMut() -> N) {
    for case in cases() {
        let name = case.name;
        let mut net = network();
        for (chaincode, program) in &case.setup {
            if let Err(e) = net.submit(chaincode, &steps(program)) {
                panic!("{name}: setup {program:?}: {e}");
            }
        }
        let (chaincode, program) = &case.submit;
        let result = net.submit(chaincode, &steps(program));
        match (&case.outcome, result) {
            (Outcome::Payload(expected), Ok((payload, event))) => {
                let payload = String::from_utf8_lossy(&payload).into_owned();
                if expected.is_empty() {
                    check_context(name, &payload);
                } else {
                    assert_eq!(&payload, expected, "{name}: payload");
                }
                let event = event.map(|e| {
                    assert_eq!(e.chaincode, *chaincode, "{name}: event's chaincode");
                    (e.name, String::from_utf8_lossy(&e.payload).into_owned())
                });
                let expected =
                    (case.event).map(|(name, payload)| (name.to_owned(), payload.to_owned()));
                assert_eq!(event, expected, "{name}: event");
            }
            (Outcome::Error(expected), Err(e)) => assert_eq!(&e, expected, "{name}: error"),
            (Outcome::BadRequest(text), Err(e)) => {
                assert!(
                    matches!(&e, ChaincodeError::BadRequest(m) if m.contains(text)),
                    "{name}: expected a bad request with {text:?}, got {e:?}"
                )
            }
            (expected, got) => panic!("{name}: expected {expected:?}, got {got:?}"),
        }
        for (chaincode, key, value) in &case.state {
            let got = net.state(chaincode, key);
            let want = value.map(|v| v.as_bytes().to_vec());
            assert_eq!(got, want, "{name}: committed {chaincode}/{key}");
        }
    }
}

/// The `ctx ; call b ctx ;; ctx ;; get k` case: the callee's context
/// equals the caller's except the argument count (each frame has its own
/// arguments).
fn check_context(name: &str, payload: &str) {
    let parts: Vec<&str> = payload.split(',').collect();
    let [caller, callee, callee_again, "-"] = parts.as_slice() else {
        panic!("{name}: payload {payload:?}");
    };
    assert_eq!(callee, callee_again, "{name}");
    let context = |ctx: &str| {
        ctx.rsplit_once('/')
            .map(|(c, n)| (c.to_owned(), n.to_owned()))
    };
    let (caller_ctx, caller_args) = context(caller).unwrap_or_default();
    let (callee_ctx, callee_args) = context(callee).unwrap_or_default();
    assert_eq!(caller_ctx, callee_ctx, "{name}: context");
    assert!(
        !caller_ctx.starts_with('/'),
        "{name}: a tx id: {caller_ctx}"
    );
    assert_eq!(
        (caller_args.as_str(), callee_args.as_str()),
        ("2", "3"),
        "{name}"
    );
}

/// The chaincodes a network must install, by name.
pub fn chaincodes() -> Vec<(&'static str, Arc<dyn Chaincode>)> {
    CHAINCODES
        .iter()
        .map(|name| (*name, Arc::new(Script) as Arc<dyn Chaincode>))
        .collect()
}
