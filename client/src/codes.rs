//! The one table of validation codes and what each means, used by the
//! validator, the gateway, the CLI and the documentation.

use consort_proto::TxValidationCode as Code;

/// Every code with its meaning.
pub const TABLE: &[(Code, &str)] = &[
    (Code::Valid, "the transaction's writes were applied"),
    (Code::NilEnvelope, "the envelope or its payload is empty"),
    (Code::BadPayload, "the envelope or transaction does not decode"),
    (Code::BadCommonHeader, "the proposal header does not decode or misses its ID or chaincode"),
    (
        Code::BadCreatorSignature,
        "the creator is not a valid member (unknown org, revoked, bad certificate, identity not canonically encoded) or its signature does not verify",
    ),
    (
        Code::InvalidEndorserTransaction,
        "the endorsed result does not match the proposal, or the chaincode did not succeed",
    ),
    (Code::BadProposalTxid, "the transaction ID is not SHA-256(nonce || creator)"),
    (Code::DuplicateTxid, "a transaction with this ID was already committed"),
    (
        Code::EndorsementPolicyFailure,
        "the valid endorsements, one per distinct signer, do not satisfy the endorsement policy of the invoked chaincode and of every chaincode the transaction writes",
    ),
    (Code::MvccReadConflict, "a key the transaction read was changed after it was read"),
    (
        Code::PhantomReadConflict,
        "a key was inserted, deleted or changed inside a range the transaction scanned",
    ),
    (Code::TargetChainNotFound, "the transaction is for another channel"),
    (Code::BadResponsePayload, "the proposal response payload does not decode"),
    (
        Code::BadRwset,
        "the read/write set does not decode, repeats or misorders a namespace, misses the invoked chaincode's, or names an undefined one",
    ),
    (Code::InvalidChaincode, "the chaincode is not defined on the channel"),
    (Code::NotValidated, "not validated yet"),
    (Code::InvalidOtherReason, "invalid for another reason"),
];

/// The meaning of a code.
pub fn describe(code: Code) -> &'static str {
    TABLE
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, d)| *d)
        .unwrap_or("unknown validation code")
}

/// A code from its wire number; unknown numbers map to `INVALID_OTHER_REASON`.
pub fn from_i32(n: i32) -> Code {
    Code::try_from(n).unwrap_or(Code::InvalidOtherReason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_described_once() {
        let mut n = 0;
        for i in 0..=255 {
            if let Ok(code) = Code::try_from(i) {
                n += 1;
                assert_ne!(describe(code), "unknown validation code", "{code:?}");
            }
        }
        assert_eq!(n, TABLE.len());
    }
}
