//! Fuzz target: OFD package reading and verification (zip + XML + SES) must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk_ses::{VerifyOptions, verify_ofd};

fuzz_target!(|data: &[u8]| {
    let opts = VerifyOptions { trust: Vec::new(), at: 1_600_000_000, check_chain: false };
    let _ = verify_ofd(data, &opts);
});
