use serde::{Deserialize, Serialize};

use super::Router;
use crate::{ChaincodeError, ChaincodeStub, MockStub};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Point {
    x: i64,
    y: i64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

/// A router exercising every kind of parameter.
fn router() -> Router {
    Router::new()
        .add("ping", [], |_, ()| Ok::<_, ChaincodeError>("pong"))
        .add(
            "issue",
            ["symbol", "to", "amount", "memo"],
            |stub, (symbol, to, amount, memo): (String, String, u64, String)| {
                stub.put_state(&format!("{symbol}/{to}"), amount.to_string().as_bytes())?;
                Ok::<_, ChaincodeError>(format!("{amount} {symbol} to {to} ({memo})"))
            },
        )
        .add("neg", ["n"], |_, (n,): (i32,)| Ok::<_, ChaincodeError>(-n))
        .add("flag", ["on"], |_, (on,): (bool,)| {
            Ok::<_, ChaincodeError>(!on)
        })
        .add("move", ["point", "by"], |_, (p, by): (Point, i64)| {
            Ok::<_, ChaincodeError>(Point {
                x: p.x + by,
                y: p.y + by,
            })
        })
        .add("paint", ["color"], |_, (c,): (Color,)| {
            Ok::<_, ChaincodeError>(c)
        })
        .add("maybe", ["name"], |_, (name,): (Option<String>,)| {
            Ok::<_, ChaincodeError>(name)
        })
        .add("refuse", ["why"], |_, (why,): (String,)| {
            Err::<(), _>(ChaincodeError::business(why))
        })
        .add("who", [], |stub: &mut dyn ChaincodeStub, ()| {
            Ok::<_, ChaincodeError>(stub.creator().msp_id.clone())
        })
}

fn call(function: &str, args: &[&str]) -> Result<String, ChaincodeError> {
    let mut stub = MockStub::new("ch1");
    let payload = stub.invoke(&router(), function, args)?;
    Ok(String::from_utf8(payload).unwrap())
}

fn reason(function: &str, args: &[&str]) -> String {
    match call(function, args) {
        Err(ChaincodeError::InvalidArgs {
            function: f,
            reason,
        }) => {
            assert_eq!(f, function);
            reason
        }
        other => panic!("expected InvalidArgs, got {other:?}"),
    }
}

#[test]
fn typed_arguments_reach_the_handler_and_results_are_json() {
    assert_eq!(call("ping", &[]).unwrap(), "\"pong\"");
    assert_eq!(
        call("issue", &["GOLD", "alice", "42", "first"]).unwrap(),
        "\"42 GOLD to alice (first)\""
    );
    assert_eq!(call("neg", &["-7"]).unwrap(), "7");
    assert_eq!(call("flag", &["true"]).unwrap(), "false");
    assert_eq!(
        call("move", &[r#"{"x":1,"y":2}"#, "10"]).unwrap(),
        r#"{"x":11,"y":12}"#
    );
    assert_eq!(call("paint", &["green"]).unwrap(), "\"green\"");
    assert_eq!(call("paint", &["\"red\""]).unwrap(), "\"red\"");
    assert_eq!(call("who", &[]).unwrap(), "\"Org1MSP\"");
}

#[test]
fn string_parameters_take_the_argument_as_it_is_unless_it_is_a_json_string() {
    let out = |arg: &str| call("issue", &["GOLD", arg, "1", ""]).unwrap();
    assert_eq!(out("123"), "\"1 GOLD to 123 ()\"");
    assert_eq!(out("null"), "\"1 GOLD to null ()\"");
    assert_eq!(out("{\"a\":1}"), "\"1 GOLD to {\\\"a\\\":1} ()\"");
    assert_eq!(out("\"bob\""), "\"1 GOLD to bob ()\"");
    assert_eq!(out(""), "\"1 GOLD to  ()\"");
    assert_eq!(call("maybe", &["null"]).unwrap(), "null");
    assert_eq!(call("maybe", &["carol"]).unwrap(), "\"carol\"");
}

#[test]
fn the_handler_runs_against_the_stub() {
    let mut stub = MockStub::new("ch1");
    stub.invoke(&router(), "issue", &["GOLD", "alice", "5", ""])
        .unwrap();
    assert_eq!(stub.state("GOLD/alice"), Some(&b"5"[..]));
}

#[test]
fn a_type_mismatch_names_the_function_and_the_parameter() {
    assert_eq!(
        reason("issue", &["GOLD", "alice", "abc", ""]),
        "parameter 3 (amount): expected an unsigned integer, got \"abc\""
    );
    assert_eq!(
        reason("issue", &["GOLD", "alice", "-5", ""]),
        "parameter 3 (amount): expected an unsigned integer, got \"-5\""
    );
    assert_eq!(
        reason("issue", &["GOLD", "alice", "1.5", ""]),
        "parameter 3 (amount): expected an unsigned integer, got \"1.5\""
    );
    assert_eq!(
        reason("issue", &["GOLD", "alice", "18446744073709551616", ""]),
        "parameter 3 (amount): expected an unsigned integer, got \"18446744073709551616\""
    );
    assert_eq!(
        reason("neg", &["ten"]),
        "parameter 1 (n): expected an integer, got \"ten\""
    );
    assert_eq!(
        reason("flag", &["yes"]),
        "parameter 1 (on): expected a boolean, got \"yes\""
    );
    assert_eq!(
        reason("move", &[r#"{"x":1}"#, "1"]),
        "parameter 1 (point): missing field `y`, got \"{\\\"x\\\":1}\""
    );
    assert_eq!(
        reason("paint", &["blue"]),
        "parameter 1 (color): expected `red` or `green`, got \"blue\""
    );
}

#[test]
fn invalid_args_message_is_the_full_sentence() {
    let err = call("issue", &["GOLD", "alice", "abc", ""]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid arguments to 'issue': parameter 3 (amount): expected an unsigned integer, got \"abc\""
    );
}

#[test]
fn a_wrong_argument_count_lists_the_parameters() {
    assert_eq!(
        reason("issue", &["GOLD", "alice"]),
        "expected 4 arguments (symbol, to, amount, memo), got 2"
    );
    assert_eq!(reason("neg", &["1", "2"]), "expected 1 argument (n), got 2");
    assert_eq!(reason("ping", &["x"]), "expected no arguments, got 1");
}

#[test]
fn a_non_utf8_argument_is_named() {
    let mut stub = MockStub::new("ch1");
    let err = stub
        .invoke_bytes(&router(), "neg", vec![vec![0xc3]])
        .unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::InvalidArgs {
            function: "neg".into(),
            reason: "parameter 1 (n): not valid UTF-8".into(),
        }
    );
}

#[test]
fn unknown_functions_and_handler_errors_reach_the_client() {
    assert_eq!(
        call("fly", &[]).unwrap_err(),
        ChaincodeError::UnknownFunction("fly".into())
    );
    assert_eq!(
        call("refuse", &["no"]).unwrap_err(),
        ChaincodeError::business("no")
    );
}

#[test]
fn a_failed_call_writes_nothing() {
    let failing = Router::new().add("put_then_fail", [], |stub, ()| {
        stub.put_state("k", b"v")?;
        Err::<(), _>(ChaincodeError::business("changed my mind"))
    });
    let mut stub = MockStub::new("ch1");
    assert!(stub.invoke(&failing, "put_then_fail", &[]).is_err());
    assert!(stub.keys().is_empty());
}

#[test]
fn functions_are_listed_sorted() {
    let names: Vec<_> = router().functions().collect();
    assert_eq!(
        names,
        ["flag", "issue", "maybe", "move", "neg", "paint", "ping", "refuse", "who"]
    );
    assert!(format!("{:?}", router()).contains("\"issue\""));
}

#[test]
#[should_panic(expected = "function 'ping' is registered twice")]
fn registering_a_function_twice_is_a_bug() {
    let _ = Router::new()
        .add("ping", [], |_, ()| Ok::<_, ChaincodeError>(1))
        .add("ping", [], |_, ()| Ok::<_, ChaincodeError>(2));
}
