//! Retained keys (issue 4) as `Cca` methods: Retained_Key_List (CSNDRKL) and
//! Retained_Key_Delete (CSNDRKD), marshalled as the card's `verbs::retained` module
//! documents. A retained key is made by [`Cca::pka_key_generate`] with `RETAIN` and used by
//! its label with [`Cca::digital_signature_generate`], [`Cca::pka_public_key_extract`] and
//! [`Cca::pka_decrypt`]; its label is the card's, not a key-storage record's (see the
//! `labels` module).

use softcca_card::{Codes, Failure};
use softcca_wire::Param;

use crate::{Cca, CcaError, codes_of};

/// What Retained_Key_List returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedKeyList {
    /// `retained_keys_count`: how many retained keys match the mask.
    pub retained_keys_count: i32,
    /// The labels returned (at most the `key_labels_count` asked for), 64 bytes each.
    pub labels: Vec<[u8; 64]>,
}

impl Cca {
    /// Retained_Key_List (CSNDRKL): the labels of the card's retained keys that match
    /// `key_label_mask` (64 bytes, `*` wildcards), at most `key_labels_count` of them.
    pub fn retained_key_list(
        &self,
        key_label_mask: &[u8],
        key_labels_count: i32,
    ) -> Result<RetainedKeyList, CcaError> {
        let r = self.verb(
            "CSNDRKL",
            &[],
            vec![
                Param::Bytes(key_label_mask.to_vec()),
                Param::Int(key_labels_count),
            ],
        )?;
        let broken = || CcaError::from_failure(Failure::CardUnavailable);
        let mut out = r.outputs.into_iter();
        match (out.next(), out.next(), out.next()) {
            (Some(Param::Int(total)), Some(Param::Int(returned)), Some(Param::Bytes(list))) => {
                let labels: Vec<[u8; 64]> = list
                    .chunks_exact(64)
                    .map(|c| {
                        let mut l = [0u8; 64];
                        l.copy_from_slice(c);
                        l
                    })
                    .collect();
                if usize::try_from(returned).ok() != Some(labels.len()) || list.len() % 64 != 0 {
                    return Err(broken());
                }
                Ok(RetainedKeyList {
                    retained_keys_count: total,
                    labels,
                })
            }
            _ => Err(broken()),
        }
    }

    /// Retained_Key_Delete (CSNDRKD): removes the retained key named `key_label` from the
    /// card.
    pub fn retained_key_delete(&self, key_label: &[u8]) -> Result<Codes, CcaError> {
        let r = self.verb("CSNDRKD", &[], vec![Param::Bytes(key_label.to_vec())])?;
        Ok(codes_of(&r))
    }
}
