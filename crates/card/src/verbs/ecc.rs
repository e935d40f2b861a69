//! The ECC half of the PKA verbs (entered through [`super::pka`]). Not implemented yet:
//! every verb answers 8/2 ("not supported").

use crate::card::Card;
use crate::error::Failure;
use crate::rules::Element;
use crate::verbs::{Params, Reply};

macro_rules! not_yet {
    ($($verb:ident),*) => {
        $(
            pub(crate) fn $verb(_card: &Card, _rules: &[Element], _p: Params) -> Result<Reply, Failure> {
                Err(Failure::NotSupported)
            }
        )*
    };
}
not_yet!(
    csndpkb, csndpkg, csndpki, csndpkx, csndktc, csnddsg, csnddsv, csndedh
);
