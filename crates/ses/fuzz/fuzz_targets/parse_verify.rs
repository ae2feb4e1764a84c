//! Fuzz target: the seal/signature parser, the full verifier and the certificate reader must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk_ses::{Parsed, VerifyOptions, parse, parse_certificate, verify_seal};

fuzz_target!(|data: &[u8]| {
    // A fixed time inside most vectors' validity, and the input itself offered as a trust anchor so that the
    // chain code runs too.
    let opts = VerifyOptions { trust: vec![data.to_vec()], at: 1_600_000_000, check_chain: true };
    let report = verify_seal(data, &opts);
    let _ = report.exit_code();
    if let Ok(p) = parse(data) {
        let seal = match &p {
            Parsed::Seal(s) => s,
            Parsed::Signature(s) => &s.seal,
        };
        let _ = parse_certificate(&seal.maker_cert);
    }
    let _ = parse_certificate(data);
});
