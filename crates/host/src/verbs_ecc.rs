//! The ECC verb only the ECC half of issue 4 has: ECC_Diffie-Hellman (CSNDEDH), marshalled as
//! the card's `verbs::ecc` module documents. The other ECC calls use the shared PKA methods
//! ([`crate::Cca::pka_key_token_build`] and the rest).

use softcca_card::Codes;
use softcca_wire::Param;

use crate::{Cca, CcaError, single_bytes};

/// The largest output CSNDEDH returns: a P-521 shared secret is 66 bytes; a derived key
/// token (DERIV01/DERIV02) fits in a variable-length AES token.
const EDH_OUTPUT_CAPACITY: i32 = 725;

fn bytes(b: &[u8]) -> Param {
    Param::Bytes(b.to_vec())
}

impl Cca {
    /// ECC_Diffie-Hellman (CSNDEDH). With PASSTHRU the output is the shared secret Z (the
    /// x-coordinate of the agreed point). `private_key_identifier` and
    /// `public_key_identifier` may be PKA key-storage labels. Returns the output and the codes
    /// (0/10001 when the private key is under the OLD APKA master key).
    pub fn ecc_diffie_hellman(
        &self,
        rule_array: &[&str],
        private_key_identifier: &[u8],
        public_key_identifier: &[u8],
        party_info: &[u8],
        key_bit_length: i32,
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let mut params = vec![
            bytes(private_key_identifier),
            bytes(&[]),
            bytes(public_key_identifier),
            bytes(&[]),
            bytes(party_info),
            Param::Int(key_bit_length),
        ];
        params.extend((0..5).map(|_| bytes(&[])));
        params.extend([bytes(&[]), bytes(&[]), Param::Int(EDH_OUTPUT_CAPACITY)]);
        let r = self.verb("CSNDEDH", rule_array, params)?;
        let c = Codes::new(r.return_code, r.reason_code);
        Ok((single_bytes(r)?, c))
    }

    /// ECC_Diffie-Hellman (CSNDEDH) with DERIV01 or DERIV02: derives `key_bit_length` bits
    /// from the agreed secret and `party_info` into `output_skeleton` (an internal AES
    /// fixed-length or variable-length token, or an internal DES token), returned under the
    /// master key. The keys may be PKA key-storage labels; the skeleton is a token. Returns
    /// the filled token and the codes.
    pub fn ecc_diffie_hellman_derive(
        &self,
        rule_array: &[&str],
        private_key_identifier: &[u8],
        public_key_identifier: &[u8],
        party_info: &[u8],
        key_bit_length: i32,
        output_skeleton: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let mut params = vec![
            bytes(private_key_identifier),
            bytes(&[]),
            bytes(public_key_identifier),
            bytes(&[]),
            bytes(party_info),
            Param::Int(key_bit_length),
        ];
        params.extend((0..5).map(|_| bytes(&[])));
        params.extend([
            bytes(&[]),
            bytes(output_skeleton),
            Param::Int(EDH_OUTPUT_CAPACITY),
        ]);
        let r = self.verb("CSNDEDH", rule_array, params)?;
        let c = Codes::new(r.return_code, r.reason_code);
        Ok((single_bytes(r)?, c))
    }
}
