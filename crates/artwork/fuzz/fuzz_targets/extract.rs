//! Fuzzes `extract` with arbitrary bytes: it must return, never panic, whatever the file claims
//! to be (JPEG, PNG, PDF or nothing). Run with `cargo +nightly fuzz run extract` in this folder;
//! seed the corpus with `../tests/forms/*.jpg`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk_artwork::{ExtractOptions, extract};

fuzz_target!(|data: &[u8]| {
    let _ = extract(data, &ExtractOptions::default());
});
