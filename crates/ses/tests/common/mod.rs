//! Shared fixtures for the integration tests: throw-away SM2 keys and certificates made with OpenSSL
//! (`tests/data/`, a test root CA issuing a maker and a signer certificate) and a ready seal request.
#![allow(dead_code)]

use base64::Engine;
use sealdesk_ses::{CertList, Picture, SealRequest, VerifyOptions};

pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// DER of the first certificate in a PEM file.
pub fn cert(name: &str) -> Vec<u8> {
    let text = String::from_utf8(data(name)).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

pub fn key(name: &str) -> sm2::dsa::SigningKey {
    use sm2::pkcs8::DecodePrivateKey;
    let secret = sm2::SecretKey::from_pkcs8_pem(&String::from_utf8(data(name)).unwrap()).unwrap();
    sm2::dsa::SigningKey::new(sealdesk_ses::DIST_ID, &secret).unwrap()
}

pub const T0: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z, inside the fixtures' validity

pub fn request() -> SealRequest {
    SealRequest {
        es_id: "31010000000001".into(),
        seal_type: 1,
        name: "某某科技有限公司合同专用章".into(),
        cert_list: CertList::Certs(vec![cert("signer.pem")]),
        create_date: T0,
        valid_start: T0,
        valid_end: T0 + 2 * 365 * 86_400,
        picture: Picture {
            kind: "PNG".into(),
            data: data("seal.png"),
            width_mm: 40,
            height_mm: 40,
        },
        vid: "SealDesk".into(),
        ext_datas: Vec::new(),
    }
}

pub fn made_seal() -> Vec<u8> {
    sealdesk_ses::make_seal(&request(), &cert("maker.pem"), &key("maker.key")).unwrap()
}

pub fn trusted(at: i64) -> VerifyOptions {
    VerifyOptions {
        trust: vec![cert("ca.pem")],
        at,
        check_chain: true,
    }
}
