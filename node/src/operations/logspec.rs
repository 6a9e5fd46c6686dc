//! The log filter, changeable while the node runs (`/logspec`): the
//! process's `tracing` subscriber holds its `EnvFilter` in a reload layer,
//! and [`LogSpec`] swaps it.

use std::sync::{Arc, Mutex};
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Why a log spec was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LogSpecError {
    /// The spec does not parse as an `EnvFilter` directive list.
    #[error("invalid log spec '{spec}': {reason}")]
    Invalid {
        /// The spec given.
        spec: String,
        /// The parser's message.
        reason: String,
    },
    /// The subscriber holding the filter is gone.
    #[error("the log filter can no longer be changed: {0}")]
    Gone(String),
}

/// The filter actually installed for `spec`: quiet defaults for libraries
/// whose warnings are expected, unless the spec names the library.
/// - rustls logs every refused TLS alert at warn, and the listener counts
///   and summarises refusals instead;
/// - gossipsub warns when a peer republishes a block that reached it by
///   gossip first, which every org's puller does by design.
pub fn effective(spec: &str) -> String {
    let mut out = spec.trim().to_owned();
    for (name, quiet) in [
        ("rustls", "rustls=error"),
        ("libp2p", "libp2p_gossipsub=error"),
    ] {
        if !spec.contains(name) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(quiet);
        }
    }
    out
}

/// Parses `spec` (as given by an operator) into the filter to install.
pub fn parse(spec: &str) -> Result<EnvFilter, LogSpecError> {
    EnvFilter::try_new(effective(spec)).map_err(|e| LogSpecError::Invalid {
        spec: spec.to_owned(),
        reason: e.to_string(),
    })
}

/// A handle on the running process's log filter.
#[derive(Clone)]
pub struct LogSpec {
    handle: reload::Handle<EnvFilter, Registry>,
    /// The spec last applied, as given. A std mutex: held only to copy a
    /// string, never across an await.
    current: Arc<Mutex<String>>,
}

impl std::fmt::Debug for LogSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSpec")
            .field("current", &self.get())
            .finish()
    }
}

impl LogSpec {
    /// A handle on the filter behind `handle`, which was built from `spec`.
    pub fn new(handle: reload::Handle<EnvFilter, Registry>, spec: &str) -> Self {
        LogSpec {
            handle,
            current: Arc::new(Mutex::new(spec.to_owned())),
        }
    }

    /// The spec in force, as it was given.
    pub fn get(&self) -> String {
        match self.current.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the filter with `spec`'s. An invalid spec changes nothing.
    pub fn set(&self, spec: &str) -> Result<(), LogSpecError> {
        let filter = parse(spec)?;
        self.handle
            .reload(filter)
            .map_err(|e| LogSpecError::Gone(e.to_string()))?;
        match self.current.lock() {
            Ok(mut s) => *s = spec.to_owned(),
            Err(poisoned) => *poisoned.into_inner() = spec.to_owned(),
        }
        tracing::info!(spec, "log spec changed");
        Ok(())
    }
}

/// The layer to put first on a `Registry` and the [`LogSpec`] that changes
/// it, starting from `spec` (or `fallback` when `spec` does not parse).
pub fn layer(spec: &str, fallback: &str) -> (reload::Layer<EnvFilter, Registry>, LogSpec) {
    let (filter, used) = match parse(spec) {
        Ok(f) => (f, spec),
        Err(_) => (
            parse(fallback).unwrap_or_else(|_| EnvFilter::new("info")),
            fallback,
        ),
    };
    let (layer, handle) = reload::Layer::new(filter);
    (layer, LogSpec::new(handle, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tracing_subscriber::layer::SubscriberExt;

    /// Collects what the fmt layer writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rustls_stays_quiet_unless_named() {
        assert_eq!(
            effective("info"),
            "info,rustls=error,libp2p_gossipsub=error"
        );
        assert_eq!(
            effective("debug,rustls=debug,libp2p=debug"),
            "debug,rustls=debug,libp2p=debug"
        );
        assert_eq!(effective(""), "rustls=error,libp2p_gossipsub=error");
    }

    #[test]
    fn a_new_spec_takes_effect_at_once_and_a_bad_one_changes_nothing() {
        let sink = Sink::default();
        let (filter, spec) = layer("info", "info");
        let writer = sink.clone();
        let subscriber = Registry::default().with(filter).with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("hidden");
            spec.set("debug").unwrap();
            tracing::debug!("shown");
            assert!(matches!(
                spec.set("debug,consort=loud").unwrap_err(),
                LogSpecError::Invalid { .. }
            ));
            assert_eq!(spec.get(), "debug");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("hidden"), "{text}");
        assert!(text.contains("shown"), "{text}");
    }
}
