//! Funding the cold accounts before the load: one `issue` of the whole
//! supply into the first account, then rounds of transfers that double the
//! funded accounts each time ([`plan`], pure). A round's transfers touch
//! distinct accounts, so they run in parallel and never conflict; `n`
//! accounts take `ceil(log2 n)` rounds.

use super::accounts::Layout;
use super::RunError;
use crate::client::{args, Client, Committed};
use consort_proto::TxValidationCode as Code;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// Tokens each cold account holds once funded.
pub const PER_ACCOUNT: u64 = 1_000_000;

/// How long the gateways may take to commit a funding block.
const CATCH_UP: Duration = Duration::from_secs(30);

/// One funding transfer, between positions in the list of accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funding {
    /// The paying account (funded in an earlier round, or the first).
    pub from: usize,
    /// The account funded.
    pub to: usize,
    /// What it receives: `per` for itself and for every account it will
    /// fund in later rounds.
    pub amount: u64,
}

/// The rounds that leave each of `n` accounts with `per`, starting from
/// account 0 holding `n · per`. In round `r` every account below `2^r`
/// pays the account `2^r` above it, if there is one; that account then
/// funds the accounts congruent to it modulo `2^(r+1)`.
pub fn plan(n: usize, per: u64) -> Vec<Vec<Funding>> {
    let mut rounds = Vec::new();
    let mut span = 1usize;
    while span < n {
        let stride = 2 * span;
        let round = (0..span)
            .filter_map(|from| {
                let to = from + span;
                (to < n).then(|| Funding {
                    from,
                    to,
                    amount: per * ((n - 1 - to) / stride + 1) as u64,
                })
            })
            .collect();
        rounds.push(round);
        span = stride;
    }
    rounds
}

/// Creates the token and funds every cold account of `layout`, at most
/// `concurrency` transfers in flight; returns once every client's gateway
/// has committed the last funding block.
pub(super) async fn fund(
    clients: &[Client],
    layout: &Layout,
    symbol: &str,
    concurrency: usize,
) -> Result<(), RunError> {
    let Some(first) = clients.first() else {
        return Err(RunError::NoClients);
    };
    let accounts = layout.cold_accounts();
    let names: Vec<String> = accounts.iter().map(|a| layout.name(*a)).collect();
    let supply = PER_ACCOUNT * names.len() as u64;
    let created = first
        .invoke("token", "create", &args(&[symbol, &supply.to_string()]))
        .await;
    let mut last = valid("creating the token", created)?;
    let root = names.first().map_or("", String::as_str);
    let issued = first
        .invoke(
            "token",
            "issue",
            &args(&[symbol, root, &supply.to_string(), "bench"]),
        )
        .await;
    last = last.max(valid("issuing the supply", issued)?);
    caught_up(clients, last).await?;
    // The client that may pay from each account: its holder's first.
    let payer = |i: usize| -> Option<&Client> {
        let holder = match accounts.get(i)? {
            super::Account::Cold { holder, .. } => *holder,
            super::Account::Hot(_) => return None,
        };
        let c = layout.holder_of_client.iter().position(|h| *h == holder)?;
        clients.get(c)
    };
    for round in plan(names.len(), PER_ACCOUNT) {
        let blocks: Vec<u64> = stream::iter(round)
            .map(|f| {
                let client = payer(f.from);
                let a = args(&[
                    symbol,
                    &names[f.from],
                    &names[f.to],
                    &f.amount.to_string(),
                    "bench",
                ]);
                async move {
                    let Some(client) = client else {
                        return Err(RunError::NoClients);
                    };
                    valid(
                        "funding the accounts",
                        client.invoke("token", "transfer", &a).await,
                    )
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        last = blocks.into_iter().fold(last, u64::max);
        caught_up(clients, last).await?;
    }
    Ok(())
}

/// The block of a setup transaction that must be VALID.
fn valid(
    step: &'static str,
    r: Result<Committed, crate::client::ClientError>,
) -> Result<u64, RunError> {
    let c = r.map_err(|source| RunError::Setup { step, source })?;
    if c.code != Code::Valid {
        return Err(RunError::SetupInvalid {
            step,
            tx_id: c.tx_id,
            code: c.code.as_str_name().to_string(),
        });
    }
    Ok(c.block)
}

/// Waits until every client's gateway peer has committed block `block`, so
/// that what it endorses next reads the funded balances.
async fn caught_up(clients: &[Client], block: u64) -> Result<(), RunError> {
    let deadline = Instant::now() + CATCH_UP;
    for c in clients {
        loop {
            let status = c.status().await.map_err(|source| RunError::Setup {
                step: "waiting for the gateways to commit the funding",
                source,
            })?;
            if status.height > block {
                break;
            }
            if Instant::now() > deadline {
                return Err(RunError::Lagging {
                    gateway: c.endpoint().to_string(),
                    block,
                    timeout: CATCH_UP,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Runs the plan on balances, checking each round's rules.
    fn simulate(n: usize, per: u64) -> (Vec<u64>, usize) {
        let mut bal = vec![0u64; n];
        if n > 0 {
            bal[0] = per * n as u64;
        }
        let rounds = plan(n, per);
        for round in &rounds {
            let mut touched = HashSet::new();
            for f in round {
                assert!(touched.insert(f.from) && touched.insert(f.to), "{f:?}");
                assert!(f.amount > 0);
                assert!(bal[f.to] == 0, "{f:?} funds a funded account");
                bal[f.from] = bal[f.from].checked_sub(f.amount).expect("overdraft");
                bal[f.to] += f.amount;
            }
        }
        (bal, rounds.len())
    }

    #[test]
    fn every_account_ends_with_its_share() {
        for n in 0..=70 {
            let (bal, rounds) = simulate(n, 5);
            assert!(bal.iter().all(|&b| b == 5), "n = {n}: {bal:?}");
            let expected = if n <= 1 {
                0
            } else {
                (usize::BITS - (n - 1).leading_zeros()) as usize
            };
            assert_eq!(rounds, expected, "n = {n}");
        }
    }

    #[test]
    fn rounds_double_the_funded_accounts() {
        let p = plan(5, 1);
        let pairs: Vec<Vec<(usize, usize, u64)>> = p
            .iter()
            .map(|r| r.iter().map(|f| (f.from, f.to, f.amount)).collect())
            .collect();
        assert_eq!(
            pairs,
            vec![vec![(0, 1, 2)], vec![(0, 2, 1), (1, 3, 1)], vec![(0, 4, 1)]]
        );
    }
}
