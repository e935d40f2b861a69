//! The card's side of the bus: one decoded request in, one response body out. The daemon
//! and the embedded host both answer through [`Card::handle`], so both run the same code.

use softcca_wire::{
    self as wire, AdminResult, AttestResponse, PingResponse, RequestBody, ResponseBody, Status,
};

use crate::card::Card;
use crate::sensors::Sensor;

/// The software string the card reports in its ping response.
pub const SOFTWARE: &str = concat!("softcca ", env!("CARGO_PKG_VERSION"));

impl Card {
    /// Answers one request of the bus.
    pub fn handle(&self, request: RequestBody) -> ResponseBody {
        let card = self;
        match request {
            RequestBody::Ping(p) => {
                if p.min_version > wire::PROTOCOL_VERSION || p.max_version < wire::PROTOCOL_VERSION
                {
                    ResponseBody::Error {
                        status: Status::UnsupportedVersion,
                        detail: format!("this card speaks protocol {}", wire::PROTOCOL_VERSION),
                    }
                } else {
                    ResponseBody::Ping(PingResponse {
                        min_version: wire::PROTOCOL_VERSION,
                        max_version: wire::PROTOCOL_VERSION,
                        card_model: card.identity().model.number(),
                        software: SOFTWARE.to_string(),
                        echo: p.echo,
                    })
                }
            }
            RequestBody::Verb(v) => ResponseBody::Verb(card.execute(&v)),
            RequestBody::DeviceStatus => ResponseBody::DeviceStatus(card.device_status()),
            RequestBody::Reset => {
                let driver_status = card.reset();
                ResponseBody::Admin(AdminResult {
                    driver_status,
                    message: "the card was reset and ran its power-on self-test".into(),
                })
            }
            RequestBody::Load(load) => ResponseBody::Admin(match card.load(&load.image) {
                Ok(message) => AdminResult {
                    driver_status: card.driver_status(),
                    message,
                },
                Err(refused) => AdminResult {
                    driver_status: refused.code,
                    message: refused.message,
                },
            }),
            RequestBody::Sense(sense) => match Sensor::from_code(sense.sensor) {
                Some(sensor) => {
                    let (driver_status, message) = card.sense(sensor);
                    ResponseBody::Admin(AdminResult {
                        driver_status,
                        message,
                    })
                }
                None => ResponseBody::Error {
                    status: Status::BadFrame,
                    detail: format!("no sensor {}", sense.sensor),
                },
            },
            RequestBody::Attest(attest) => match card.attest(&attest.nonce) {
                Ok(a) => ResponseBody::Attest(AttestResponse {
                    class_certificate: a.class_certificate,
                    device_certificate: a.device_certificate,
                    signed_status: a.signed_status,
                }),
                Err(e) => ResponseBody::Error {
                    status: Status::CardUnavailable,
                    detail: e.to_string(),
                },
            },
        }
    }
}
