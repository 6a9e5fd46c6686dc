//! The endorsement planner: which orgs a gateway asks to endorse one
//! proposal, and what it does with their answers. A pure state machine —
//! no sockets, no clocks: the gateway's async layer only fans the calls out
//! ([`Step::Ask`]), waits when told to, and feeds the answers back
//! ([`Planner::on_answers`]).
//!
//! ```text
//! start ─► Ask(orgs) ─► answers ─┬─ a needed org unreachable ─► Ask(other orgs) or CannotSatisfy
//!                                ├─ a peer refused            ─► Refused (its status, as given)
//!                                ├─ every chaincode run failed ─► ChaincodeFailed
//!                                ├─ results differ            ─► Ask(same orgs, after a backoff, caught up) or Disagree
//!                                ├─ writes a called chaincode  ─► Ask(orgs for every policy) or KeptWidening
//!                                └─ agreed                    ─► Agreed(answers)
//! ```
//!
//! Choosing orgs can fail on its own: a policy too complex to evaluate
//! within the search's work budget is [`PlanError::PolicyTooComplex`].

use super::plan;
use crate::policy::{EvalError, Policy};
use consort_proto::ProposalResponse;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// How many times results that differ are asked again, and how many times
/// the org set may widen for called chaincodes.
pub const MAX_ROUNDS: u32 = 8;
/// The wait before asking again after results differ, times the attempt.
pub const MISMATCH_BACKOFF: Duration = Duration::from_millis(50);

/// What the gateway does next.
#[derive(Debug)]
pub enum Step {
    /// Ask one peer of each of `orgs`, all at once, after waiting `after`.
    Ask {
        /// The orgs, in the order their answers are fed back.
        orgs: Vec<String>,
        /// How long to wait first.
        after: Duration,
        /// Results differed: the other orgs' peers are to reach the
        /// gateway's height before they run the chaincode again.
        catch_up: bool,
    },
    /// Every policy is satisfied by these agreeing answers, in `orgs` order.
    Agreed(Vec<(String, ProposalResponse)>),
    /// Endorsement failed.
    Failed(PlanError),
}

/// Why endorsement failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No set of reachable orgs satisfies the policies.
    #[error(
        "cannot satisfy endorsement policy {policy} with reachable peers; failures: {failures}"
    )]
    CannotSatisfy {
        /// The policies, joined.
        policy: String,
        /// Each unreachable org's failure, or "none".
        failures: String,
    },
    /// A policy is too complex for the orgs to satisfy it to be chosen (or
    /// checked) within the search's work budget.
    #[error("cannot choose endorsing orgs for endorsement policy {policy}: {error}")]
    PolicyTooComplex {
        /// The policies being satisfied, joined.
        policy: String,
        /// What the evaluation ran into.
        error: EvalError,
    },
    /// A peer refused the proposal for what it is (its status, passed on).
    #[error("{0}")]
    Refused(Status),
    /// The chaincode failed on every endorsing peer; the first one's answer.
    #[error("chaincode error (status {}, from {org}): {}", .response.status, .response.message)]
    ChaincodeFailed {
        /// The org whose peer answered first.
        org: String,
        /// Its chaincode response.
        response: consort_proto::Response,
    },
    /// The endorsing peers kept returning different results.
    #[error(
        "endorsement results differ between peers of {}: their world states or the chaincode disagree",
        .orgs.join(" and ")
    )]
    Disagree {
        /// The orgs asked last.
        orgs: Vec<String>,
    },
    /// The set of chaincodes the result writes kept changing.
    #[error("the chaincodes this transaction writes kept changing between endorsements")]
    KeptWidening,
    /// A peer answered with no endorsement.
    #[error("peer of {0} returned no endorsement")]
    NoEndorsement(String),
    /// The policies selected no org (an empty policy).
    #[error("the endorsement policies selected no org")]
    NoOrgs,
}

/// One proposal's endorsement plan. `written` maps an endorsed payload to
/// the policies of the called chaincodes it writes
/// ([`plan::written_policies`] on a peer).
pub struct Planner<W> {
    policies: Vec<Arc<Policy>>,
    local: String,
    available: Vec<String>,
    failed: BTreeSet<String>,
    failures: Vec<String>,
    mismatches: u32,
    widenings: u32,
    written: W,
}

impl<W: Fn(&[u8]) -> Vec<Arc<Policy>>> Planner<W> {
    /// A plan for `policy`, preferring the gateway's own org `local`, over
    /// the orgs with known peers, `available`.
    pub fn new(policy: Arc<Policy>, local: &str, available: &[String], written: W) -> Self {
        let mut available = available.to_vec();
        available.push(local.to_string());
        available.sort();
        available.dedup();
        Planner {
            policies: vec![policy],
            local: local.to_string(),
            available,
            failed: BTreeSet::new(),
            failures: Vec::new(),
            mismatches: 0,
            widenings: 0,
            written,
        }
    }

    /// The first step: the smallest set of orgs, own org first.
    pub fn start(&mut self) -> Step {
        self.choose(Duration::ZERO)
    }

    fn choose(&mut self, after: Duration) -> Step {
        let candidates: Vec<String> = self
            .available
            .iter()
            .filter(|o| !self.failed.contains(*o))
            .cloned()
            .collect();
        match plan::pick_orgs_for_all(
            &self.policies,
            std::slice::from_ref(&self.local),
            &candidates,
        ) {
            Ok(Some(orgs)) if orgs.is_empty() => Step::Failed(PlanError::NoOrgs),
            Ok(Some(orgs)) => Step::Ask {
                orgs,
                after,
                catch_up: false,
            },
            Err(error) => Step::Failed(PlanError::PolicyTooComplex {
                policy: self.policy_text(),
                error,
            }),
            Ok(None) => Step::Failed(PlanError::CannotSatisfy {
                policy: self.policy_text(),
                failures: if self.failures.is_empty() {
                    "none".to_string()
                } else {
                    self.failures.join("; ")
                },
            }),
        }
    }

    /// The policies being satisfied, for messages.
    fn policy_text(&self) -> String {
        self.policies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The next step, given each asked org's answer (in the order asked).
    /// `unreachable` tells a failure another org's peers might not have
    /// (unreachable, overloaded, timed out) from a refusal.
    pub fn on_answers(
        &mut self,
        answers: Vec<(String, Result<ProposalResponse, Status>)>,
        unreachable: impl Fn(&Status) -> bool,
    ) -> Step {
        let mut ok = Vec::with_capacity(answers.len());
        let mut lost = false;
        for (org, answer) in answers {
            match answer {
                Ok(r) => ok.push((org, r)),
                Err(s) if unreachable(&s) => {
                    self.failures.push(format!("{org}: {}", s.message()));
                    self.failed.insert(org);
                    lost = true;
                }
                Err(s) => return Step::Failed(PlanError::Refused(s)),
            }
        }
        if lost {
            return self.choose(Duration::ZERO);
        }
        let succeeded = ok
            .iter()
            .filter(|(_, r)| r.response.as_ref().map(|r| r.status) == Some(200))
            .count();
        let Some((first_org, first)) = ok.first() else {
            return Step::Failed(PlanError::NoOrgs);
        };
        if succeeded == 0 {
            return Step::Failed(PlanError::ChaincodeFailed {
                org: first_org.clone(),
                response: first.response.clone().unwrap_or_default(),
            });
        }
        let orgs: Vec<String> = ok.iter().map(|(o, _)| o.clone()).collect();
        let agree = succeeded == ok.len() && ok.iter().all(|(_, r)| r.payload == first.payload);
        if !agree {
            // Usually one peer has committed a block the other has not yet:
            // ask again shortly, then give up.
            self.mismatches += 1;
            if self.mismatches > MAX_ROUNDS {
                return Step::Failed(PlanError::Disagree { orgs });
            }
            return Step::Ask {
                orgs,
                after: MISMATCH_BACKOFF * self.mismatches,
                catch_up: true,
            };
        }
        let mut unmet: Vec<Arc<Policy>> = Vec::new();
        for p in (self.written)(&first.payload) {
            match plan::satisfied_by_orgs(&p, &orgs) {
                Ok(true) => {}
                Ok(false) => unmet.push(p),
                Err(error) => {
                    return Step::Failed(PlanError::PolicyTooComplex {
                        policy: p.to_string(),
                        error,
                    })
                }
            }
        }
        if !unmet.is_empty() {
            // The result writes a called chaincode's namespace whose policy
            // these orgs do not satisfy: ask enough orgs for all of them.
            self.widenings += 1;
            if self.widenings > MAX_ROUNDS {
                return Step::Failed(PlanError::KeptWidening);
            }
            for p in unmet {
                tracing::debug!(policy = %p, "endorsing for a called chaincode's policy too");
                if !self.policies.contains(&p) {
                    self.policies.push(p);
                }
            }
            return self.choose(Duration::ZERO);
        }
        if let Some((org, _)) = ok.iter().find(|(_, r)| r.endorsement.is_none()) {
            return Step::Failed(PlanError::NoEndorsement(org.clone()));
        }
        Step::Agreed(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consort_proto::{Endorsement, Response};
    use tonic::Code;

    fn orgs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn policy(text: &str) -> Arc<Policy> {
        Arc::new(text.parse().expect("policy"))
    }

    fn answer(status: i32, payload: &[u8]) -> ProposalResponse {
        ProposalResponse {
            response: Some(Response {
                status,
                message: if status == 200 { "" } else { "no" }.into(),
                payload: Vec::new(),
            }),
            payload: payload.to_vec(),
            endorsement: Some(Endorsement::default()),
        }
    }

    fn no_calls(_: &[u8]) -> Vec<Arc<Policy>> {
        Vec::new()
    }

    fn transient(s: &Status) -> bool {
        s.code() == Code::Unavailable
    }

    fn asked(step: &Step) -> Vec<String> {
        match step {
            Step::Ask { orgs, .. } => orgs.clone(),
            other => panic!("expected Ask, got {other:?}"),
        }
    }

    const TWO_OF_THREE: &str = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";

    /// The policies of the chaincodes a simulation called.
    type CalleePolicies = fn(&[u8]) -> Vec<Arc<Policy>>;

    fn planner(text: &str) -> Planner<CalleePolicies> {
        Planner::new(
            policy(text),
            "Org1MSP",
            &orgs(&["Org2MSP", "Org3MSP"]),
            no_calls as CalleePolicies,
        )
    }

    #[test]
    fn it_asks_the_smallest_set_with_its_own_org_first() {
        let mut p = planner(TWO_OF_THREE);
        assert_eq!(asked(&p.start()), orgs(&["Org1MSP", "Org2MSP"]));
    }

    #[test]
    fn agreeing_answers_are_done() {
        let mut p = planner(TWO_OF_THREE);
        let ask = asked(&p.start());
        let step = p.on_answers(
            ask.iter()
                .map(|o| (o.clone(), Ok(answer(200, b"r"))))
                .collect(),
            transient,
        );
        match step {
            Step::Agreed(a) => assert_eq!(a.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreachable_org_is_replaced_and_then_the_policy_fails_with_the_reasons() {
        let mut p = planner(TWO_OF_THREE);
        p.start();
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(200, b"r"))),
                ("Org2MSP".into(), Err(Status::unavailable("down"))),
            ],
            transient,
        );
        assert_eq!(asked(&step), orgs(&["Org1MSP", "Org3MSP"]));
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(200, b"r"))),
                ("Org3MSP".into(), Err(Status::unavailable("gone too"))),
            ],
            transient,
        );
        match step {
            Step::Failed(e @ PlanError::CannotSatisfy { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains("Org2MSP: down") && m.contains("Org3MSP: gone too"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refusal_is_passed_on_as_given() {
        let mut p = planner(TWO_OF_THREE);
        p.start();
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(200, b"r"))),
                ("Org2MSP".into(), Err(Status::permission_denied("creator"))),
            ],
            transient,
        );
        assert!(
            matches!(step, Step::Failed(PlanError::Refused(s)) if s.code() == Code::PermissionDenied)
        );
    }

    #[test]
    fn a_chaincode_error_everywhere_is_the_chaincodes_answer() {
        let mut p = planner(TWO_OF_THREE);
        p.start();
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(400, b""))),
                ("Org2MSP".into(), Ok(answer(400, b""))),
            ],
            transient,
        );
        assert!(
            matches!(step, Step::Failed(PlanError::ChaincodeFailed { org, .. }) if org == "Org1MSP")
        );
    }

    #[test]
    fn differing_results_are_asked_again_with_backoff_then_refused() {
        let mut p = planner(TWO_OF_THREE);
        p.start();
        let differ = || {
            vec![
                ("Org1MSP".to_string(), Ok(answer(200, b"a"))),
                ("Org2MSP".to_string(), Ok(answer(200, b"b"))),
            ]
        };
        for round in 1..=MAX_ROUNDS {
            match p.on_answers(differ(), transient) {
                Step::Ask {
                    orgs: o,
                    after,
                    catch_up,
                } => {
                    assert_eq!(o, orgs(&["Org1MSP", "Org2MSP"]));
                    assert_eq!(after, MISMATCH_BACKOFF * round);
                    assert!(catch_up, "asked again to catch up first");
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert!(matches!(
            p.on_answers(differ(), transient),
            Step::Failed(PlanError::Disagree { .. })
        ));
        // One success and one failure is a disagreement too.
        let mut p = planner(TWO_OF_THREE);
        p.start();
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(200, b"a"))),
                ("Org2MSP".into(), Ok(answer(500, b""))),
            ],
            transient,
        );
        assert!(matches!(step, Step::Ask { .. }));
    }

    #[test]
    fn writing_a_called_chaincode_widens_to_its_policy() {
        let bank = policy("OR('Org3MSP.peer')");
        let b2 = bank.clone();
        let mut p = Planner::new(
            policy("OR('Org1MSP.peer')"),
            "Org1MSP",
            &orgs(&["Org2MSP", "Org3MSP"]),
            move |payload: &[u8]| {
                if payload == b"calls bank" {
                    vec![b2.clone()]
                } else {
                    Vec::new()
                }
            },
        );
        assert_eq!(asked(&p.start()), orgs(&["Org1MSP"]));
        let step = p.on_answers(
            vec![("Org1MSP".into(), Ok(answer(200, b"calls bank")))],
            transient,
        );
        assert_eq!(asked(&step), orgs(&["Org1MSP", "Org3MSP"]));
        let step = p.on_answers(
            vec![
                ("Org1MSP".into(), Ok(answer(200, b"calls bank"))),
                ("Org3MSP".into(), Ok(answer(200, b"calls bank"))),
            ],
            transient,
        );
        assert!(matches!(step, Step::Agreed(a) if a.len() == 2));
    }

    #[test]
    fn an_answer_without_an_endorsement_fails() {
        let mut p = planner("OR('Org1MSP.peer')");
        p.start();
        let mut r = answer(200, b"r");
        r.endorsement = None;
        let step = p.on_answers(vec![("Org1MSP".into(), Ok(r))], transient);
        assert!(matches!(step, Step::Failed(PlanError::NoEndorsement(o)) if o == "Org1MSP"));
    }

    #[test]
    fn an_org_without_peers_cannot_satisfy_a_policy_that_needs_it() {
        let mut p = Planner::new(
            policy("AND('Org1MSP.peer', 'Org4MSP.peer')"),
            "Org1MSP",
            &orgs(&["Org2MSP"]),
            no_calls,
        );
        assert!(matches!(
            p.start(),
            Step::Failed(PlanError::CannotSatisfy { .. })
        ));
    }

    #[test]
    fn a_policy_too_complex_to_choose_orgs_for_fails_with_its_own_error() {
        let names: Vec<String> = (1..=20).map(|i| format!("O{i}")).collect();
        let too_complex = Arc::new(crate::policy::testing::lopsided_policy(&names));
        let mut p = Planner::new(too_complex.clone(), "O1", &names, no_calls);
        match p.start() {
            Step::Failed(e @ PlanError::PolicyTooComplex { .. }) => {
                let m = e.to_string();
                assert!(m.contains("cannot choose endorsing orgs"), "{m}");
                assert!(m.contains("too complex to evaluate"), "{m}");
            }
            other => panic!("{other:?}"),
        }

        // A called chaincode's policy too complex to check the answering
        // orgs against fails the same way.
        let (paths, path_orgs) = crate::policy::testing::paths_policy(16);
        let written = Arc::new(paths);
        let w = written.clone();
        let every_org: Vec<String> = path_orgs.iter().map(|o| format!("'{o}.peer'")).collect();
        let mut p = Planner::new(
            policy(&format!("AND({})", every_org.join(", "))),
            &path_orgs[0],
            &path_orgs,
            move |_: &[u8]| vec![w.clone()],
        );
        let ask = asked(&p.start());
        assert_eq!(ask.len(), path_orgs.len());
        let step = p.on_answers(
            ask.into_iter()
                .map(|o| (o, Ok(answer(200, b"r"))))
                .collect(),
            transient,
        );
        assert!(matches!(
            step,
            Step::Failed(PlanError::PolicyTooComplex { policy, .. }) if policy == written.to_string()
        ));
    }
}
