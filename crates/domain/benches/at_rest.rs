//! What sealing the uploads at rest costs per byte: SM4-GCM (issue 13, item 6) and SM3 (every stored file is named
//! by its digest) over one 500 KB scan, the size the load generator's submission uploads three of. The anchor is
//! `openssl speed -evp sm4-ctr` / `-evp sm3` in the same run (`crates/domain/benches/run.sh`): OpenSSL 3.0 has no
//! SM4-GCM, so its CTR mode (the bulk of GCM, without GHASH) is the floor a C implementation gives.
//!
//! `cargo bench -p sealdesk-domain --bench at_rest`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sealdesk_domain::at_rest::{sm4_gcm_open, sm4_gcm_seal};
use sm3::{Digest, Sm3};
use std::hint::black_box;

const SCAN: usize = 500 * 1024;

fn at_rest(c: &mut Criterion) {
    // Not all zeroes, so no layer can shortcut it; the content does not change the cipher's cost.
    let plain: Vec<u8> = (0..SCAN).map(|i| (i * 31 % 251) as u8).collect();
    let key = [7u8; 16];
    let nonce = [9u8; 12];
    let aad = b"uploads/123/id_front";
    let sealed = sm4_gcm_seal(&key, &nonce, aad, &plain);

    let mut g = c.benchmark_group("at_rest");
    g.throughput(Throughput::Bytes(SCAN as u64));
    g.bench_function("sm4_gcm_seal_500k", |b| {
        b.iter(|| sm4_gcm_seal(&key, &nonce, aad, black_box(&plain)))
    });
    g.bench_function("sm4_gcm_open_500k", |b| {
        b.iter(|| sm4_gcm_open(&key, &nonce, aad, black_box(&sealed)))
    });
    g.bench_function("sm3_500k", |b| b.iter(|| Sm3::digest(black_box(&plain))));
    g.finish();
}

criterion_group!(benches, at_rest);
criterion_main!(benches);
