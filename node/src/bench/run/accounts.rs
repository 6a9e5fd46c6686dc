//! Which accounts each transfer moves tokens between: a pure plan, no I/O.
//!
//! Only an account's holder may transfer from it, so every identity moves
//! tokens out of its own sub-accounts (`<identity account>#load<i>`, the
//! *cold* accounts). Each worker (one of the run's concurrent clients)
//! owns disjoint pairs of its identity's cold accounts when there are
//! enough of them, and ping-pongs between each pair: cold transfers then
//! never conflict. A hot transfer pays one of the few *hot* accounts
//! (`<first identity's account>#hot<k>`, shared by every worker): two
//! transfers in flight into the same hot account conflict, and the later
//! one commits as `MVCC_READ_CONFLICT`.

/// One account of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    /// Cold account `index` of identity `holder`.
    Cold {
        /// The identity (index into [`Layout::holders`]).
        holder: usize,
        /// The account's number, below [`Layout::accounts`].
        index: usize,
    },
    /// Hot account `k`, below the run's hot accounts.
    Hot(usize),
}

/// One transfer: one token from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The paying account (always a cold account of the worker's identity).
    pub from: Account,
    /// The receiving account.
    pub to: Account,
}

/// A worker's place: its client, its identity and its rank among the
/// workers of that identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSlot {
    /// The worker's number, `0..concurrency`.
    pub worker: usize,
    /// The client it sends through (index into the run's clients).
    pub client: usize,
    /// Its identity (index into [`Layout::holders`]).
    pub holder: usize,
    /// Its rank among the workers of that identity.
    pub rank: usize,
    /// How many workers that identity has.
    pub of: usize,
}

/// The run's identities, their accounts and its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The token account of each distinct identity, in the order the
    /// clients first name it.
    pub holders: Vec<String>,
    /// For each client, its identity (index into `holders`).
    pub holder_of_client: Vec<usize>,
    /// Cold accounts per identity (at least 2).
    pub accounts: usize,
    /// Every worker, spread over the clients in turn.
    pub workers: Vec<WorkerSlot>,
}

impl Layout {
    /// The layout for clients signing as `client_accounts` (one token
    /// account per client; clients may share an identity), `workers`
    /// workers, and `accounts` cold accounts per identity. Without
    /// `accounts`, two per worker of the busiest identity, so that cold
    /// transfers never conflict.
    pub fn new(client_accounts: &[String], workers: usize, accounts: Option<usize>) -> Self {
        let mut holders: Vec<String> = Vec::new();
        let holder_of_client: Vec<usize> = client_accounts
            .iter()
            .map(|a| match holders.iter().position(|h| h == a) {
                Some(i) => i,
                None => {
                    holders.push(a.clone());
                    holders.len() - 1
                }
            })
            .collect();
        let mut per_holder = vec![0usize; holders.len()];
        let mut slots = Vec::with_capacity(workers);
        for worker in 0..workers {
            let client = worker % client_accounts.len().max(1);
            let holder = holder_of_client.get(client).copied().unwrap_or(0);
            let rank = per_holder.get(holder).copied().unwrap_or(0);
            if let Some(n) = per_holder.get_mut(holder) {
                *n += 1;
            }
            slots.push(WorkerSlot {
                worker,
                client,
                holder,
                rank,
                of: 0,
            });
        }
        for s in &mut slots {
            s.of = per_holder.get(s.holder).copied().unwrap_or(1);
        }
        let busiest = per_holder.iter().copied().max().unwrap_or(1);
        Layout {
            holders,
            holder_of_client,
            accounts: accounts.unwrap_or(2 * busiest).max(2),
            workers: slots,
        }
    }

    /// The account's name in the token chaincode.
    pub fn name(&self, account: Account) -> String {
        match account {
            Account::Cold { holder, index } => {
                format!("{}#load{index}", self.holder_name(holder))
            }
            Account::Hot(k) => format!("{}#hot{k}", self.holder_name(0)),
        }
    }

    fn holder_name(&self, holder: usize) -> &str {
        self.holders.get(holder).map_or("", String::as_str)
    }

    /// Every cold account, identity by identity: the accounts funded
    /// before the load.
    pub fn cold_accounts(&self) -> Vec<Account> {
        (0..self.holders.len())
            .flat_map(|holder| (0..self.accounts).map(move |index| Account::Cold { holder, index }))
            .collect()
    }
}

/// Whether transfer number `n` of a stream is hot, for a hot share
/// `share`: exactly `floor(n · share)` of the first `n` are, evenly spread.
pub fn is_hot(n: u64, share: f64) -> bool {
    let share = share.clamp(0.0, 1.0);
    ((n + 1) as f64 * share).floor() > (n as f64 * share).floor()
}

/// The transfers of one worker, one after another.
#[derive(Debug, Clone)]
pub struct Picker {
    slot: WorkerSlot,
    /// The cold pairs `(2p, 2p + 1)` this worker uses, by `p`.
    pairs: Vec<usize>,
    hot_share: f64,
    hot_accounts: usize,
    sent: u64,
    cold_sent: u64,
    hot_sent: u64,
}

impl Picker {
    /// The picker of worker `slot` with `accounts` cold accounts per
    /// identity; a share `hot_share` of its transfers pays one of
    /// `hot_accounts` hot accounts.
    pub fn new(slot: WorkerSlot, accounts: usize, hot_share: f64, hot_accounts: usize) -> Self {
        let pair_count = (accounts / 2).max(1);
        let of = slot.of.max(1);
        // Enough pairs: every pair whose number is this worker's rank
        // modulo the workers of its identity, no other worker's. Too few:
        // a shared pair.
        let pairs: Vec<usize> = if slot.rank < pair_count {
            (slot.rank..pair_count).step_by(of).collect()
        } else {
            vec![slot.rank % pair_count]
        };
        Picker {
            slot,
            pairs,
            hot_share: if hot_accounts == 0 { 0.0 } else { hot_share },
            hot_accounts,
            sent: 0,
            cold_sent: 0,
            hot_sent: 0,
        }
    }

    /// The next transfer.
    pub fn next_transfer(&mut self) -> Transfer {
        let hot = is_hot(self.sent, self.hot_share);
        self.sent += 1;
        let holder = self.slot.holder;
        let cold = |index| Account::Cold { holder, index };
        let len = self.pairs.len() as u64;
        if hot {
            let h = self.hot_sent;
            self.hot_sent += 1;
            let pair = self.pairs[(h % len) as usize];
            let k = (self.slot.worker as u64 + h) % self.hot_accounts as u64;
            return Transfer {
                from: cold(2 * pair),
                to: Account::Hot(k as usize),
            };
        }
        let c = self.cold_sent;
        self.cold_sent += 1;
        let pair = self.pairs[(c % len) as usize];
        // Each pair is visited in turn, its direction flipping every
        // round, so the balances stay where funding put them.
        let (a, b) = (cold(2 * pair), cold(2 * pair + 1));
        if (c / len).is_multiple_of(2) {
            Transfer { from: a, to: b }
        } else {
            Transfer { from: b, to: a }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn workers_spread_over_clients_and_ranked_per_identity() {
        // Two clients share an identity (two gateways of one user).
        let l = Layout::new(&ids(&["A", "B", "A"]), 7, None);
        assert_eq!(l.holders, ids(&["A", "B"]));
        assert_eq!(l.holder_of_client, vec![0, 1, 0]);
        let of_a: Vec<_> = l.workers.iter().filter(|w| w.holder == 0).collect();
        assert_eq!(of_a.len(), 5);
        assert!(of_a.iter().all(|w| w.of == 5));
        assert_eq!(
            of_a.iter().map(|w| w.rank).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        // Default: two accounts per worker of the busiest identity.
        assert_eq!(l.accounts, 10);
        assert_eq!(Layout::new(&ids(&["A"]), 3, Some(1)).accounts, 2);
    }

    #[test]
    fn account_names() {
        let l = Layout::new(&ids(&["Org1MSP:u1", "Org2MSP:u1"]), 2, Some(4));
        assert_eq!(
            l.name(Account::Cold {
                holder: 1,
                index: 3
            }),
            "Org2MSP:u1#load3"
        );
        assert_eq!(l.name(Account::Hot(2)), "Org1MSP:u1#hot2");
        assert_eq!(l.cold_accounts().len(), 8);
    }

    #[test]
    fn hot_share_is_exact_and_spread() {
        for (share, n, hot) in [(0.0, 1000, 0), (1.0, 1000, 1000), (0.25, 1000, 250)] {
            assert_eq!((0..n).filter(|&i| is_hot(i, share)).count(), hot);
        }
        let tenth: Vec<u64> = (0..30).filter(|&i| is_hot(i, 0.1)).collect();
        assert_eq!(tenth, vec![9, 19, 29]);
        // Out of range shares are clamped.
        assert!(is_hot(0, 7.0) && !is_hot(0, -1.0));
    }

    /// The transfers in flight at once when every worker sends its next.
    fn round(pickers: &mut [Picker]) -> Vec<Transfer> {
        pickers.iter_mut().map(Picker::next_transfer).collect()
    }

    fn pickers(l: &Layout, share: f64, hot: usize) -> Vec<Picker> {
        l.workers
            .iter()
            .map(|w| Picker::new(*w, l.accounts, share, hot))
            .collect()
    }

    #[test]
    fn cold_transfers_in_flight_never_share_an_account() {
        let l = Layout::new(&ids(&["A", "B", "C"]), 128, None);
        let mut p = pickers(&l, 0.0, 4);
        for _ in 0..10 {
            let mut seen = HashSet::new();
            for t in round(&mut p) {
                assert!(matches!(t.from, Account::Cold { .. }));
                assert!(seen.insert(t.from) && seen.insert(t.to), "{t:?} shared");
                // Only the holder pays.
                let (Account::Cold { holder: a, .. }, Account::Cold { holder: b, .. }) =
                    (t.from, t.to)
                else {
                    panic!("cold transfer {t:?}");
                };
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn balances_stay_put_on_cold_transfers() {
        let l = Layout::new(&ids(&["A"]), 3, Some(12));
        let mut p = pickers(&l, 0.0, 4);
        let mut net = std::collections::HashMap::<Account, i64>::new();
        for _ in 0..24 {
            for t in round(&mut p) {
                *net.entry(t.from).or_default() -= 1;
                *net.entry(t.to).or_default() += 1;
            }
        }
        assert!(net.values().all(|&v| v == 0), "{net:?}");
    }

    #[test]
    fn hot_transfers_pay_the_few_hot_accounts() {
        let l = Layout::new(&ids(&["A", "B"]), 8, None);
        let mut p = pickers(&l, 0.5, 3);
        let all: Vec<Transfer> = (0..10).flat_map(|_| round(&mut p)).collect();
        let hot: Vec<&Transfer> = all
            .iter()
            .filter(|t| matches!(t.to, Account::Hot(_)))
            .collect();
        assert_eq!(hot.len(), all.len() / 2);
        let targets: HashSet<Account> = hot.iter().map(|t| t.to).collect();
        assert_eq!(targets.len(), 3);
        assert!(hot.iter().all(|t| matches!(t.from, Account::Cold { .. })));
        // Without hot accounts there is nothing hot.
        let mut none = pickers(&l, 1.0, 0);
        assert!(round(&mut none)
            .iter()
            .all(|t| matches!(t.to, Account::Cold { .. })));
    }

    #[test]
    fn too_few_accounts_share_pairs() {
        let l = Layout::new(&ids(&["A"]), 6, Some(4));
        let mut p = pickers(&l, 0.0, 0);
        let r = round(&mut p);
        assert!(r.iter().all(|t| match (t.from, t.to) {
            (Account::Cold { index: a, .. }, Account::Cold { index: b, .. }) => a < 4 && b < 4,
            _ => false,
        }));
    }
}
