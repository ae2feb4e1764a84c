//! Throughput of parse + verify of a 20 KB seal, and of making one, on one core. Compare with
//! `openssl speed -seconds 3 sm2` measured in the same run (`benches/run.sh` does both).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sealdesk_ses::{CertList, Picture, SealRequest, VerifyOptions, make_seal, verify_seal};
use sm2::pkcs8::DecodePrivateKey;

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default()
}

/// A seal of about 20 KB: the picture is padded to fill it.
fn request() -> SealRequest {
    let mut png = include_bytes!("../tests/data/seal.png").to_vec();
    png.resize(18_600, 0);
    SealRequest {
        es_id: "31010000000001".into(),
        seal_type: 1,
        name: "某某科技有限公司合同专用章".into(),
        cert_list: CertList::Certs(vec![pem_der(include_str!("../tests/data/signer.pem"))]),
        create_date: 1_798_761_600,
        valid_start: 1_798_761_600,
        valid_end: 1_861_833_600,
        picture: Picture {
            kind: "PNG".into(),
            data: png,
            width_mm: 40,
            height_mm: 40,
        },
        vid: "SealDesk".into(),
        ext_datas: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let maker = pem_der(include_str!("../tests/data/maker.pem"));
    let ca = pem_der(include_str!("../tests/data/ca.pem"));
    let secret = sm2::SecretKey::from_pkcs8_pem(include_str!("../tests/data/maker.key"))
        .expect("fixture key");
    let key = sm2::dsa::SigningKey::new(sealdesk_ses::DIST_ID, &secret).expect("fixture key");
    let req = request();
    let seal = make_seal(&req, &maker, &key).expect("make");
    assert!(
        (19_000..21_000).contains(&seal.len()),
        "seal is {} bytes",
        seal.len()
    );

    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Elements(1));
    let no_chain = VerifyOptions {
        trust: Vec::new(),
        at: 1_800_000_000,
        check_chain: false,
    };
    g.bench_function("parse_verify_20k", |b| {
        b.iter(|| {
            let r = verify_seal(std::hint::black_box(&seal), &no_chain);
            assert!(r.valid);
        })
    });
    let chain = VerifyOptions {
        trust: vec![ca.clone()],
        at: 1_800_000_000,
        check_chain: true,
    };
    g.bench_function("parse_verify_chain_20k", |b| {
        b.iter(|| {
            let r = verify_seal(std::hint::black_box(&seal), &chain);
            assert!(r.valid);
        })
    });
    g.bench_function("make_20k", |b| {
        b.iter(|| make_seal(std::hint::black_box(&req), &maker, &key).expect("make"))
    });
    // The bare SM2 signature through the RustCrypto `sm2` crate (RFC 6979), on a short message as `openssl speed
    // sm2` signs: the rate to compare with OpenSSL's sign/s.
    g.bench_function("sm2_sign_crate", |b| {
        use sm2::dsa::signature::Signer;
        b.iter(|| {
            let s: sm2::dsa::Signature =
                key.sign(std::hint::black_box(b"0123456789abcdef0123456789abcdef"));
            s
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
