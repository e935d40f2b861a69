//! The CCA verbs the card executes, one module per IBM chapter.
//!
//! A verb receives the parameter block the host sent (rule array, then its other parameters
//! in IBM's order, as [`Param`]s) and answers with a [`Reply`] or a [`Failure`]. The
//! parameter conventions of each verb are written beside it; the host library marshals to
//! exactly those.

pub(crate) mod acm;
pub(crate) mod cipher;
pub(crate) mod ecc;
pub(crate) mod ecc_bp;
pub(crate) mod ecc_rc;
pub(crate) mod facility;
pub(crate) mod hash;
pub(crate) mod held;
pub(crate) mod hmac;
pub(crate) mod import;
pub(crate) mod keygen;
pub(crate) mod keypart;
pub(crate) mod keys;
pub(crate) mod keytest;
pub(crate) mod keytoken;
pub(crate) mod ktc;
pub(crate) mod mac;
pub(crate) mod mkp;
pub(crate) mod pka;
pub(crate) mod pka_xport;
pub(crate) mod random;
pub(crate) mod retained;
pub(crate) mod rsa;
pub(crate) mod rsa_gen;
pub(crate) mod rsa_raw;
pub(crate) mod sae;
pub(crate) mod syx;
pub(crate) mod transport;
pub(crate) mod var;

use softcca_wire::Param;

use crate::error::{Failure, Notice};
use crate::rules::Element;

/// What a verb that completed returns.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    /// A notice that turns the return code into 0/x or 4/x.
    pub notice: Option<Notice>,
    /// Rule-array output (CSUACFQ).
    pub rule_array: Vec<Element>,
    /// Output parameters, in IBM's order.
    pub outputs: Vec<Param>,
}

impl Reply {
    pub(crate) fn outputs(outputs: Vec<Param>) -> Reply {
        Reply {
            outputs,
            ..Reply::default()
        }
    }
}

/// Positional access to a verb's parameters. A parameter block of the wrong shape comes from
/// a broken host library, not from an application; it is refused as a length error (8/72).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a>(pub &'a [Param]);

impl<'a> Params<'a> {
    pub(crate) fn expect_len(&self, n: usize) -> Result<(), Failure> {
        if self.0.len() == n {
            Ok(())
        } else {
            Err(Failure::Length)
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i32, Failure> {
        match self.0.get(i) {
            Some(Param::Int(v)) => Ok(*v),
            _ => Err(Failure::Length),
        }
    }

    pub(crate) fn bytes(&self, i: usize) -> Result<&'a [u8], Failure> {
        match self.0.get(i) {
            Some(Param::Bytes(v)) => Ok(v),
            _ => Err(Failure::Length),
        }
    }
}

/// A rule-array output element holding text, left-aligned and blank-padded (truncated at 8).
pub(crate) fn text_element(text: &str) -> Element {
    let mut e = [b' '; 8];
    for (o, b) in e.iter_mut().zip(text.bytes()) {
        *o = b;
    }
    e
}

/// A rule-array output element holding a number "represented by numeric characters which are
/// left-justified and padded on the right with space characters".
pub(crate) fn number_element(n: u64) -> Element {
    text_element(&n.to_string())
}
