//! Access_Control_Maintenance (CSUAACM): lists and reads the card's roles (and user
//! profiles, of which there are none yet).
//!
//! IBM Docs "CCA for Linux", "Access Control Maintenance (CSUAACM)" (lxcc/wskc_r_acm.html)
//! and "CSUAACM parameters" (linux-on-systems topic csuaacm-parameters); IBM 4758 CCA Basic
//! Services Reference 2.54, "Access_Control_Maintenance" (pp. 2-24–2-28: the keywords
//! LSTPROFS, LSTROLES, GET-PROF, GET-ROLE, DEL-PROF, DEL-ROLE, Q-NUM-RP, Q-NUM-UR, LSTUSERS
//! and the contents of output_data for each) and appendix A (reason codes 8/772, 8/773).
//! The roles themselves are in [`crate::access`].
//!
//! Parameter blocks:
//! - CSUAACM: rule array exactly 1 (else 8/35); params `[Bytes name, Int output_data_length]`
//!   → outputs `[Bytes output_data]` (the C library copies it and sets output_data_length to
//!   its length). `name` is the 8-byte role or profile ID for GET-ROLE, GET-PROF, DEL-ROLE
//!   and DEL-PROF (another length is 8/72); IBM leaves it unused for the other keywords and
//!   softcca ignores it there.
//!
//! What each keyword returns (integers big-endian, as IBM says of this verb):
//! - LSTROLES: the 8-byte IDs of the roles, one after the other (a fresh card: `DEFAULT `).
//! - GET-ROLE: the non-secret part of the role — version, comment, authentication strength,
//!   lower and upper time, days, ACP list ([`crate::access::Role::get_role_data`]). An
//!   unknown ID (including one that starts with a space, which IBM says no role ID does) is
//!   8/772 "The requested role was not found".
//! - LSTPROFS, LSTUSERS: the 8-byte IDs of the profiles / logged-on users: none yet, so the
//!   output is empty.
//! - GET-PROF: 8/773 "The requested profile was not found" for every name (no profiles).
//! - Q-NUM-RP: two 4-byte integers, the number of roles and of profiles (1, 0 on a fresh
//!   card; IBM counts roles "loaded with Access_Control_Initialization" — softcca counts the
//!   DEFAULT role, which is in the table like any other, a softcca choice).
//! - Q-NUM-UR: one 4-byte integer, the number of users logged on: 0.
//! - DEL-PROF: 8/773 (there is no profile to delete). DEL-ROLE of an unknown role: 8/772; of
//!   a role the card holds: 8/2 until the access-control work makes the table changeable.
//!
//! Lengths: IBM requires output_data_length to be a multiple of four; one that is not, a
//! negative one, or one smaller than the output is 8/72 and nothing is returned (IBM is
//! silent on the code; 8/72 is CCA's "verb data or its length" code, as CSUACFQ uses it).
//! Access-control point X'0116' (Read Public Access-Control Information), which IBM
//! requires for the query keywords, is enabled in the DEFAULT role; softcca does not check
//! ACPs yet.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::rules::{self, Element, Grammar, Group};
use crate::verbs::{Params, Reply};

const GRAMMAR: Grammar = Grammar {
    min: 1,
    max: 1,
    groups: &[Group::required(&[
        "LSTROLES", "GET-ROLE", "LSTPROFS", "GET-PROF", "DEL-ROLE", "DEL-PROF", "Q-NUM-RP",
        "Q-NUM-UR", "LSTUSERS",
    ])],
};

pub(crate) fn csuaacm(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&GRAMMAR, rule_array)?;
    p.expect_len(2)?;
    let name = p.bytes(0)?;
    let capacity = usize::try_from(p.int(1)?).map_err(|_| Failure::Length)?;
    if capacity % 4 != 0 {
        return Err(Failure::Length);
    }
    let keyword = chosen.get(0).ok_or(Failure::Keyword)?;
    let named = || -> Result<&[u8], Failure> {
        if name.len() == 8 {
            Ok(name)
        } else {
            Err(Failure::Length)
        }
    };
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    let data: Vec<u8> = match keyword {
        "LSTROLES" => card.with_roles(|t| t.roles().iter().flat_map(|r| r.id).collect()),
        "GET-ROLE" => {
            let id = named()?;
            card.with_roles(|t| t.get(id).map(|r| r.get_role_data()))
                .ok_or(Failure::RoleNotFound)?
        }
        "LSTPROFS" | "LSTUSERS" => Vec::new(),
        "GET-PROF" | "DEL-PROF" => {
            named()?;
            return Err(Failure::ProfileNotFound);
        }
        "DEL-ROLE" => {
            let id = named()?;
            return Err(if card.with_roles(|t| t.get(id).is_some()) {
                Failure::NotSupported
            } else {
                Failure::RoleNotFound
            });
        }
        "Q-NUM-RP" => {
            let roles = card.with_roles(|t| t.roles().len());
            [count(roles), count(0)].concat()
        }
        "Q-NUM-UR" => count(0).to_vec(),
        _ => return Err(Failure::Keyword),
    };
    if data.len() > capacity {
        return Err(Failure::Length);
    }
    Ok(Reply::outputs(vec![Param::Bytes(data)]))
}
