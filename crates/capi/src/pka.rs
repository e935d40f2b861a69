//! Public-key verbs (CSND*): PKA_Key_Token_Build (CSNDPKB), PKA_Key_Generate (CSNDPKG),
//! PKA_Key_Import (CSNDPKI), PKA_Public_Key_Extract (CSNDPKX), PKA_Key_Token_Change
//! (CSNDKTC), Digital_Signature_Generate/Verify (CSNDDSG/CSNDDSV), PKA_Encrypt/Decrypt
//! (CSNDPKE/CSNDPKD), ECC_Diffie-Hellman (CSNDEDH), Symmetric_Key_Export/Import/Generate
//! (CSNDSYX/CSNDSYI/CSNDSYG), Symmetric_Key_Import2 (CSNDSYI2), Retained_Key_List and
//! Retained_Key_Delete (CSNDRKL/CSNDRKD). The other CSND names answer 8/2.
//!
//! Each export reads IBM's parameters (see [`crate::ffi`]) into the parameter block the card
//! documents for the verb (`softcca_card::verbs::pka` for PKB, PKG, PKI, PKX, KTC, DSG, DSV,
//! PKE, PKD; `verbs::ecc` for EDH; `verbs::syx` for SYX, SYI, SYG; `verbs::retained` for RKL
//! and RKD) and writes the outputs back. Length rules, beyond the crate's ABI conventions:
//! - Token and data outputs (`*_token_length`, `*_identifier_length`, `signature_field_length`,
//!   `*_enciphered_*_length`, `target_keyvalue_length`): the caller's capacity on entry, sent
//!   to the card as IBM's length parameter so that the card answers IBM's "too small" code
//!   (8/43 for a token, 8/72 for data); the actual length on return. opencryptoki passes
//!   2500 (3.23) or 8000 (3.27) for PKA tokens.
//! - Input key tokens may come with their buffer's capacity as length (opencryptoki does
//!   this): the card reads a token's own length fields and ignores the bytes after it.
//! - IBM's reserved and optional parameters (CSNDPKB's reserved_1–5 and key name, CSNDPKG's
//!   regeneration data, CSNDEDH's KEK identifiers, chaining vector, party info and reserved
//!   fields) may come as a NULL length pointer with a NULL buffer, as opencryptoki passes
//!   them: that is an empty string. (Added here, not in [`crate::ffi`]: a NULL length is 8/72
//!   for every parameter the verb needs.)
//! - A fixed-size identifier without a length (CSNDPKG's transport key, CSNDPKI's importer,
//!   CSNDSYG's key-encrypting key, CSNDRKL's mask, CSNDRKD's label) is read at IBM's 64
//!   bytes; a NULL one is an empty string where IBM lets the verb ignore it (transport,
//!   importer, key-encrypting key) and 8/72 where the verb needs it (mask, label).
//! - CSNDSYI's and CSNDSYG's symmetric target/local key (IBM: In/Output, 64 bytes for the
//!   fixed-length DES and AES tokens these verbs produce): its length on entry is the
//!   buffer's capacity (opencryptoki passes 3500); its first 64 bytes (fewer if the buffer
//!   is shorter) go to the card as the input token, and the new token (64 bytes) comes back.
//! - CSNDKTC: the token is read at `key_id_length` and written back in place with its
//!   length (the same length: a re-enciphered token does not grow).
//! - CSNDSYI2 has no card implementation yet (the card answers it 8/2); its block is the
//!   convention of the others: `[Bytes enciphered_key, Bytes transport_key, Bytes key_name,
//!   Bytes target_key_identifier (first 64 bytes), Int target_key_identifier_length]` →
//!   `[Bytes target_key_identifier]`. The card-side work should take exactly that, or change
//!   it here.

use std::ffi::{c_long, c_uchar};

use softcca_wire::Param;

use crate::ffi::{self, Dest, Fail};

/// IBM's fixed size of a key identifier or label passed without a length.
const IDENTIFIER: usize = 64;

/// An optional byte string: a NULL length pointer (with any buffer) is empty.
///
/// # Safety
/// As [`ffi::read_bytes`].
unsafe fn opt_bytes(len: *const c_long, buf: *const c_uchar) -> Result<Param, Fail> {
    if len.is_null() {
        return Ok(Param::Bytes(Vec::new()));
    }
    // SAFETY: the caller's contract is read_bytes'.
    unsafe { ffi::read_bytes(len, buf) }.map(Param::Bytes)
}

/// A required byte string.
///
/// # Safety
/// As [`ffi::read_bytes`].
unsafe fn bytes(len: *const c_long, buf: *const c_uchar) -> Result<Param, Fail> {
    // SAFETY: the caller's contract is read_bytes'.
    unsafe { ffi::read_bytes(len, buf) }.map(Param::Bytes)
}

/// A 64-byte identifier without a length; NULL is empty (the verb ignores it).
///
/// # Safety
/// `buf` is NULL or readable for 64 bytes.
unsafe fn opt_identifier(buf: *const c_uchar) -> Result<Param, Fail> {
    if buf.is_null() {
        return Ok(Param::Bytes(Vec::new()));
    }
    // SAFETY: non-NULL and readable for 64 bytes by the caller's contract.
    unsafe { ffi::read_fixed(buf, IDENTIFIER) }.map(Param::Bytes)
}

/// A 64-byte identifier without a length that the verb needs: NULL is 8/72.
///
/// # Safety
/// `buf` is NULL or readable for 64 bytes.
unsafe fn identifier(buf: *const c_uchar) -> Result<Param, Fail> {
    if buf.is_null() {
        return Err(ffi::BAD_LENGTH);
    }
    // SAFETY: as opt_identifier.
    unsafe { opt_identifier(buf) }
}

/// An output sized by its length parameter: the capacity as the card's `Int`, and where the
/// output goes.
///
/// # Safety
/// As [`Dest::var`].
unsafe fn sized_output(len: *mut c_long, buf: *mut c_uchar) -> Result<(Param, Dest), Fail> {
    // SAFETY: the caller's contract is Dest::var's.
    let out = unsafe { Dest::var(len, buf) }?;
    let Dest::Var { cap, .. } = out else {
        return Err(ffi::BAD_LENGTH);
    };
    Ok((Param::Int(i32::try_from(cap).unwrap_or(i32::MAX)), out))
}

/// An In/Output fixed-length symmetric token with its length: the first 64 bytes (at most
/// the capacity) as input, the whole capacity for the output.
///
/// # Safety
/// `len` is NULL or a readable and writable `long`; `buf` is NULL or readable and writable
/// for that many bytes.
unsafe fn in_out_token(len: *mut c_long, buf: *mut c_uchar) -> Result<(Param, Dest), Fail> {
    // SAFETY: the caller's contract covers both.
    unsafe {
        let out = Dest::var(len, buf)?;
        let Dest::Var { cap, .. } = out else {
            return Err(ffi::BAD_LENGTH);
        };
        let input = ffi::read_fixed(buf, cap.min(IDENTIFIER))?;
        Ok((Param::Bytes(input), out))
    }
}

/// PKA_Key_Token_Build. `reserved_1` is IBM's user-definable associated data and
/// `reserved_2` the key-derivation data (opencryptoki's ECC-VER1 path); `token_length` is the
/// capacity of `token` on entry and the token's length on return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKB(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_values_structure_length: *mut c_long,
    key_values_structure: *mut c_uchar,
    key_name_ln: *mut c_long,
    key_name: *mut c_uchar,
    reserved_1_length: *mut c_long,
    reserved_1: *mut c_uchar,
    reserved_2_length: *mut c_long,
    reserved_2: *mut c_uchar,
    reserved_3_length: *mut c_long,
    reserved_3: *mut c_uchar,
    reserved_4_length: *mut c_long,
    reserved_4: *mut c_uchar,
    reserved_5_length: *mut c_long,
    reserved_5: *mut c_uchar,
    token_length: *mut c_long,
    token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: IBM's parameters, each NULL or valid for what the prototype says (the ABI
    // conventions of the crate); every access goes through the checked readers.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKB", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let params = vec![
                    bytes(key_values_structure_length, key_values_structure)?,
                    opt_bytes(key_name_ln, key_name)?,
                    opt_bytes(reserved_1_length, reserved_1)?,
                    opt_bytes(reserved_2_length, reserved_2)?,
                    opt_bytes(reserved_3_length, reserved_3)?,
                    opt_bytes(reserved_4_length, reserved_4)?,
                    opt_bytes(reserved_5_length, reserved_5)?,
                ];
                let (cap, out) = sized_output(token_length, token)?;
                let mut params = params;
                params.push(cap);
                Ok((rules, params, vec![out]))
            })
        })
    }
}

/// PKA_Key_Generate: `generated_key_identifier_length` is the capacity on entry and the
/// generated token's length on return. `transport_key_identifier` is read at 64 bytes (NULL:
/// none; MASTER and CLEAR ignore it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKG(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    regeneration_data_length: *mut c_long,
    regeneration_data: *mut c_uchar,
    skeleton_key_token_length: *mut c_long,
    skeleton_key_token: *mut c_uchar,
    transport_key_identifier: *mut c_uchar,
    generated_key_identifier_length: *mut c_long,
    generated_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKG", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let regeneration = opt_bytes(regeneration_data_length, regeneration_data)?;
                let skeleton = bytes(skeleton_key_token_length, skeleton_key_token)?;
                let transport = opt_identifier(transport_key_identifier)?;
                let (cap, out) =
                    sized_output(generated_key_identifier_length, generated_key_identifier)?;
                Ok((
                    rules,
                    vec![regeneration, skeleton, transport, cap],
                    vec![out],
                ))
            })
        })
    }
}

/// PKA_Key_Import: `importer_key_identifier` is read at 64 bytes (NULL: none; a clear source
/// token needs none); `target_key_identifier_length` is the capacity on entry, the internal
/// token's length on return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKI(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    source_key_token_length: *mut c_long,
    source_key_token: *mut c_uchar,
    importer_key_identifier: *mut c_uchar,
    target_key_identifier_length: *mut c_long,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKI", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let source = bytes(source_key_token_length, source_key_token)?;
                let importer = opt_identifier(importer_key_identifier)?;
                let (cap, out) = sized_output(target_key_identifier_length, target_key_identifier)?;
                Ok((rules, vec![source, importer, cap], vec![out]))
            })
        })
    }
}

/// PKA_Public_Key_Extract: `target_key_token_length` is the capacity on entry, the public
/// token's length on return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKX(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    source_key_identifier_length: *mut c_long,
    source_key_identifier: *mut c_uchar,
    target_key_token_length: *mut c_long,
    target_key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKX", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let source = bytes(source_key_identifier_length, source_key_identifier)?;
                let (cap, out) = sized_output(target_key_token_length, target_key_token)?;
                Ok((rules, vec![source, cap], vec![out]))
            })
        })
    }
}

/// PKA_Key_Token_Change (RTCMK): the token is read at `key_id_length` and rewritten in
/// place, its length set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKTC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_id_length: *mut c_long,
    key_id: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDKTC", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let token = bytes(key_id_length, key_id)?;
                let out = Dest::var(key_id_length, key_id)?;
                Ok((rules, vec![token], vec![out]))
            })
        })
    }
}

/// Digital_Signature_Generate: `signature_field_length` is the capacity on entry and the
/// signature's length on return; `signature_bit_length` receives its length in bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDDSG(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    pka_private_key_id_length: *mut c_long,
    pka_private_key_id: *mut c_uchar,
    hash_length: *mut c_long,
    hash: *mut c_uchar,
    signature_field_length: *mut c_long,
    signature_bit_length: *mut c_long,
    signature_field: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDDSG", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let key = bytes(pka_private_key_id_length, pka_private_key_id)?;
                let hash = bytes(hash_length, hash)?;
                let (cap, out) = sized_output(signature_field_length, signature_field)?;
                if signature_bit_length.is_null() {
                    return Err(ffi::BAD_LENGTH);
                }
                Ok((
                    rules,
                    vec![key, hash, cap],
                    vec![Dest::Long(signature_bit_length), out],
                ))
            })
        })
    }
}

/// Digital_Signature_Verify: 0/0 when the signature verifies, 4/429 when it does not.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDDSV(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    pka_public_key_id_length: *mut c_long,
    pka_public_key_id: *mut c_uchar,
    hash_length: *mut c_long,
    hash: *mut c_uchar,
    signature_field_length: *mut c_long,
    signature_field: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDDSV", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let key = bytes(pka_public_key_id_length, pka_public_key_id)?;
                let hash = bytes(hash_length, hash)?;
                let signature = bytes(signature_field_length, signature_field)?;
                Ok((rules, vec![key, hash, signature], vec![]))
            })
        })
    }
}

/// PKA_Encrypt: `rsa_encipher_length` is the capacity on entry, the enciphered value's
/// length on return. `data_struct` must be empty (length 0, any pointer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKE(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_value_length: *mut c_long,
    key_value: *mut c_uchar,
    data_struct_length: *mut c_long,
    data_struct: *mut c_uchar,
    rsa_public_key_length: *mut c_long,
    rsa_public_key: *mut c_uchar,
    rsa_encipher_length: *mut c_long,
    rsa_encipher: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKE", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let value = bytes(key_value_length, key_value)?;
                let structure = bytes(data_struct_length, data_struct)?;
                let key = bytes(rsa_public_key_length, rsa_public_key)?;
                let (cap, out) = sized_output(rsa_encipher_length, rsa_encipher)?;
                Ok((rules, vec![value, structure, key, cap], vec![out]))
            })
        })
    }
}

/// PKA_Decrypt: `key_value_length` is the capacity on entry, the recovered value's length on
/// return. `data_struct` must be empty (length 0, any pointer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDPKD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    enciphered_key_length: *mut c_long,
    enciphered_key: *mut c_uchar,
    data_struct_length: *mut c_long,
    data_struct: *mut c_uchar,
    rsa_private_key_length: *mut c_long,
    rsa_private_key: *mut c_uchar,
    key_value_length: *mut c_long,
    key_value: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDPKD", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let enciphered = bytes(enciphered_key_length, enciphered_key)?;
                let structure = bytes(data_struct_length, data_struct)?;
                let key = bytes(rsa_private_key_length, rsa_private_key)?;
                let (cap, out) = sized_output(key_value_length, key_value)?;
                Ok((rules, vec![enciphered, structure, key, cap], vec![out]))
            })
        })
    }
}

/// ECC_Diffie-Hellman. The optional strings (KEK identifiers, chaining vector, party info,
/// reserved fields) may be a NULL length with a NULL buffer. `output_key_identifier` is
/// read at its length as the input (a skeleton for a derived key; ignored by PASSTHRU), and
/// `output_key_identifier_length` is its capacity on entry and the output's length on return
/// (PASSTHRU: the shared secret Z).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDEDH(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    private_key_identifier_length: *mut c_long,
    private_key_identifier: *mut c_uchar,
    private_kek_key_identifier_length: *mut c_long,
    private_kek_key_identifier: *mut c_uchar,
    public_key_identifier_length: *mut c_long,
    public_key_identifier: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    party_info_length: *mut c_long,
    party_info: *mut c_uchar,
    key_bit_length: *mut c_long,
    reserved_1_length: *mut c_long,
    reserved_1: *mut c_uchar,
    reserved_2_length: *mut c_long,
    reserved_2: *mut c_uchar,
    reserved_3_length: *mut c_long,
    reserved_3: *mut c_uchar,
    reserved_4_length: *mut c_long,
    reserved_4: *mut c_uchar,
    reserved_5_length: *mut c_long,
    reserved_5: *mut c_uchar,
    output_kek_key_identifier_length: *mut c_long,
    output_kek_key_identifier: *mut c_uchar,
    output_key_identifier_length: *mut c_long,
    output_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDEDH", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let mut params = vec![
                    bytes(private_key_identifier_length, private_key_identifier)?,
                    opt_bytes(
                        private_kek_key_identifier_length,
                        private_kek_key_identifier,
                    )?,
                    bytes(public_key_identifier_length, public_key_identifier)?,
                    opt_bytes(chaining_vector_length, chaining_vector)?,
                    opt_bytes(party_info_length, party_info)?,
                    ffi::read_int(key_bit_length)?,
                    opt_bytes(reserved_1_length, reserved_1)?,
                    opt_bytes(reserved_2_length, reserved_2)?,
                    opt_bytes(reserved_3_length, reserved_3)?,
                    opt_bytes(reserved_4_length, reserved_4)?,
                    opt_bytes(reserved_5_length, reserved_5)?,
                    opt_bytes(output_kek_key_identifier_length, output_kek_key_identifier)?,
                ];
                let (cap, out) = sized_output(output_key_identifier_length, output_key_identifier)?;
                let Param::Int(n) = cap else {
                    return Err(ffi::BAD_LENGTH);
                };
                let input = ffi::read_fixed(
                    output_key_identifier,
                    usize::try_from(n).unwrap_or(0).min(IDENTIFIER_INPUT_MAX),
                )?;
                params.push(Param::Bytes(input));
                params.push(cap);
                Ok((rules, params, vec![out]))
            })
        })
    }
}

/// The most of CSNDEDH's output buffer read as its input token (a variable-length skeleton
/// is at most 725 bytes; opencryptoki passes larger buffers).
const IDENTIFIER_INPUT_MAX: usize = 725;

/// Symmetric_Key_Export: `rsa_enciphered_key_length` is the capacity on entry, the
/// enciphered key's length on return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDSYX(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    source_key_identifier_length: *mut c_long,
    source_key_identifier: *mut c_uchar,
    rsa_public_key_identifier_len: *mut c_long,
    rsa_public_key_identifier: *mut c_uchar,
    rsa_enciphered_key_length: *mut c_long,
    rsa_enciphered_key: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDSYX", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let source = bytes(source_key_identifier_length, source_key_identifier)?;
                let rsa = bytes(rsa_public_key_identifier_len, rsa_public_key_identifier)?;
                let (cap, out) = sized_output(rsa_enciphered_key_length, rsa_enciphered_key)?;
                Ok((rules, vec![source, rsa, cap], vec![out]))
            })
        })
    }
}

/// Symmetric_Key_Import: `target_key_identifier` is In/Output (a null token or an internal
/// token of the algorithm on entry, the imported key's 64-byte token on return).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDSYI(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    rsa_enciphered_key_length: *mut c_long,
    rsa_enciphered_key: *mut c_uchar,
    rsa_private_key_identifier_len: *mut c_long,
    rsa_private_key_identifier: *mut c_uchar,
    target_key_identifier_length: *mut c_long,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDSYI", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let enciphered = bytes(rsa_enciphered_key_length, rsa_enciphered_key)?;
                let key = bytes(rsa_private_key_identifier_len, rsa_private_key_identifier)?;
                let (target, out) =
                    in_out_token(target_key_identifier_length, target_key_identifier)?;
                Ok((rules, vec![enciphered, key, target], vec![out]))
            })
        })
    }
}

/// Symmetric_Key_Generate: `key_encrypting_key` is read at 64 bytes (NULL: none, the local
/// key goes under the master key); `locenc_key` is In/Output as CSNDSYI's target;
/// `rsaenc_key_length` is the capacity on entry, the enciphered key's length on return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDSYG(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_encrypting_key: *mut c_uchar,
    rsapub_key_length: *mut c_long,
    rsapub_key: *mut c_uchar,
    locenc_key_length: *mut c_long,
    locenc_key: *mut c_uchar,
    rsaenc_key_length: *mut c_long,
    rsaenc_key: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDSYG", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let kek = opt_identifier(key_encrypting_key)?;
                let rsa = bytes(rsapub_key_length, rsapub_key)?;
                let (local, local_out) = in_out_token(locenc_key_length, locenc_key)?;
                let (cap, out) = sized_output(rsaenc_key_length, rsaenc_key)?;
                Ok((rules, vec![kek, rsa, local, cap], vec![local_out, out]))
            })
        })
    }
}

/// Symmetric_Key_Import2: marshalled as the module documentation says; the card does not
/// implement it yet (8/2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDSYI2(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    enciphered_key_length: *mut c_long,
    enciphered_key: *mut c_uchar,
    transport_key_length: *mut c_long,
    transport_key: *mut c_uchar,
    key_name_len: *mut c_long,
    key_name: *mut c_uchar,
    target_key_identifier_length: *mut c_long,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDSYI2", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let enciphered = bytes(enciphered_key_length, enciphered_key)?;
                let transport = bytes(transport_key_length, transport_key)?;
                let name = opt_bytes(key_name_len, key_name)?;
                let (target, out) =
                    in_out_token(target_key_identifier_length, target_key_identifier)?;
                let Dest::Var { cap, .. } = out else {
                    return Err(ffi::BAD_LENGTH);
                };
                let cap = Param::Int(i32::try_from(cap).unwrap_or(i32::MAX));
                Ok((
                    rules,
                    vec![enciphered, transport, name, target, cap],
                    vec![out],
                ))
            })
        })
    }
}

/// Retained_Key_List: `key_label_mask` is read at 64 bytes; `key_labels_count` is, on entry,
/// how many 64-byte labels `key_labels` holds, and on return how many were written;
/// `retained_keys_count` receives how many retained keys match.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDRKL(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label_mask: *mut c_uchar,
    retained_keys_count: *mut c_long,
    key_labels_count: *mut c_long,
    key_labels: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDRKL", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let mask = identifier(key_label_mask)?;
                let count = ffi::read_capacity(key_labels_count)?;
                if retained_keys_count.is_null() {
                    return Err(ffi::BAD_LENGTH);
                }
                let n = count.checked_mul(IDENTIFIER).ok_or(ffi::BAD_LENGTH)?;
                let count = Param::Int(i32::try_from(count).unwrap_or(i32::MAX));
                Ok((
                    rules,
                    vec![mask, count],
                    vec![
                        Dest::Long(retained_keys_count),
                        Dest::Long(key_labels_count),
                        Dest::Fixed { buf: key_labels, n },
                    ],
                ))
            })
        })
    }
}

/// Retained_Key_Delete: `key_label` is read at 64 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDRKD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNDPKB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNDRKD", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let label = identifier(key_label)?;
                Ok((rules, vec![label], vec![]))
            })
        })
    }
}

crate::not_supported! {
    CSNDPKH(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, public_key_name: *mut c_uchar, hash_data_length: *mut c_long, hash_data: *mut c_uchar);
    CSNDPKR(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, public_key_name: *mut c_uchar, public_key_certificate_length: *mut c_long, public_key_certificate: *mut c_uchar);
    CSNDRKX(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, trusted_block_length: *mut c_long, trusted_block_identifier: *mut c_uchar, certificate_length: *mut c_long, certificate: *mut c_uchar, certificate_parms_length: *mut c_long, certificate_parms: *mut c_uchar, transport_key_length: *mut c_long, transport_key_identifier: *mut c_uchar, rule_id_length: *mut c_long, rule_id: *mut c_uchar, export_key_kek_length: *mut c_long, export_key_kek_identifier: *mut c_uchar, export_key_length: *mut c_long, export_key_identifier: *mut c_uchar, asym_encrypted_key_length: *mut c_long, asym_encrypted_key: *mut c_uchar, sym_encrypted_key_length: *mut c_long, sym_encrypted_key: *mut c_uchar, extra_data_length: *mut c_long, extra_data: *mut c_uchar, key_check_parameters_length: *mut c_long, key_check_parameters: *mut c_uchar, key_check_length: *mut c_long, key_check_value: *mut c_uchar);
    CSNDSBC(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, block_contents_identifier: *mut c_uchar, xdata_string_length: *mut c_long, xdata_string: *mut c_uchar, data_to_encrypt_length: *mut c_long, data_to_encrypt: *mut c_uchar, data_to_hash_length: *mut c_long, data_to_hash: *mut c_uchar, initialization_vector: *mut c_uchar, rsapublic_key_identifier_length: *mut c_long, rsapublic_key_identifier: *mut c_uchar, deskey_block_length: *mut c_long, deskey_block: *mut c_uchar, rsaoaepblock_length: *mut c_long, rsaoaepblock: *mut c_uchar, chaining_vector: *mut c_uchar, desencrypted_data_block: *mut c_uchar);
    CSNDSBD(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, rsaoaepblock_length: *mut c_long, rsaoaepblock: *mut c_uchar, desencrypted_data_block_length: *mut c_long, desencrypted_data_block: *mut c_uchar, initialization_vector: *mut c_uchar, rsaprivate_key_identifier_length: *mut c_long, rsaprivate_key_identifier: *mut c_uchar, deskey_block_length: *mut c_long, deskey_block: *mut c_uchar, block_contents_identifier: *mut c_uchar, xdata_string_length: *mut c_long, xdata_string: *mut c_uchar, chaining_vector: *mut c_uchar, data_block: *mut c_uchar, hash_block_length: *mut c_long, hash_block: *mut c_uchar);
    CSNDTBC(return_code: *mut c_long, reason_code: *mut c_long, exit_data_length: *mut c_long, exit_data: *mut c_uchar, rule_array_count: *mut c_long, rule_array: *mut c_uchar, input_block_length: *mut c_long, input_block_identifier: *mut c_uchar, transport_key_identifier: *mut c_uchar, trusted_blokc_length: *mut c_long, trusted_blokc_identifier: *mut c_uchar);
}
