//! Retained keys: PKA_Key_Generate (CSNDPKG) with RETAIN, Retained_Key_List (CSNDRKL),
//! Retained_Key_Delete (CSNDRKD), and the use of a retained key by its label as the key
//! identifier of Digital_Signature_Generate (CSNDDSG), PKA_Public_Key_Extract (CSNDPKX) and
//! PKA_Decrypt (CSNDPKD). The store (flash blob, labels, masks, capacity) is
//! [`crate::retained`]. Also PKA_Key_Token_Build (CSNDPKB) RSA-CRT skeletons, the skeleton
//! RETAIN takes.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", CSNDPKG parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndpkg-parameters>): RETAIN
//!   "retains the private key within the cryptographic engine and returns the public key";
//!   only for RSA signature keys, not for skeletons with a X'09', X'30' or X'31' section nor
//!   for non-RSA tokens.
//! - IBM Docs "CCA for Linux", "Using retained keys"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndrkd-using-retained-keys>):
//!   a KEY-MGMT skeleton with RETAIN "fails with error 12 reason code 3046"; the maximum
//!   modulus is 2048 bits; usage restricted to signature generation; CSNDRKL lists and
//!   CSNDRKD deletes the retained keys of an adapter.
//! - CCA 2.54 Basic Services Reference p=112 (the label in the skeleton names storage in
//!   the coprocessor and "must not reference a record in the host-system key-storage"),
//!   p=114 ("When generating a RETAINed key, on output the verb returns the public-key
//!   key-token"), p=279 (Retained_Key_Delete: rule count zero, a 64-byte `key_label`),
//!   Fig. A-4 p=368 (8/1025, 8/1026, 8/1031).
//! - z/OS ICSF `rkl.htm` (CSNDRKL's parameters: `key_label_mask`, `retained_keys_count`,
//!   `key_labels_count`, `key_labels`; rule count 0).
//!
//! Parameter blocks:
//! - CSNDPKG RETAIN: as [`super::pka`] documents CSNDPKG → `[Bytes generated_key_identifier]`
//!   (the public key token).
//! - CSNDRKL `[Bytes key_label_mask, Int key_labels_count]`
//!   → `[Int retained_keys_count, Int key_labels_count, Bytes key_labels]`.
//! - CSNDRKD `[Bytes key_label]` → `[]`.
//! - CSNDDSG, CSNDPKX, CSNDPKD: as [`super::pka`], with a 64-byte label in the key identifier.
//!
//! What softcca does, and its choices where IBM is silent or was not retrieved:
//! - The skeleton RETAIN takes is an external RSA-CRT (X'08') skeleton, which CSNDPKB
//!   RSA-CRT now builds from a key-value structure without key values (IBM's
//!   modulus-exponent X'02' skeleton that RSA-PRIV builds is 8/2 here). The label is the
//!   skeleton's private-key name section (X'10'). The key is generated as CSNDPKG CLEAR
//!   generates one (the same generator, exponents and pairwise-consistency test) and kept,
//!   with its label, in the card's sealed flash; it never leaves the card.
//! - What RETAIN returns: an external token holding the public-key section (X'04', with n)
//!   and the name section with the label. IBM's retained-key token layout was not
//!   retrieved; this is "the public-key key-token" CCA 2.54 names, with the label kept so
//!   the caller can name the key.
//! - Refusals, in this order: rule array (8/33, 8/34 with another key-encryption keyword,
//!   8/35), CLONE and regeneration data 8/2 (regeneration data of a bad length 8/72), a
//!   parameter block of the wrong shape 8/72; a null or public-only skeleton 8/47; an ECC
//!   skeleton or a X'09', X'30' or X'31' section 8/34 (IBM: "not supported"; it names no
//!   code); a X'02' or other private section 8/2; a section that holds a key, or a public
//!   section with n, 8/770; a usage other than SIG-ONLY (KEY-MGMT, KM-ONLY) 12/3046; a
//!   modulus above 2048 bits 8/770 (the skeleton's length field is not valid for RETAIN;
//!   IBM names no code); no name section or a label that breaks the label rules 8/32; a
//!   label already retained 8/1025; the card full ([`crate::retained::CAPACITY`] keys)
//!   8/1031. Sizes from 512 bits up to the maximum are generated as CLEAR generates them.
//!   A public token longer than `generated_key_identifier_length` is 8/43, and nothing is
//!   retained then.
//! - A label given to CSNDDSG, CSNDPKX or CSNDPKD is looked up among the retained keys (the
//!   host library first looks in its PKA key storage and passes a label it does not find
//!   there to the card): a label that breaks the rules is 8/32, one no retained key has is
//!   8/30, the code the host gives for a label found nowhere (8/1026 is kept for
//!   Retained_Key_Delete). The verb then runs exactly as with a token: CSNDPKX returns the
//!   public key, CSNDDSG signs, CSNDPKD refuses the SIG-ONLY key with 8/39.
//! - CSNDRKL: `retained_keys_count` is the number of retained keys whose labels match the
//!   mask; `key_labels_count` is on input the most labels the caller's buffer takes (a
//!   negative value is 8/72) and on output the number returned, the first ones in label
//!   order; `key_labels` holds them, 64 bytes each. A mask that matches nothing completes
//!   with 0/0 and counts of zero. Rule count not zero: 8/35.
//! - CSNDRKD: rule count not zero 8/35; a label that breaks the rules (wildcards included:
//!   IBM's parameter is one key's label) 8/32; no such retained key 8/1026.

use softcca_wire::Param;
use zeroize::{Zeroize, Zeroizing};

use crate::card::Card;
use crate::error::Failure;
use crate::retained::{self, CAPACITY, Entry, Label, Mask};
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::pka::{self, Framed, Kind, RsaPublic, id};
use crate::tokens::pka_rsa::{AesRsa, ClearCrt, usage};
use crate::verbs::{Params, Reply, rsa, text_element};

/// The largest token the inner calls may return.
const INNER_CAPACITY: i32 = pka::MAX_TOKEN_LEN as i32;

/// The largest modulus a retained key may have (IBM: "The maximum modulus size is 2048
/// bits").
pub const MAX_RETAINED_BITS: u16 = 2048;

/// Whether parameter `index` holds a key label rather than a token.
pub(crate) fn names_label(p: Params, index: usize) -> bool {
    p.bytes(index).is_ok_and(retained::is_label)
}

/// Whether parameter `index` holds an RSA-CRT (X'08') skeleton token.
pub(crate) fn holds_crt_skeleton(p: Params, index: usize) -> bool {
    let Ok(bytes) = p.bytes(index) else {
        return false;
    };
    match pka::frame(bytes) {
        Ok(Framed::Token { sections, .. }) => sections
            .first()
            .is_some_and(|s| s.id == id::RSA_CRT_OPK && crt_skeleton_usage(s.bytes).is_ok()),
        _ => false,
    }
}

/// Runs `verb` with the retained key named by the label in parameter `index` in place of
/// the label. The clear token is wiped after the call.
pub(crate) fn with_key(
    card: &Card,
    p: Params,
    index: usize,
    verb: impl FnOnce(Params) -> Result<Reply, Failure>,
) -> Result<Reply, Failure> {
    let label = retained::parse_label(p.bytes(index)?)?;
    let token = card.with_retained(|keys| {
        keys.get(&label)
            .map(|e| e.token.clone())
            .ok_or(Failure::LabelNotFound)
    })?;
    let mut params = p.0.to_vec();
    params[index] = Param::Bytes(token.to_vec());
    let out = verb(Params(&params));
    if let Some(Param::Bytes(b)) = params.get_mut(index) {
        b.zeroize();
    }
    out
}

/// CSNDPKB RSA-CRT without key values: the external X'08' skeleton (IBM's CRT skeleton),
/// with the private-key name section when a name is given.
pub(crate) fn crt_skeleton(
    key_usage: u8,
    n_bits: usize,
    e: &[u8],
    name: Option<[u8; 64]>,
    capacity: usize,
) -> Result<Reply, Failure> {
    let n_bits = u16::try_from(n_bits).map_err(|_| Failure::PkaTokenField)?;
    if !pka::RSA_BITS.contains(&n_bits) {
        return Err(Failure::PkaTokenField);
    }
    let private = ClearCrt {
        usage: key_usage,
        n: Vec::new(),
        parts: Default::default(),
    }
    .to_bytes()?;
    let public = RsaPublic {
        e: e.to_vec(),
        n_bits,
        n: Vec::new(),
    }
    .to_bytes()?;
    // The exponent must be one a token may hold.
    RsaPublic::parse(&public)?;
    let name = name.map(|n| pka::name_section(&n));
    let mut sections: Vec<&[u8]> = vec![&private, &public];
    if let Some(n) = &name {
        sections.push(n);
    }
    let token = pka::assemble(Kind::External, &sections)?;
    if token.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    Ok(Reply::outputs(vec![Param::Bytes(token)]))
}

const PKG: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["MASTER", "XPORT", "CLEAR", "RETAIN"]),
        Group::optional_none(&["CLONE"]),
    ],
};

/// What a RETAIN skeleton asks for.
struct Request {
    label: Label,
    e: Vec<u8>,
    n_bits: u16,
}

/// The usage byte of an external X'08' skeleton section: 132 bytes, clear external format
/// (X'40' at 28), a valid usage byte at 50, every other byte after the header zero (no key
/// values, no lengths). Anything else is 8/770.
fn crt_skeleton_usage(s: &[u8]) -> Result<u8, Failure> {
    const LEN: usize = 132;
    const FORMAT_AT: usize = 28;
    const USAGE_AT: usize = 50;
    if s.len() != LEN || s[1] != 0 || s[2..4] != [0, LEN as u8] || s[FORMAT_AT] != 0x40 {
        return Err(Failure::PkaTokenField);
    }
    let u = s[USAGE_AT];
    if u & !(usage::MASK | usage::XLATE_OK) != 0 || u & usage::MASK == 0x40 {
        return Err(Failure::PkaTokenField);
    }
    if s[4..]
        .iter()
        .enumerate()
        .any(|(i, &b)| i + 4 != FORMAT_AT && i + 4 != USAGE_AT && b != 0)
    {
        return Err(Failure::PkaTokenField);
    }
    Ok(u)
}

fn retain_request(skeleton: &[u8]) -> Result<Request, Failure> {
    let Framed::Token { kind, sections, .. } = pka::frame(skeleton)? else {
        return Err(Failure::KeyTokenInvalid);
    };
    if sections
        .iter()
        .any(|s| matches!(s.id, id::ECC_PRIVATE | id::ECC_PUBLIC))
    {
        return Err(Failure::KeywordCombination);
    }
    let private = sections.first().ok_or(Failure::PkaTokenField)?;
    match private.id {
        id::RSA_CRT_OPK => {}
        id::RSA_ME_VAR | id::RSA_AESM | id::RSA_AESC => return Err(Failure::KeywordCombination),
        i if id::is_private(i) => return Err(Failure::NotSupported),
        _ => return Err(Failure::KeyTokenInvalid),
    }
    let key_usage = crt_skeleton_usage(private.bytes)?;
    if kind != Kind::External {
        return Err(Failure::PkaTokenField);
    }
    let public = RsaPublic::parse(sections.get(1).ok_or(Failure::PkaTokenField)?.bytes)?;
    if !public.n.is_empty() {
        return Err(Failure::PkaTokenField);
    }
    if key_usage & usage::MASK != usage::SIG_ONLY {
        return Err(Failure::RetainKeyManagement);
    }
    if public.n_bits > MAX_RETAINED_BITS {
        return Err(Failure::PkaTokenField);
    }
    let name = sections.get(2).ok_or(Failure::LabelFormat)?;
    let label = retained::parse_label(&pka::parse_name(name.bytes)?)?;
    Ok(Request {
        label,
        e: public.e,
        n_bits: public.n_bits,
    })
}

fn room_for(keys: &retained::Keys, label: &Label) -> Result<(), Failure> {
    if keys.get(label).is_some() {
        return Err(Failure::RetainedKeyExists);
    }
    if keys.len() >= CAPACITY {
        return Err(Failure::RetainedKeyData);
    }
    Ok(())
}

fn first_bytes(reply: Reply) -> Result<Vec<u8>, Failure> {
    match reply.outputs.into_iter().next() {
        Some(Param::Bytes(b)) => Ok(b),
        _ => Err(Failure::PkaTokenField),
    }
}

/// CSNDPKG RETAIN.
pub(crate) fn csndpkg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKG, rule_array)?;
    if chosen.get(0) != Some("RETAIN") {
        return Err(Failure::KeywordCombination);
    }
    p.expect_len(4)?;
    let regen = p.bytes(0)?;
    let skeleton = p.bytes(1)?;
    p.bytes(2)?;
    let capacity = usize::try_from(p.int(3)?).map_err(|_| Failure::Length)?;
    if !regen.is_empty() && !(8..=256).contains(&regen.len()) {
        return Err(Failure::Length);
    }
    if chosen.get(1).is_some() || !regen.is_empty() {
        return Err(Failure::NotSupported);
    }
    let request = retain_request(skeleton)?;
    card.with_retained(|keys| room_for(keys, &request.label))?;

    // The key pair, as CLEAR generates one (X'31' clear external), from the same skeleton
    // fields.
    let clear_skeleton = pka::assemble(
        Kind::External,
        &[
            &AesRsa::skeleton(true, usage::SIG_ONLY).to_bytes()?,
            &RsaPublic {
                e: request.e.clone(),
                n_bits: request.n_bits,
                n: Vec::new(),
            }
            .to_bytes()?,
        ],
    )?;
    let generated = rsa::csndpkg(
        card,
        &[text_element("CLEAR")],
        Params(&[
            Param::Bytes(Vec::new()),
            Param::Bytes(clear_skeleton),
            Param::Bytes(pka::NULL_TOKEN.to_vec()),
            Param::Int(INNER_CAPACITY),
        ]),
    )?;
    let clear = Zeroizing::new(first_bytes(generated)?);
    let public = first_bytes(rsa::csndpkx(
        card,
        &[],
        Params(&[Param::Bytes(clear.to_vec()), Param::Int(INNER_CAPACITY)]),
    )?)?;
    let Framed::Token { sections, .. } = pka::frame(&public)? else {
        return Err(Failure::PkaTokenField);
    };
    let public_section = sections.first().ok_or(Failure::PkaTokenField)?.bytes;
    let out = pka::assemble(
        Kind::External,
        &[public_section, &pka::name_section(&request.label)],
    )?;
    if out.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    let created = card.now_unix();
    card.update_retained(|keys| {
        room_for(keys, &request.label)?;
        let entry = Entry {
            label: request.label,
            created,
            token: clear,
        };
        Ok((keys.with(entry), ()))
    })?;
    Ok(Reply::outputs(vec![Param::Bytes(out)]))
}

/// CSNDRKL.
pub(crate) fn csndrkl(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let mask = Mask::parse(p.bytes(0)?)?;
    let room = usize::try_from(p.int(1)?).map_err(|_| Failure::Length)?;
    let labels = card.with_retained(|keys| Ok(keys.labels(&mask)))?;
    let returned = labels.len().min(room);
    let list: Vec<u8> = labels[..returned].iter().flatten().copied().collect();
    let count = |n: usize| i32::try_from(n).map_err(|_| Failure::Length);
    Ok(Reply::outputs(vec![
        Param::Int(count(labels.len())?),
        Param::Int(count(returned)?),
        Param::Bytes(list),
    ]))
}

/// CSNDRKD.
pub(crate) fn csndrkd(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(1)?;
    let label = retained::parse_label(p.bytes(0)?)?;
    card.update_retained(|keys| {
        if keys.get(&label).is_none() {
            return Err(Failure::RetainedKeyNotFound);
        }
        Ok((keys.without(&label), ()))
    })?;
    Ok(Reply::default())
}
