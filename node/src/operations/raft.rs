//! The orderer's Raft and chain gauges: a task that follows openraft's
//! metrics and the chain tip while the orderer runs.

use super::metrics;
use crate::ordering::store::ChainTip;
use crate::ordering::{NodeId, Raft};
use tokio::sync::watch;

/// Whether `now` is a leader change after `last`, the last leader seen: a
/// known leader other than the previous one (the first one counts).
pub fn is_leader_change(last: Option<NodeId>, now: Option<NodeId>) -> bool {
    now.is_some() && now != last
}

/// Updates the Raft gauges on every change of `raft`'s metrics and the
/// chain height on every new block, until `stop` turns true or the orderer
/// goes away.
pub async fn watch(
    raft: Raft,
    me: NodeId,
    mut tip: watch::Receiver<ChainTip>,
    mut stop: watch::Receiver<bool>,
) {
    let mut m = raft.metrics();
    let mut last_leader = None;
    loop {
        {
            let view = m.borrow_and_update();
            let leader = view.current_leader;
            if is_leader_change(last_leader, leader) {
                metrics::raft_leader_changed();
                last_leader = leader;
            }
            let voters = view.membership_config.membership().voter_ids().count();
            metrics::raft_view(leader == Some(me), voters, view.current_term);
        }
        metrics::orderer_height(tip.borrow_and_update().height);
        tokio::select! {
            changed = m.changed() => if changed.is_err() { return },
            changed = tip.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_new_known_leader() {
        assert!(is_leader_change(None, Some(1)));
        assert!(!is_leader_change(Some(1), Some(1)));
        assert!(!is_leader_change(Some(1), None));
        assert!(is_leader_change(Some(1), Some(2)));
    }
}
