//! Who is on the channel's gossip network: each attested peer's org, name,
//! endpoint, height and whether it pulls from the orderers, as last
//! announced; and which peer of an org pulls blocks from the orderers.

use consort_proto::{PeerInfo, PeerNode};
use libp2p::PeerId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A peer unheard of for this long is not alive.
pub const LIVENESS: Duration = Duration::from_secs(4);

/// Which peers of an org pull blocks from the ordering service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullMode {
    /// Elected: the live eligible peer of the org with the smallest name
    /// pulls; when it dies, the next one takes over.
    #[default]
    Auto,
    /// This peer always pulls (and is never elected away).
    Always,
    /// This peer never pulls: it takes blocks from gossip and other peers
    /// only (e.g. a peer that cannot reach the orderers).
    Never,
}

impl std::str::FromStr for PullMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(PullMode::Auto),
            "always" => Ok(PullMode::Always),
            "never" => Ok(PullMode::Never),
            other => Err(format!("'{other}' is not one of auto, always, never")),
        }
    }
}

/// What a peer last announced about itself.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name (certificate common name).
    pub name: String,
    /// Its org.
    pub msp_id: String,
    /// Its gRPC endpoint.
    pub endpoint: String,
    /// Its ledger height.
    pub height: u64,
    /// Whether it pulls from the orderers.
    pub pulling: bool,
    /// Whether it may be elected to pull.
    pub eligible: bool,
    /// When its last announcement arrived.
    pub last_seen: Instant,
    /// The announcement's own timestamp (older ones are ignored).
    pub time_ms: u64,
}

impl Member {
    /// Heard from within [`LIVENESS`] of `now`.
    pub fn alive_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_seen) < LIVENESS
    }
}

/// This peer, as it describes itself.
#[derive(Debug, Clone)]
pub struct Me {
    /// Its name.
    pub name: String,
    /// Its org.
    pub msp_id: String,
    /// Its gRPC endpoint.
    pub endpoint: String,
    /// Its libp2p peer ID.
    pub peer_id: PeerId,
    /// Its pull mode.
    pub mode: PullMode,
}

#[derive(Debug)]
struct State {
    members: HashMap<PeerId, Member>,
    height: u64,
    pulling: bool,
}

/// The shared membership view (cheap to clone).
#[derive(Debug, Clone)]
pub struct Membership {
    me: Arc<Me>,
    configured: Arc<Vec<PeerNode>>,
    state: Arc<RwLock<State>>,
}

impl Membership {
    /// An empty view for `me` on a channel whose config lists `configured`.
    pub fn new(me: Me, configured: Vec<PeerNode>) -> Self {
        Membership {
            me: Arc::new(me),
            configured: Arc::new(configured),
            state: Arc::new(RwLock::new(State {
                members: HashMap::new(),
                height: 0,
                pulling: false,
            })),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The gRPC endpoint the channel config gives peer `name` of `msp_id`.
    pub fn configured_endpoint(&self, name: &str, msp_id: &str) -> Option<String> {
        self.configured
            .iter()
            .find(|p| p.name == name && p.msp_id == msp_id)
            .map(|p| p.endpoint.clone())
    }

    /// This peer.
    pub fn me(&self) -> &Me {
        &self.me
    }

    /// Records an announcement from `peer`; an older one than already
    /// recorded is ignored. A peer restarts with a new peer ID: an entry of
    /// the same name and org under another peer ID is replaced.
    pub fn heard(&self, peer: PeerId, m: Member) {
        let mut s = self.write();
        match s.members.get(&peer) {
            Some(old) if old.time_ms > m.time_ms => {}
            _ => {
                s.members
                    .retain(|p, o| *p == peer || o.name != m.name || o.msp_id != m.msp_id);
                s.members.insert(peer, m);
            }
        }
    }

    /// Forgets `peer` (disconnected for misbehaviour).
    pub fn forget(&self, peer: &PeerId) {
        self.write().members.remove(peer);
    }

    /// Records this peer's own height and pulling state.
    pub fn set_self(&self, height: u64, pulling: bool) {
        let mut s = self.write();
        s.height = height;
        s.pulling = pulling;
    }

    /// Whether this peer pulls from the orderers now.
    pub fn pulling(&self) -> bool {
        self.read().pulling
    }

    /// Whether this peer should pull from the orderers, given who of its
    /// org is alive at `now`.
    pub fn should_pull(&self, now: Instant) -> bool {
        match self.me.mode {
            PullMode::Always => true,
            PullMode::Never => false,
            PullMode::Auto => {
                let s = self.read();
                !s.members.values().any(|m| {
                    m.msp_id == self.me.msp_id
                        && m.eligible
                        && m.alive_at(now)
                        && m.name < self.me.name
                })
            }
        }
    }

    /// The live peer with the greatest height above `height` that `usable`
    /// accepts, if any, with that height.
    pub fn best_ahead_of(
        &self,
        height: u64,
        now: Instant,
        usable: impl Fn(&PeerId) -> bool,
    ) -> Option<(PeerId, u64)> {
        self.read()
            .members
            .iter()
            .filter(|(p, m)| m.alive_at(now) && m.height > height && usable(p))
            .max_by_key(|(_, m)| m.height)
            .map(|(p, m)| (*p, m.height))
    }

    /// `endpoints` (of one org's peers) in the order a gateway should try
    /// them: live peers first, the highest first among them, then the
    /// ones not heard from, in their given order.
    pub fn rank_endpoints(&self, endpoints: &[String]) -> Vec<String> {
        let now = Instant::now();
        let s = self.read();
        let mut ranked: Vec<(bool, u64, usize, &String)> = endpoints
            .iter()
            .enumerate()
            .map(|(i, ep)| {
                let seen = s
                    .members
                    .values()
                    .filter(|m| &m.endpoint == ep)
                    .max_by_key(|m| m.last_seen);
                match seen {
                    Some(m) => (m.alive_at(now), m.height, i, ep),
                    None => (false, 0, i, ep),
                }
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        ranked.into_iter().map(|(_, _, _, ep)| ep.clone()).collect()
    }

    /// The view as the `Peers` RPC answers it: this peer first, then every
    /// peer heard from, then configured peers never heard from.
    pub fn snapshot(&self) -> Vec<PeerInfo> {
        let now = Instant::now();
        let s = self.read();
        let mut out = vec![PeerInfo {
            name: self.me.name.clone(),
            msp_id: self.me.msp_id.clone(),
            endpoint: self.me.endpoint.clone(),
            height: s.height,
            alive: true,
            pulls_from_orderers: s.pulling,
            last_seen_ms: 0,
            is_self: true,
            peer_id: self.me.peer_id.to_base58(),
        }];
        let mut heard: Vec<(&PeerId, &Member)> = s.members.iter().collect();
        heard.sort_by(|a, b| (&a.1.msp_id, &a.1.name).cmp(&(&b.1.msp_id, &b.1.name)));
        for (p, m) in heard {
            out.push(PeerInfo {
                name: m.name.clone(),
                msp_id: m.msp_id.clone(),
                endpoint: m.endpoint.clone(),
                height: m.height,
                alive: m.alive_at(now),
                pulls_from_orderers: m.pulling,
                last_seen_ms: now.saturating_duration_since(m.last_seen).as_millis() as u64,
                is_self: false,
                peer_id: p.to_base58(),
            });
        }
        for c in self.configured.iter() {
            if !out
                .iter()
                .any(|p| p.name == c.name || p.endpoint == c.endpoint)
            {
                out.push(PeerInfo {
                    name: c.name.clone(),
                    msp_id: c.msp_id.clone(),
                    endpoint: c.endpoint.clone(),
                    ..Default::default()
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    fn pid() -> PeerId {
        PeerId::from(Keypair::generate_ed25519().public())
    }

    fn member(name: &str, org: &str, height: u64, last_seen: Instant) -> Member {
        Member {
            name: name.into(),
            msp_id: org.into(),
            endpoint: format!("{name}:7051"),
            height,
            pulling: false,
            eligible: true,
            last_seen,
            time_ms: 1,
        }
    }

    fn view(name: &str, mode: PullMode) -> Membership {
        Membership::new(
            Me {
                name: name.into(),
                msp_id: "Org1MSP".into(),
                endpoint: format!("{name}:7051"),
                peer_id: pid(),
                mode,
            },
            vec![],
        )
    }

    #[test]
    fn the_smallest_live_eligible_name_of_the_org_pulls() {
        let now = Instant::now();
        let v = view("peer1.org1", PullMode::Auto);
        assert!(v.should_pull(now), "alone, it pulls");
        let p0 = pid();
        v.heard(p0, member("peer0.org1", "Org1MSP", 5, now));
        assert!(!v.should_pull(now), "peer0 is alive and first");
        // Another org's peer0 does not count.
        let v2 = view("peer1.org1", PullMode::Auto);
        v2.heard(pid(), member("peer0.org2", "Org2MSP", 5, now));
        assert!(v2.should_pull(now));
        // peer0 falls silent: peer1 takes over once the liveness window passes.
        assert!(v.should_pull(now + LIVENESS + Duration::from_millis(1)));
        // A peer that may not pull is never waited for.
        let v3 = view("peer1.org1", PullMode::Auto);
        let mut m = member("peer0.org1", "Org1MSP", 5, now);
        m.eligible = false;
        v3.heard(pid(), m);
        assert!(v3.should_pull(now));
        assert!(view("peer9.org1", PullMode::Always).should_pull(now));
        assert!(!view("peer0.org1", PullMode::Never).should_pull(now));
    }

    #[test]
    fn ranks_live_and_higher_peers_first_and_ignores_stale_announcements() {
        let now = Instant::now();
        let v = view("peer0.org1", PullMode::Auto);
        let (a, b) = (pid(), pid());
        v.heard(a, member("peer0.org2", "Org2MSP", 3, now));
        v.heard(b, member("peer1.org2", "Org2MSP", 9, now));
        let eps = vec![
            "peer0.org2:7051".to_string(),
            "peer1.org2:7051".to_string(),
            "peer2.org2:7051".to_string(),
        ];
        assert_eq!(
            v.rank_endpoints(&eps),
            vec![eps[1].clone(), eps[0].clone(), eps[2].clone()]
        );
        assert_eq!(v.best_ahead_of(4, now, |_| true), Some((b, 9)));
        assert_eq!(v.best_ahead_of(9, now, |_| true), None);
        assert_eq!(
            v.best_ahead_of(4, now, |p| *p != b),
            None,
            "a skipped peer is not asked"
        );
        let mut old = member("peer1.org2", "Org2MSP", 1, now);
        old.time_ms = 0;
        v.heard(b, old);
        assert_eq!(
            v.best_ahead_of(4, now, |_| true),
            Some((b, 9)),
            "an older announcement is ignored"
        );
        let later = now + LIVENESS + Duration::from_secs(1);
        assert_eq!(
            v.best_ahead_of(0, later, |_| true),
            None,
            "dead peers are not asked"
        );
        let snap = v.snapshot();
        assert!(snap[0].is_self);
        assert_eq!(snap.len(), 3);
    }
}
