//! Fuzzes the signature pad's JSON and its drawing: any bytes must give a picture or an error,
//! never a panic. `cargo +nightly fuzz run signature` in this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk_artwork::{SignatureOptions, SignaturePad, render_signature};

fuzz_target!(|data: &[u8]| {
    if let Ok(pad) = SignaturePad::from_json(data) {
        let _ = render_signature(&pad, &SignatureOptions::default());
    }
});
