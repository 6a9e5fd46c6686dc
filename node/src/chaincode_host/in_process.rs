//! Running one invocation of an in-process chaincode safely: on a blocking
//! thread, with a timeout, surviving a panic.

use super::HostError;
use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
use std::sync::Arc;
use std::time::Duration;

/// Runs `cc` against `stub` on a blocking thread. Returns the stub (with
/// whatever it recorded) and the chaincode's result.
pub async fn execute<S>(
    cc: Arc<dyn Chaincode>,
    mut stub: S,
    timeout: Duration,
) -> Result<(S, Result<Vec<u8>, ChaincodeError>), HostError>
where
    S: ChaincodeStub + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let result = cc.invoke(&mut stub);
        (stub, result)
    });
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(HostError::Timeout(timeout)),
        Ok(Ok(done)) => Ok(done),
        Ok(Err(join)) => {
            let msg = if join.is_panic() {
                let p = join.into_panic();
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string())
            } else {
                "cancelled".to_string()
            };
            Err(HostError::Panicked(msg))
        }
    }
}
