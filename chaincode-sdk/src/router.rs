//! Typed dispatch: a [`Router`] maps function names to handlers that take
//! typed arguments and return a serialisable result, so a chaincode need not
//! match on strings or parse its arguments by hand.
//!
//! ```
//! use chaincode_sdk::{router::Router, ChaincodeError, ChaincodeStub, MockStub};
//!
//! fn add(_: &mut dyn ChaincodeStub, (a, b): (u64, u64)) -> Result<u64, ChaincodeError> {
//!     a.checked_add(b).ok_or_else(|| ChaincodeError::business("overflow"))
//! }
//!
//! let calculator = Router::new()
//!     .add("add", ["a", "b"], add)
//!     .add("greet", ["name"], |_, (name,): (String,)| {
//!         Ok::<_, ChaincodeError>(format!("hello {name}"))
//!     });
//!
//! let mut stub = MockStub::new("mychannel");
//! assert_eq!(stub.invoke(&calculator, "add", &["2", "40"])?, b"42");
//! assert_eq!(stub.invoke(&calculator, "greet", &["bob"])?, b"\"hello bob\"");
//! let err = stub.invoke(&calculator, "add", &["2", "x"]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid arguments to 'add': parameter 2 (b): expected an unsigned integer, got \"x\""
//! );
//! # Ok::<(), ChaincodeError>(())
//! ```

mod args;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Chaincode, ChaincodeError, ChaincodeStub};
pub use args::Args;

/// A handler as the router stores it: raw arguments in, JSON out.
type Erased = Box<
    dyn Fn(&mut dyn ChaincodeStub, &str, &[Vec<u8>]) -> Result<Vec<u8>, ChaincodeError>
        + Send
        + Sync,
>;

/// A chaincode made of named functions with typed arguments and results.
///
/// Each function is registered with [`Router::add`]: its name, the names of
/// its parameters, and a handler taking the stub and a tuple of the
/// parameters. On invocation the router
///
/// - refuses an unknown function with [`ChaincodeError::UnknownFunction`];
/// - refuses a wrong argument count, an argument that is not UTF-8 or that
///   does not parse as its parameter's type with
///   [`ChaincodeError::InvalidArgs`], naming the parameter by position (from
///   1) and name;
/// - otherwise calls the handler and returns its result serialised as JSON.
///
/// Each argument is parsed as described in [`Args`]: as JSON if it parses as
/// the parameter's type, else as a plain string (so `"42"` is a number for a
/// `u64` parameter, `alice` is a `String`, and `{"x":1}` a struct).
#[derive(Default)]
pub struct Router {
    /// The handlers, by function name.
    routes: BTreeMap<&'static str, Erased>,
}

impl Router {
    /// An empty router: every function is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` with parameters named `params` and its handler.
    ///
    /// The handler's argument tuple must have as many elements as `params`
    /// has names; the compiler checks this. Use `()` and `[]` for a function
    /// without parameters, and `(T,)` for one parameter.
    ///
    /// # Panics
    ///
    /// If `function` is already registered: that is a mistake in the
    /// chaincode, not in its input.
    pub fn add<const N: usize, A, R, F>(
        mut self,
        function: &'static str,
        params: [&'static str; N],
        handler: F,
    ) -> Self
    where
        A: Args<N>,
        R: Serialize,
        F: Fn(&mut dyn ChaincodeStub, A) -> Result<R, ChaincodeError> + Send + Sync + 'static,
    {
        let erased: Erased = Box::new(move |stub, function, raw| {
            let args = A::parse(function, &params, raw)?;
            let result = handler(stub, args)?;
            serde_json::to_vec(&result).map_err(|e| {
                ChaincodeError::State(format!("could not encode the result of '{function}': {e}"))
            })
        });
        let previous = self.routes.insert(function, erased);
        assert!(
            previous.is_none(),
            "function '{function}' is registered twice"
        );
        self
    }

    /// The names of the registered functions, sorted.
    pub fn functions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.routes.keys().copied()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("functions", &self.routes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Chaincode for Router {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function().to_owned();
        let handler = self
            .routes
            .get(function.as_str())
            .ok_or_else(|| ChaincodeError::UnknownFunction(function.clone()))?;
        let raw = stub.args().to_vec();
        handler(stub, &function, &raw)
    }
}

#[cfg(test)]
mod tests;
