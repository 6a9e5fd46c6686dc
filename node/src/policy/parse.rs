//! Parsing policy text into a [`Policy`].

use super::ast::{Policy, Principal, PrincipalRole};
use super::{PolicyError, MAX_DEPTH, MAX_PRINCIPALS};
use std::str::FromStr;

impl PrincipalRole {
    /// Parses a role name case-insensitively.
    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "peer" => Some(Self::Peer),
            "orderer" => Some(Self::Orderer),
            "client" => Some(Self::Client),
            _ => None,
        }
    }
}

/// What the parser wants where a rule starts.
const EXPECT_RULE: &str = "a quoted principal or AND, OR, OutOf";

/// The three operators, with the threshold of `OutOf` and its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// All rules.
    And,
    /// Any one rule.
    Or,
    /// `n` rules; `pos` is where `n` was written.
    OutOf { n: usize, pos: usize },
}

impl Operator {
    /// Canonical operator name for messages.
    fn name(self) -> &'static str {
        match self {
            Self::And => "AND",
            Self::Or => "OR",
            Self::OutOf { .. } => "OutOf",
        }
    }
}

/// Recursive-descent parser over the policy text.
struct Parser<'a> {
    /// The whole policy text.
    src: &'a str,
    /// Byte offset of the next unread character (always a char boundary).
    pos: usize,
    /// Principals parsed so far.
    principals: usize,
}

impl<'a> Parser<'a> {
    /// The next unread character.
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..)?.chars().next()
    }

    /// Consumes and returns the next character.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes characters while `keep` holds and returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.src.get(start..self.pos).unwrap_or_default()
    }

    /// Skips whitespace.
    fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    /// The error for finding something other than `expected` at the current position.
    fn unexpected(&self, expected: &'static str) -> PolicyError {
        match self.peek() {
            Some(found) => PolicyError::UnexpectedChar {
                pos: self.pos,
                found,
                expected,
            },
            None => PolicyError::UnexpectedEnd {
                pos: self.pos,
                expected,
            },
        }
    }

    /// Consumes `want` after optional whitespace, or reports what was found instead.
    fn consume(&mut self, want: char, expected: &'static str) -> Result<(), PolicyError> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Parses one rule inside `depth` enclosing operators.
    fn rule(&mut self, depth: usize) -> Result<Policy, PolicyError> {
        self.skip_ws();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => self.principal(quote),
            Some(c) if c.is_ascii_alphabetic() => self.operator(depth),
            _ => Err(self.unexpected(EXPECT_RULE)),
        }
    }

    /// Parses a quoted principal starting at the opening `quote`.
    fn principal(&mut self, quote: char) -> Result<Policy, PolicyError> {
        let pos = self.pos;
        self.bump();
        let body = self.take_while(|c| c != quote);
        if self.bump().is_none() {
            return Err(PolicyError::UnterminatedQuote { pos });
        }
        let Some((msp_id, role_name)) = body.rsplit_once('.') else {
            return Err(PolicyError::MissingRole {
                pos,
                principal: body.to_string(),
            });
        };
        let msp_ok = !msp_id.is_empty()
            && msp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !msp_ok {
            return Err(PolicyError::InvalidMspId {
                pos,
                principal: body.to_string(),
            });
        }
        let role = PrincipalRole::parse(role_name).ok_or_else(|| PolicyError::UnknownRole {
            pos,
            principal: body.to_string(),
            role: role_name.to_string(),
        })?;
        self.principals += 1;
        if self.principals > MAX_PRINCIPALS {
            return Err(PolicyError::TooManyPrincipals {
                pos,
                max: MAX_PRINCIPALS,
            });
        }
        Ok(Policy::SignedBy(Principal {
            msp_id: msp_id.to_string(),
            role,
        }))
    }

    /// Parses `AND(..)`, `OR(..)` or `OutOf(n, ..)` inside `depth` enclosing operators.
    fn operator(&mut self, depth: usize) -> Result<Policy, PolicyError> {
        let pos = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let is_out_of = match name.to_ascii_lowercase().as_str() {
            "and" | "or" => false,
            "outof" => true,
            _ => {
                return Err(PolicyError::UnknownOperator {
                    pos,
                    name: name.to_string(),
                })
            }
        };
        if depth >= MAX_DEPTH {
            return Err(PolicyError::TooDeep {
                pos,
                max: MAX_DEPTH,
            });
        }
        self.consume('(', "'(' after the operator name")?;
        self.skip_ws();
        let op = if is_out_of {
            let n_pos = self.pos;
            let digits = self.take_while(|c| c.is_ascii_digit());
            if digits.is_empty() {
                return Err(self.unexpected("the OutOf threshold (a number)"));
            }
            let n = digits
                .parse::<usize>()
                .map_err(|_| PolicyError::InvalidNumber {
                    pos: n_pos,
                    text: digits.to_string(),
                })?;
            self.skip_ws();
            if self.peek() == Some(')') {
                return Err(PolicyError::EmptyRule { pos, op: "OutOf" });
            }
            self.consume(',', "',' after the OutOf threshold")?;
            Operator::OutOf { n, pos: n_pos }
        } else if name.eq_ignore_ascii_case("and") {
            Operator::And
        } else {
            Operator::Or
        };
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(PolicyError::EmptyRule { pos, op: op.name() });
        }
        let mut rules = Vec::new();
        loop {
            rules.push(self.rule(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(')') => {
                    self.bump();
                    break;
                }
                _ => return Err(self.unexpected("',' or ')'")),
            }
        }
        let count = rules.len();
        let n = match op {
            Operator::And => count,
            Operator::Or => 1,
            Operator::OutOf { n, pos } => {
                if n == 0 || n > count {
                    return Err(PolicyError::BadThreshold { pos, n, count });
                }
                n
            }
        };
        Ok(Policy::OutOf { n, rules })
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut parser = Parser {
            src: s,
            pos: 0,
            principals: 0,
        };
        let policy = parser.rule(0)?;
        parser.skip_ws();
        if parser.peek().is_some() {
            return Err(PolicyError::Trailing { pos: parser.pos });
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{p, signed};

    fn err(s: &str) -> PolicyError {
        s.parse::<Policy>().unwrap_err()
    }

    #[test]
    fn parses_single_principal_with_either_quote() {
        assert_eq!(p("'Org1MSP.peer'"), signed("Org1MSP", PrincipalRole::Peer));
        assert_eq!(
            p("\"Org1MSP.admin\""),
            signed("Org1MSP", PrincipalRole::Admin)
        );
    }

    #[test]
    fn parses_every_role_case_insensitively() {
        let cases = [
            ("member", PrincipalRole::Member),
            ("ADMIN", PrincipalRole::Admin),
            ("Peer", PrincipalRole::Peer),
            ("orderer", PrincipalRole::Orderer),
            ("cLiEnT", PrincipalRole::Client),
        ];
        for (name, role) in cases {
            assert_eq!(p(&format!("'A.{name}'")), signed("A", role));
        }
    }

    #[test]
    fn role_follows_last_dot() {
        assert_eq!(
            p("'org1.example.com.peer'"),
            signed("org1.example.com", PrincipalRole::Peer)
        );
        assert_eq!(
            p("'a_b-C.9.member'"),
            signed("a_b-C.9", PrincipalRole::Member)
        );
    }

    #[test]
    fn parses_and_or_outof() {
        let a = signed("A", PrincipalRole::Peer);
        let b = signed("B", PrincipalRole::Member);
        let c = signed("C", PrincipalRole::Admin);
        assert_eq!(
            p("AND('A.peer', 'B.member')"),
            Policy::OutOf {
                n: 2,
                rules: vec![a.clone(), b.clone()]
            }
        );
        assert_eq!(
            p("OR('A.peer', 'B.member', 'C.admin')"),
            Policy::OutOf {
                n: 1,
                rules: vec![a.clone(), b.clone(), c.clone()]
            }
        );
        assert_eq!(
            p("OutOf(2, 'A.peer', 'B.member', 'C.admin')"),
            Policy::OutOf {
                n: 2,
                rules: vec![a, b, c]
            }
        );
    }

    #[test]
    fn operators_are_case_insensitive() {
        assert_eq!(p("and('A.peer','B.peer')"), p("AND('A.peer','B.peer')"));
        assert_eq!(p("Or('A.peer','B.peer')"), p("OR('A.peer','B.peer')"));
        assert_eq!(
            p("outof(1,'A.peer','B.peer')"),
            p("OUTOF(1,'A.peer','B.peer')")
        );
        assert_eq!(p("OutOf(1,'A.peer','B.peer')"), p("OR('A.peer','B.peer')"));
    }

    #[test]
    fn parses_nested_policies() {
        let policy = p("OR(AND('A.peer', 'B.peer'), OutOf(1, 'C.admin', AND('D.member')))");
        let expected = Policy::OutOf {
            n: 1,
            rules: vec![
                Policy::OutOf {
                    n: 2,
                    rules: vec![
                        signed("A", PrincipalRole::Peer),
                        signed("B", PrincipalRole::Peer),
                    ],
                },
                Policy::OutOf {
                    n: 1,
                    rules: vec![
                        signed("C", PrincipalRole::Admin),
                        Policy::OutOf {
                            n: 1,
                            rules: vec![signed("D", PrincipalRole::Member)],
                        },
                    ],
                },
            ],
        };
        assert_eq!(policy, expected);
    }

    #[test]
    fn whitespace_is_allowed_between_tokens() {
        let spaced = " \n\tOutOf ( 2 ,\n 'A.peer' ,\t\"B.peer\" , OR ( 'C.peer' ) ) \n";
        assert_eq!(p(spaced), p("OutOf(2,'A.peer','B.peer',OR('C.peer'))"));
    }

    #[test]
    fn accepts_maximum_depth_and_principals() {
        let mut text = "'A.peer'".to_string();
        for _ in 0..MAX_DEPTH {
            text = format!("AND({text})");
        }
        assert!(text.parse::<Policy>().is_ok());

        let many = vec!["'A.peer'"; MAX_PRINCIPALS].join(",");
        assert!(format!("OR({many})").parse::<Policy>().is_ok());
    }

    #[test]
    fn error_empty() {
        assert_eq!(err(""), PolicyError::Empty);
        assert_eq!(err(" \n\t "), PolicyError::Empty);
    }

    #[test]
    fn error_unexpected_char() {
        assert_eq!(
            err("AND('A.peer'; 'B.peer')"),
            PolicyError::UnexpectedChar {
                pos: 12,
                found: ';',
                expected: "',' or ')'"
            }
        );
        assert_eq!(
            err("AND 'A.peer'"),
            PolicyError::UnexpectedChar {
                pos: 4,
                found: '\'',
                expected: "'(' after the operator name"
            }
        );
        assert_eq!(
            err("OR('A.peer', )"),
            PolicyError::UnexpectedChar {
                pos: 13,
                found: ')',
                expected: EXPECT_RULE
            }
        );
        assert_eq!(
            err("OutOf(x, 'A.peer')"),
            PolicyError::UnexpectedChar {
                pos: 6,
                found: 'x',
                expected: "the OutOf threshold (a number)"
            }
        );
        assert_eq!(
            err("OutOf(1 'A.peer')"),
            PolicyError::UnexpectedChar {
                pos: 8,
                found: '\'',
                expected: "',' after the OutOf threshold"
            }
        );
        assert_eq!(
            err("  Org1MSP.peer"),
            PolicyError::UnknownOperator {
                pos: 2,
                name: "Org1MSP".to_string()
            }
        );
        assert_eq!(
            err("ü"),
            PolicyError::UnexpectedChar {
                pos: 0,
                found: 'ü',
                expected: EXPECT_RULE
            }
        );
    }

    #[test]
    fn error_unexpected_end() {
        assert_eq!(
            err("AND('A.peer',"),
            PolicyError::UnexpectedEnd {
                pos: 13,
                expected: EXPECT_RULE
            }
        );
        assert_eq!(
            err("OR('A.peer'"),
            PolicyError::UnexpectedEnd {
                pos: 11,
                expected: "',' or ')'"
            }
        );
        assert_eq!(
            err("OutOf("),
            PolicyError::UnexpectedEnd {
                pos: 6,
                expected: "the OutOf threshold (a number)"
            }
        );
        assert_eq!(
            err("AND"),
            PolicyError::UnexpectedEnd {
                pos: 3,
                expected: "'(' after the operator name"
            }
        );
    }

    #[test]
    fn error_unknown_operator() {
        assert_eq!(
            err("OR('A.peer', NOT('B.peer'))"),
            PolicyError::UnknownOperator {
                pos: 13,
                name: "NOT".to_string()
            }
        );
    }

    #[test]
    fn error_unterminated_quote() {
        assert_eq!(
            err("OR('A.peer', 'B.peer)"),
            PolicyError::UnterminatedQuote { pos: 13 }
        );
        assert_eq!(err("'A.peer\""), PolicyError::UnterminatedQuote { pos: 0 });
    }

    #[test]
    fn error_missing_role() {
        assert_eq!(
            err("OR('A.peer', 'Org2MSP')"),
            PolicyError::MissingRole {
                pos: 13,
                principal: "Org2MSP".to_string()
            }
        );
    }

    #[test]
    fn error_invalid_msp_id() {
        assert_eq!(
            err("'.peer'"),
            PolicyError::InvalidMspId {
                pos: 0,
                principal: ".peer".to_string()
            }
        );
        assert_eq!(
            err("AND('A.peer', 'Org 1.peer')"),
            PolicyError::InvalidMspId {
                pos: 14,
                principal: "Org 1.peer".to_string()
            }
        );
    }

    #[test]
    fn error_unknown_role() {
        assert_eq!(
            err("AND('A.peer', 'B.owner')"),
            PolicyError::UnknownRole {
                pos: 14,
                principal: "B.owner".to_string(),
                role: "owner".to_string()
            }
        );
        assert_eq!(
            err("'A.'"),
            PolicyError::UnknownRole {
                pos: 0,
                principal: "A.".to_string(),
                role: String::new()
            }
        );
    }

    #[test]
    fn error_invalid_number() {
        assert_eq!(
            err("OutOf(99999999999999999999999999, 'A.peer')"),
            PolicyError::InvalidNumber {
                pos: 6,
                text: "99999999999999999999999999".to_string()
            }
        );
    }

    #[test]
    fn error_bad_threshold() {
        assert_eq!(
            err("OutOf(0, 'A.peer')"),
            PolicyError::BadThreshold {
                pos: 6,
                n: 0,
                count: 1
            }
        );
        assert_eq!(
            err("OutOf( 3, 'A.peer', 'B.peer')"),
            PolicyError::BadThreshold {
                pos: 7,
                n: 3,
                count: 2
            }
        );
    }

    #[test]
    fn error_empty_rule() {
        assert_eq!(err("AND()"), PolicyError::EmptyRule { pos: 0, op: "AND" });
        assert_eq!(
            err("OR('A.peer', or( ))"),
            PolicyError::EmptyRule { pos: 13, op: "OR" }
        );
        assert_eq!(
            err("OutOf(1)"),
            PolicyError::EmptyRule {
                pos: 0,
                op: "OutOf"
            }
        );
        assert_eq!(
            err("OutOf(1, )"),
            PolicyError::EmptyRule {
                pos: 0,
                op: "OutOf"
            }
        );
    }

    #[test]
    fn error_trailing() {
        assert_eq!(err("'A.peer' 'B.peer'"), PolicyError::Trailing { pos: 9 });
        assert_eq!(err("AND('A.peer'))"), PolicyError::Trailing { pos: 13 });
    }

    #[test]
    fn error_too_deep() {
        let mut text = "'A.peer'".to_string();
        for _ in 0..=MAX_DEPTH {
            text = format!("OR({text})");
        }
        assert_eq!(
            err(&text),
            PolicyError::TooDeep {
                pos: 3 * MAX_DEPTH,
                max: MAX_DEPTH
            }
        );
    }

    #[test]
    fn error_too_many_principals() {
        let many = vec!["'A.peer'"; MAX_PRINCIPALS + 1].join(",");
        let text = format!("OR({many})");
        assert_eq!(
            err(&text),
            PolicyError::TooManyPrincipals {
                pos: 3 + 9 * MAX_PRINCIPALS,
                max: MAX_PRINCIPALS
            }
        );
    }

    #[test]
    fn error_messages_name_the_problem_and_position() {
        let msg = err("OutOf(3, 'A.peer', 'B.peer')").to_string();
        assert!(msg.contains("OutOf threshold 3"), "{msg}");
        assert!(msg.contains("byte 6"), "{msg}");
        assert!(msg.contains("(2)"), "{msg}");
        let msg = err("'A.boss'").to_string();
        assert!(msg.contains("unknown role 'boss'"), "{msg}");
    }
}
