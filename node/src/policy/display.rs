//! Printing policies in canonical text form.

use super::ast::{Policy, Principal, PrincipalRole};
use std::fmt;

impl PrincipalRole {
    /// The canonical lower-case name used in policy text.
    fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Peer => "peer",
            Self::Orderer => "orderer",
            Self::Client => "client",
        }
    }
}

impl fmt::Display for PrincipalRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}.{}'", self.msp_id, self.role)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignedBy(principal) => principal.fmt(f),
            Self::OutOf { n, rules } => {
                let mut sep = if *n == 1 {
                    f.write_str("OR(")?;
                    ""
                } else if *n == rules.len() {
                    f.write_str("AND(")?;
                    ""
                } else {
                    write!(f, "OutOf({n}")?;
                    ", "
                };
                for rule in rules {
                    write!(f, "{sep}{rule}")?;
                    sep = ", ";
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::testing::p;

    #[test]
    fn display_is_canonical() {
        assert_eq!(p("'A.PEER'").to_string(), "'A.peer'");
        assert_eq!(
            p("and( 'A.peer' ,\"B.Member\")").to_string(),
            "AND('A.peer', 'B.member')"
        );
        assert_eq!(
            p("outof(1, 'A.peer', 'B.peer')").to_string(),
            "OR('A.peer', 'B.peer')"
        );
        assert_eq!(
            p("OutOf(3, 'A.peer', 'B.peer', 'C.peer')").to_string(),
            "AND('A.peer', 'B.peer', 'C.peer')"
        );
        assert_eq!(
            p("OutOf(2, 'A.peer', 'B.peer', 'C.client')").to_string(),
            "OutOf(2, 'A.peer', 'B.peer', 'C.client')"
        );
        assert_eq!(
            p("OR(AND('A.admin','B.orderer'),'C.peer')").to_string(),
            "OR(AND('A.admin', 'B.orderer'), 'C.peer')"
        );
    }

    #[test]
    fn display_round_trips() {
        let cases = [
            "'Org1MSP.member'",
            "AND('Org1MSP.peer', 'Org2MSP.peer')",
            "OR('Org1MSP.admin', 'Org2MSP.client', 'Org3MSP.orderer')",
            "OutOf(2, 'A.peer', 'B.peer', 'C.peer', 'D.peer')",
            "OR(AND('a.b.c.peer', OutOf(2, 'x.member', 'y.member', 'z.member')), 'w-1_2.admin')",
            "and(or('A.peer'),outof(1,'B.peer'))",
        ];
        for text in cases {
            let policy = p(text);
            let printed = policy.to_string();
            assert_eq!(p(&printed), policy, "round trip of {text}");
            assert_eq!(p(&printed).to_string(), printed);
        }
    }
}
